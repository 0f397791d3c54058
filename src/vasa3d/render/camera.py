"""Cameras and the one coordinate convention of the project.

World frame: the head's canonical frame, in metres, origin at the head's
centre; +x points to the subject's left, +y up, +z out of the face toward
the viewer.  A camera looking at the face from the front therefore sits on
the +z axis.

Camera frame: OpenCV; x right, y down, z forward (into the scene).  Pixel
(u, v) = (fx * x / z + cx, fy * y / z + cy), with pixel centres at integer
coordinates + 0.5 (the image's top-left corner is (0, 0)).

Every module converts through :class:`Camera`; nothing builds these
matrices by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Camera:
    """A pinhole camera, or a batch of ``B`` of them sharing one image size.

    Attributes:
        K: intrinsics, ``(3, 3)`` or ``(B, 3, 3)``.
        world_to_cam: rigid world-to-camera transform, ``(4, 4)`` or ``(B, 4, 4)``.
        width: image width in pixels.
        height: image height in pixels.
    """

    K: Tensor
    world_to_cam: Tensor
    width: int
    height: int

    # ------------------------------------------------------------ builders
    @staticmethod
    def intrinsics(width: int, height: int, fov_deg: float) -> Tensor:
        """``(3, 3)`` intrinsics with a vertical field of view ``fov_deg``."""
        f = 0.5 * height / math.tan(math.radians(fov_deg) / 2)
        return torch.tensor(
            [[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]],
            dtype=torch.float32,
        )

    @classmethod
    def look_at(
        cls,
        eye,
        target=(0.0, 0.0, 0.0),
        up=(0.0, 1.0, 0.0),
        width: int = 512,
        height: int = 512,
        fov_deg: float = 14.0,
        K: Tensor | None = None,
    ) -> "Camera":
        """A camera at ``eye`` looking at ``target`` with world ``up`` on screen up."""
        eye_t = torch.as_tensor(eye, dtype=torch.float32)
        target_t = torch.as_tensor(target, dtype=torch.float32)
        up_t = torch.as_tensor(up, dtype=torch.float32)
        z = target_t - eye_t
        z = z / z.norm()
        x = torch.linalg.cross(z, up_t)  # screen-right for an OpenCV camera
        if x.norm() < 1e-8:  # looking straight along up: pick any right vector
            x = torch.linalg.cross(z, torch.tensor([0.0, 0.0, 1.0]))
        x = x / x.norm()
        y = torch.linalg.cross(z, x)
        R = torch.stack([x, y, z])  # rows: camera axes in world coordinates
        w2c = torch.eye(4)
        w2c[:3, :3] = R
        w2c[:3, 3] = -R @ eye_t
        if K is None:
            K = cls.intrinsics(width, height, fov_deg)
        return cls(K=K, world_to_cam=w2c, width=width, height=height)

    @classmethod
    def orbit(
        cls,
        yaw_deg: float = 0.0,
        pitch_deg: float = 0.0,
        distance: float = 1.0,
        target=(0.0, 0.0, 0.0),
        width: int = 512,
        height: int = 512,
        fov_deg: float = 14.0,
        K: Tensor | None = None,
    ) -> "Camera":
        """A camera on a sphere around ``target``.

        ``yaw_deg`` > 0 moves the camera toward the subject's left (+x), so the
        subject appears turned to their right; ``pitch_deg`` > 0 moves it up.
        ``yaw = pitch = 0`` is the front view, on the +z axis.
        """
        yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
        offset = torch.tensor(
            [
                math.sin(yaw) * math.cos(pitch),
                math.sin(pitch),
                math.cos(yaw) * math.cos(pitch),
            ]
        )
        eye = torch.as_tensor(target, dtype=torch.float32) + distance * offset
        return cls.look_at(eye, target, (0.0, 1.0, 0.0), width, height, fov_deg, K)

    @classmethod
    def stack(cls, cameras: list["Camera"]) -> "Camera":
        """One batched camera from several single ones of the same size."""
        if not cameras:
            raise ValueError("Camera.stack needs at least one camera")
        w, h = cameras[0].width, cameras[0].height
        if any(c.width != w or c.height != h for c in cameras):
            raise ValueError("all cameras in a batch must share one image size")
        return cls(
            K=torch.stack([c.K.reshape(3, 3) for c in cameras]),
            world_to_cam=torch.stack([c.world_to_cam.reshape(4, 4) for c in cameras]),
            width=w,
            height=h,
        )

    # ------------------------------------------------------------ queries
    @property
    def batched(self) -> "Camera":
        """The same camera(s) with a leading batch axis: K ``(B,3,3)``, w2c ``(B,4,4)``."""
        return Camera(self.K.reshape(-1, 3, 3), self.world_to_cam.reshape(-1, 4, 4), self.width, self.height)

    def __len__(self) -> int:
        return self.K.reshape(-1, 3, 3).shape[0]

    def __getitem__(self, i: int) -> "Camera":
        b = self.batched
        return Camera(b.K[i], b.world_to_cam[i], self.width, self.height)

    def to(self, device) -> "Camera":
        return Camera(self.K.to(device), self.world_to_cam.to(device), self.width, self.height)

    @property
    def position(self) -> Tensor:
        """Camera centre(s) in world coordinates, ``(3,)`` or ``(B, 3)``."""
        R = self.world_to_cam[..., :3, :3]
        t = self.world_to_cam[..., :3, 3:]
        return (-R.transpose(-1, -2) @ t)[..., 0]

    def world_to_camera(self, points: Tensor) -> Tensor:
        """Points ``(..., N, 3)`` in world to camera coordinates ``(..., N, 3)``.

        With a batched camera, ``points`` broadcast against the batch axis.
        """
        R = self.world_to_cam[..., :3, :3]
        t = self.world_to_cam[..., :3, 3]
        return points @ R.transpose(-1, -2) + t.unsqueeze(-2)

    def project(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """Project world points ``(..., N, 3)``: pixels ``(..., N, 2)`` and depth ``(..., N)``."""
        pc = self.world_to_camera(points)
        z = pc[..., 2]
        zs = torch.where(z.abs() < 1e-9, torch.full_like(z, 1e-9), z)
        K = self.K
        u = K[..., 0, 0, None] * pc[..., 0] / zs + K[..., 0, 2, None]
        v = K[..., 1, 1, None] * pc[..., 1] / zs + K[..., 1, 2, None]
        return torch.stack([u, v], dim=-1), z
