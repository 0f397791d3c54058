"""Fitting a head to one portrait's landmarks, and the latent -> parameter map."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
from torch import Tensor

from vasa3d.face import landmarks as L
from vasa3d.head.lbs import axis_angle_to_matrix
from vasa3d.head.model import HeadModel
from vasa3d.head.params import HeadParams
from vasa3d.head.threads import single_thread
from vasa3d.render.camera import Camera


@dataclass
class FitConfig:
    """Portrait fitting: a weighted landmark reprojection loss plus priors."""

    fov_deg: float = 14.0
    """Prior field of view (degrees, vertical) the focal length is pulled toward."""
    focal_prior: float = 0.05
    """Strength of the focal prior (on the log focal length)."""
    shape_prior: float = 3e-4
    """Strength of the identity prior (coefficients over their prior sigma, squared)."""
    expression_prior: float = 2e-4
    """Strength of the expression prior (squared ARKit weights)."""
    iterations: int = 150
    """L-BFGS iterations of the joint fit."""
    lip_weight: float = 2.0
    """Landmark weight of the lips (they matter most for animation)."""
    eye_weight: float = 2.0
    """Landmark weight of the eyelids and irises."""
    outline_weight: float = 0.5
    """Landmark weight of the face outline (mediapipe places it least reliably)."""
    hair: bool = True
    """Grow the scalp out to the hair's outline in the person mask (a head with hair components only:
    :mod:`vasa3d.head.hair`)."""


@dataclass
class FittedPortrait:
    """A head fitted to a portrait.

    The head stays in its canonical pose (``rotation = translation = 0``); the
    camera holds where the photo was taken from, so rendering ``params``
    through ``camera`` reproduces the portrait.

    Attributes:
        params: :class:`HeadParams` with ``B = 1`` (shape and the portrait's expression).
        camera: the fitted camera at the crop's resolution.
        landmark_error: mean 2D landmark error / inter-ocular distance.
        per_landmark_error: ``(478,)`` pixels.
    """

    params: HeadParams
    camera: Camera
    landmark_error: float
    per_landmark_error: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _lbfgs(params: list, iterations: int, loss_fn) -> None:
    """Minimise ``loss_fn()`` over ``params`` with L-BFGS (strong Wolfe line search, tight tolerances)."""
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    opt.step(closure)


def params_from_latent(z_dyn: Tensor, z_pose: Tensor, shape: Tensor, latent_map: Tensor | None = None) -> HeadParams:
    """The direct mapping from the ``arkit52+pose`` motion latent to head parameters.

    Args:
        z_dyn: ``(B, 52)`` ARKit weights (become the expression of an ARKit head).
        z_pose: ``(B, 7)`` axis-angle rotation, translation, log-scale; the head is scaled by
            ``exp(log-scale)`` about its centre (the motion's ``-log(head_distance)``: nearer is bigger).
        shape: ``(1, S)`` or ``(B, S)`` identity coefficients.
        latent_map: ``(52, E + 9)`` for a head whose expression is not ARKit (FLAME): ``z_dyn @ latent_map``
            gives its expression, jaw and eyes (:func:`vasa3d.head.arkit_map.fit_arkit_map`).
    """
    B = z_dyn.shape[0]
    z = torch.zeros(B, 3, dtype=z_dyn.dtype, device=z_dyn.device)
    scale = torch.exp(z_pose[:, 6:7]) if z_pose.shape[1] > 6 else None
    expression, jaw, eyes = z_dyn, z, torch.zeros(B, 2, 3, dtype=z.dtype, device=z.device)
    if latent_map is not None:
        from vasa3d.head.arkit_map import split_expression

        expression, jaw, eyes = split_expression(z_dyn @ latent_map.to(z_dyn))
    return HeadParams(shape=shape.expand(B, -1), expression=expression, jaw=jaw, eyes=eyes, neck=z.clone(),
                      rotation=z_pose[:, :3], translation=z_pose[:, 3:6], scale=scale)


def latent_from_params(params: HeadParams) -> tuple[np.ndarray, np.ndarray]:
    """The motion latent of one set of head parameters, as :func:`params_from_latent` reads it back: ``(52,)``
    z_dyn (the first 52 expression coefficients: an ARKit head's weights) and ``(7,)`` z_pose (rotation,
    translation, log-scale 0), float32; a fitted portrait's own expression and pose."""
    z_dyn = params.expression.detach().reshape(-1)[:52].cpu().numpy().astype(np.float32)
    rot = params.rotation.detach().reshape(-1).cpu().numpy()
    tr = params.translation.detach().reshape(-1).cpu().numpy()
    return z_dyn, np.concatenate([rot, tr, [0.0]]).astype(np.float32)


def landmark_weights(cfg: FitConfig) -> np.ndarray:
    """``(478,)`` per-landmark weights of the reprojection loss."""
    from vasa3d.head import landmark_sets as LS
    from vasa3d.head.builtin import MEAN_FACE, boundary_loops, lip_sets

    mean_face = np.load(MEAN_FACE)
    mirror = mean_face["mirror"]
    w = np.ones(478)
    up, lo, co = lip_sets()
    w[list(up | lo | co)] = cfg.lip_weight
    eyes = list(LS.EYE_RIGHT_UPPER + LS.EYE_RIGHT_LOWER)
    w[eyes] = cfg.eye_weight
    w[[int(mirror[i]) for i in eyes]] = cfg.eye_weight
    w[468:] = cfg.eye_weight
    w[boundary_loops(mean_face["triangles"])[0]] = cfg.outline_weight
    return w


def camera_from(rvec: Tensor, tvec: Tensor, focal: Tensor, width: int, height: int) -> Camera:
    """A camera from an OpenCV pose (world-to-camera axis-angle and translation) and a focal length."""
    K = torch.zeros(3, 3)
    K[0, 0] = K[1, 1] = focal
    K[0, 2], K[1, 2] = width / 2, height / 2
    K[2, 2] = 1
    w2c = torch.eye(4)
    w2c[:3, :3] = axis_angle_to_matrix(rvec)
    w2c[:3, 3] = tvec
    return Camera(K=K, world_to_cam=w2c, width=width, height=height)


def _project(pts: Tensor, rvec: Tensor, tvec: Tensor, focal: Tensor, c: Tensor) -> Tensor:
    """``(B, N, 3)`` world points to ``(B, N, 2)`` pixels, differentiable in all arguments."""
    Rm = axis_angle_to_matrix(rvec)
    pc = pts @ Rm.transpose(-1, -2) + tvec[..., None, :]
    z = pc[..., 2:3].clamp_min(1e-4)
    return focal[..., None, None] * pc[..., :2] / z + c


def pnp_init(model_pts: np.ndarray, image_pts: np.ndarray, focal: float, width: int,
             height: int) -> tuple[np.ndarray, np.ndarray]:
    """Rigid camera pose (rvec, tvec) from 3D-2D correspondences."""
    K = np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=np.float64)
    ok, rvec, tvec = cv2.solvePnP(model_pts.astype(np.float64), image_pts.astype(np.float64), K, None,
                                  flags=cv2.SOLVEPNP_SQPNP)
    if not ok or tvec[2, 0] <= 0:  # fall back to a camera straight in front
        rvec = np.array([[math.pi], [0.0], [0.0]])
        tvec = np.array([[0.0], [0.0], [focal * 0.14 / (0.5 * width)]])
    return rvec[:, 0], tvec[:, 0]


def fit_portrait(analysis, head: HeadModel, config: FitConfig | None = None) -> FittedPortrait:
    """Fit identity, expression and camera (pose + focal length) to a portrait's landmarks.

    Args:
        analysis: a :class:`vasa3d.face.PortraitAnalysis` (its ``landmarks``, ``image`` size and person
            ``mask``, which the hair shell is fitted to).
        head: the head model; its ``landmark_vertices`` give the correspondences.
        config: :class:`FitConfig`.

    Returns:
        :class:`FittedPortrait` (params with B = 1, canonical pose; the camera carries the pose).
    """
    h, w = analysis.image.shape[:2]
    cfg = config or FitConfig()
    with single_thread():
        fit = fit_landmarks(analysis.landmarks, w, h, head, cfg)
        if cfg.hair and getattr(head, "n_hair", 0):
            from vasa3d.head.hair import fit_hair

            fit = fit_hair(fit, head, analysis.mask)
    return fit


def fit_landmarks(landmarks: np.ndarray, width: int, height: int, head: HeadModel,
                  config: FitConfig | None = None) -> FittedPortrait:
    """:func:`fit_portrait` on bare landmarks ``(478, >=2)`` pixels of a ``width x height`` image."""
    cfg = config or FitConfig()
    size = int(height)
    centre = torch.tensor([width / 2, height / 2])
    target = torch.as_tensor(landmarks[:, :2], dtype=torch.float32)
    iod = L.inter_ocular(landmarks)
    w = torch.as_tensor(landmark_weights(cfg), dtype=torch.float32)
    w = w / w.mean()
    f0 = 0.5 * size / math.tan(math.radians(cfg.fov_deg) / 2)
    neutral = HeadParams.neutral(1, head)
    rest = head.landmarks(neutral)[0].detach().numpy()
    rvec0, tvec0 = pnp_init(rest[:468], landmarks[:468, :2], f0, width, height)

    rvec = torch.tensor(rvec0, dtype=torch.float32, requires_grad=True)
    tvec = torch.tensor(tvec0, dtype=torch.float32, requires_grad=True)
    log_f = torch.tensor(math.log(f0), requires_grad=True)
    beta = torch.zeros(1, head.n_shape, requires_grad=True)
    expr_u = torch.full((1, head.n_expression), -4.0, requires_grad=True)
    prior_sd = head.shape_prior
    variables = [rvec, tvec, log_f, beta, expr_u]

    def params_of() -> HeadParams:
        return neutral.replace(shape=beta, expression=torch.sigmoid(expr_u))

    def loss_fn() -> Tensor:
        p = params_of()
        uv = _project(head.landmarks(p), rvec, tvec, log_f.exp(), centre)[0]
        data = (w * ((uv - target) ** 2).sum(-1)).mean() / iod**2
        prior = (cfg.shape_prior * ((beta / prior_sd) ** 2).sum() + cfg.expression_prior *
                 (p.expression**2).sum() + cfg.focal_prior * (log_f - math.log(f0)) ** 2)
        return data + prior

    # first the camera alone, then everything
    for group, iters in (([rvec, tvec, log_f], 30), (variables, cfg.iterations)):
        _lbfgs(group, iters, loss_fn)

    with torch.no_grad():
        p = params_of().detach()
        f = log_f.exp()
        uv = _project(head.landmarks(p), rvec, tvec, f, centre)[0]
        err = (uv - target).norm(dim=-1).numpy()
        camera = camera_from(rvec.detach(), tvec.detach(), f.detach(), width, height)
    return FittedPortrait(params=p, camera=camera, landmark_error=float(err.mean() / iod), per_landmark_error=err)


def fit_in_camera(landmarks: np.ndarray, head: HeadModel, reference: FittedPortrait, base: HeadParams,
                  config: FitConfig | None = None) -> FittedPortrait:
    """Fit a second head's identity to a portrait's landmarks, in the camera of a first fit.

    The avatar of a plug-in head (FLAME) is trained on frames made with the built-in head, whose
    fit sets the cameras and the world frame; so the camera stays ``reference.camera`` and the
    expression, jaw and eyes stay ``base``'s (the portrait's ARKit expression mapped to this head),
    and only the identity coefficients move: at the portrait's latent the head is then the fitted one.

    Args:
        landmarks: ``(478, >=2)`` pixels in the reference camera's image.
        head: the head to fit.
        reference: the built-in head's :class:`FittedPortrait` (its camera is kept).
        base: ``B = 1`` parameters of ``head`` (expression, jaw, eyes); their shape is ignored.
        config: :class:`FitConfig` (weights, shape prior, iterations).
    """
    cfg = config or FitConfig()
    cam = reference.camera
    target = torch.as_tensor(landmarks[:, :2], dtype=torch.float32)
    iod = L.inter_ocular(landmarks)
    w = torch.as_tensor(landmark_weights(cfg), dtype=torch.float32)
    w = w / w.mean()
    base = base.detach()
    beta = torch.zeros(1, head.n_shape, requires_grad=True)

    def loss_fn() -> Tensor:
        uv = cam.project(head.landmarks(base.replace(shape=beta))[0])[0]
        data = (w * ((uv - target) ** 2).sum(-1)).mean() / iod**2
        return data + cfg.shape_prior * ((beta / head.shape_prior) ** 2).sum()

    with single_thread():
        _lbfgs([beta], cfg.iterations, loss_fn)
        with torch.no_grad():
            p = base.replace(shape=beta.detach().clone())
            err = (cam.project(head.landmarks(p)[0])[0] - target).norm(dim=-1).numpy()
    return FittedPortrait(params=p, camera=cam, landmark_error=float(err.mean() / iod), per_landmark_error=err)
