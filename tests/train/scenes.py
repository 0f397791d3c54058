"""A tiny in-memory frame dataset rendered from a known 'teacher' avatar."""

from __future__ import annotations

import numpy as np
import torch

import fake_head
from vasa3d.animate.dataset import FrameSample
from vasa3d.gaussians import AvatarConfig, GaussianAvatar
from vasa3d.render import rasterize
from vasa3d.render.types import Gaussians


class MemoryDataset:
    def __init__(self, samples: list[FrameSample], n_test: int):
        self.samples = samples
        self.test_indices = np.arange(len(samples) - n_test, len(samples))
        self.train_indices = np.arange(len(samples) - n_test)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def student_and_data(head, size=48, n_frames=12, n_test=3, n_gaussians=1500, yaw=0.0):
    """A student avatar coloured from the red/blue portrait, and frames of a teacher whose colour varies
    smoothly over the head (so the student must learn colour) and whose jaw and pose move."""
    head, fit, analysis = fake_head.portrait_scene(size, head)
    cfg = AvatarConfig(num_gaussians=n_gaussians, hidden=32, seed=0)
    student = GaussianAvatar.from_portrait(head, fit, analysis, cfg)
    teacher = GaussianAvatar.from_portrait(head, fit, analysis, cfg)
    with torch.no_grad():
        g = teacher(torch.zeros(1, 52), torch.zeros(1, 7), vas=False)[0]
        x = g.means / 0.1
        rgb = torch.stack([0.5 + 0.4 * torch.sin(6 * x[:, 0]), 0.5 + 0.4 * torch.cos(5 * x[:, 1]),
                           0.5 + 0.3 * x[:, 2]], -1).clamp(0.05, 0.95)
        teacher.sh[:, :1] = Gaussians.rgb_to_sh0(rgb)
    gen = torch.Generator().manual_seed(5)
    samples = []
    cams = []
    for i in range(n_frames):
        z_dyn = torch.zeros(52)
        z_dyn[24] = float(torch.rand(1, generator=gen))  # jawOpen
        z_pose = torch.zeros(7)
        z_pose[:3] = (torch.rand(3, generator=gen) - 0.5) * 0.2
        cam = fit.camera
        with torch.no_grad():
            gs = teacher(z_dyn[None], z_pose[None])[0]
            out = rasterize(gs, cam, size, size)
        alpha = out.alpha[0].clamp(0, 1)
        straight = (out.color[0] / alpha.clamp_min(1e-6)).clamp(0, 1)  # frames store un-premultiplied colour
        samples.append(FrameSample(straight, alpha, z_dyn, z_pose, cam, i))
        cams.append(cam)
    return student, MemoryDataset(samples, n_test), teacher


def psnr_on(avatar, dataset, indices) -> float:
    errs = []
    with torch.no_grad():
        for i in indices:
            s = dataset[int(i)]
            g = avatar(s.z_dyn[None], s.z_pose[None])[0]
            out = rasterize(g, s.camera, s.camera.width, s.camera.height)
            target = s.image * s.mask
            errs.append(float(((out.color[0] - target) ** 2).mean()))
    return float(-10 * np.log10(np.mean(errs)))


class TeacherAnimator:
    """A portrait animator made of the teacher avatar: ``(z_dyn, z_pose, camera) -> (rgb uint8, mask)``, as the
    :class:`vasa3d.animate.Animator` protocol says (frames un-premultiplied, like the dataset's)."""

    def __init__(self, teacher):
        self.teacher = teacher

    def __call__(self, z_dyn, z_pose, camera):
        with torch.no_grad():
            gs = self.teacher(torch.as_tensor(z_dyn).float()[None], torch.as_tensor(z_pose).float()[None])[0]
            out = rasterize(gs, camera, camera.width, camera.height)
        alpha = out.alpha[0].clamp(0, 1)
        straight = (out.color[0] / alpha.clamp_min(1e-6)).clamp(0, 1)
        return (straight.numpy() * 255).round().astype(np.uint8), alpha[..., 0].numpy()

    def describe(self):
        return {"animator": "teacher", "gaussians": int(self.teacher.n_gaussians)}

    def __setstate__(self, state):
        """In a spawned worker process: answer with the fake head, as the test's monkeypatch does here."""
        import vasa3d.head as head_mod

        for name in ("HeadParams", "params_from_latent", "build_head", "REGIONS"):
            setattr(head_mod, name, getattr(fake_head, name))
        self.__dict__.update(state)


def fresh_stream(teacher, camera, seed=0, workers=0):
    """Fresh frames of random motion from the teacher (small clips, so a short test spans several)."""
    from vasa3d.animate.fresh import FreshFrames

    return FreshFrames(TeacherAnimator(teacher), camera, seed=seed, motion="random", workers=workers,
                       clip_frames=8, window_clips=3)
