"""The VASA-3D avatar: Gaussians bound to a head mesh, driven by the motion latent (paper, 3.1).

Two deformations act on the Gaussians:

* base deformation: ``M^e: z_dyn -> (expression, jaw, eyes)`` and
  ``M^p: z_pose -> (neck, rotation, translation)`` pose the head mesh, and the
  Gaussians follow their parent triangles (:mod:`.binding`).  Each MLP is a
  zero-initialised residual over the head's direct mapping
  (:func:`vasa3d.head.params_from_latent`) when the latent schema has one, so
  training starts from a correctly posed head; otherwise it is the mapping.
  For a head whose expression is not ARKit (FLAME) the direct mapping goes
  through ``latent_map``, a fitted linear map from the 52 ARKit weights to
  ``(psi, jaw, eyes)`` (:mod:`vasa3d.head.arkit_map`), kept in the avatar file.
* VAS deformation: ``D^e`` (face-region Gaussians; input: positional encoding
  of the canonical position, ``z_dyn`` and the expression parameters) and
  ``D^p`` (neck region; encoding, ``z_pose`` and the pose parameters) predict
  residuals of position, rotation, scale, colour and opacity, applied in the
  triangle's local frame.

``G'`` is the base-deformed set, ``G''`` the set with VAS residuals added.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from vasa3d.render.camera import Camera
from vasa3d.render.types import Gaussians

from .binding import TriangleFrames, bind, triangle_frames, unbind
from .mlp import MLP, ConditionedMLP, positional_encoding
from .seeding import allocate, project_colours, sample_on_triangles

DEFAULT_DYN_DIM = 52
DEFAULT_POSE_DIM = 7
#: width of one VAS residual: position (3), rotation (4), log scale (3), colour (3), opacity (1)
RESIDUAL_DIM = 14


@dataclass
class AvatarConfig:
    """How an avatar is built; the paper's architecture by default."""

    num_gaussians: int = 20000
    """Gaussians created on the fitted mesh (densification may add more)."""
    face_density: float = 3.0
    """Gaussians per unit area on the face regions relative to the rest of the head."""
    sh_degree: int = 0
    """Spherical-harmonic degree of the colours (0: view-independent)."""
    init_opacity: float = 0.9
    hidden: int = 256
    """Hidden units of M^e, M^p, D^e, D^p (paper: 256)."""
    layers: int = 3
    """Fully connected layers of each MLP (paper: 3)."""
    pe_freqs: int = 4
    """Frequencies L of the positional encoding of Gaussian positions (paper: 4)."""
    pe_extent: float = 0.15
    """Positions are divided by this many metres before the encoding (head radius scale)."""
    base_mlps: bool = True
    """Learn M^e and M^p; off: the head's direct mapping only."""
    vas: bool = True
    """Build D^e and D^p (VAS deformation)."""
    face_regions: tuple[str, ...] = ("face", "lips", "eyes", "eyeballs", "mouth_interior")
    """Head regions whose Gaussians D^e deforms (the paper's Omega_face)."""
    neck_regions: tuple[str, ...] = ("neck",)
    """Head regions whose Gaussians D^p deforms (the paper's Omega_neck)."""
    seed: int = 0

    @classmethod
    def preset(cls, name: str) -> "AvatarConfig":
        """The avatar size that goes with a training preset (see :meth:`vasa3d.train.TrainConfig.preset`)."""
        counts = {"demo": 10_000, "cpu-quick": 20_000, "gpu": 60_000, "paper": 60_000}
        if name not in counts:
            from vasa3d.errors import InputError

            raise InputError(f"unknown preset {name!r}; use one of {', '.join(counts)}")
        return cls(num_gaussians=counts[name])


def _camera_to_json(camera: Camera) -> dict:
    return {
        "K": camera.K.reshape(3, 3).tolist(),
        "world_to_cam": camera.world_to_cam.reshape(4, 4).tolist(),
        "width": int(camera.width),
        "height": int(camera.height),
    }


def _camera_from_json(d: dict) -> Camera:
    return Camera(torch.tensor(d["K"]), torch.tensor(d["world_to_cam"]), int(d["width"]), int(d["height"]))


class GaussianAvatar(nn.Module):
    """Gaussians bound to a :class:`~vasa3d.head.HeadModel`, driven by ``(z_dyn, z_pose)``.

    Build one with :meth:`from_portrait` (a fresh avatar) or :meth:`from_export`
    (a saved one).  ``forward(z_dyn (B, Dd), z_pose (B, Dp), vas=True)`` gives a
    list of ``B`` :class:`Gaussians` in world coordinates.

    Learnable tensors (local to the parent triangle): ``means (N, 3)``,
    ``quats (N, 4)``, ``log_scales (N, 3)``, ``opacity_logits (N,)``, ``sh (N, K, 3)``;
    ``parent (N,)`` is a buffer.  ``shape (1, S)`` holds the head's identity
    coefficients, optimised jointly and fixed at inference.
    """

    def __init__(
        self,
        head: nn.Module,
        config: AvatarConfig,
        camera: Camera,
        n_gaussians: int,
        dyn_dim: int = DEFAULT_DYN_DIM,
        pose_dim: int = DEFAULT_POSE_DIM,
        direct_mapping: bool | None = None,
        latent_map: Tensor | None = None,
    ):
        super().__init__()
        self.head = head
        for p in self.head.parameters():
            p.requires_grad_(False)
        self.config = config
        self.camera = camera
        self.dyn_dim, self.pose_dim = int(dyn_dim), int(pose_dim)
        if direct_mapping is None:
            direct_mapping = (self.dyn_dim, self.pose_dim) == (DEFAULT_DYN_DIM, DEFAULT_POSE_DIM)
        self.direct_mapping = bool(direct_mapping)
        if self.direct_mapping and latent_map is None and int(head.n_expression) != self.dyn_dim:
            raise ValueError(f"the head's {int(head.n_expression)} expression coefficients are not the latent's "
                             f"{self.dyn_dim} ARKit weights: give a latent_map (vasa3d.head.arkit_map)")
        if latent_map is not None:
            want = (self.dyn_dim, int(head.n_expression) + 9)
            if tuple(latent_map.shape) != want:
                raise ValueError(f"latent_map is {tuple(latent_map.shape)}, the head needs {want}")
            self.register_buffer("latent_map", latent_map.detach().float().clone())
        else:
            self.latent_map = None
        n, k = int(n_gaussians), (config.sh_degree + 1) ** 2
        self.means = nn.Parameter(torch.zeros(n, 3))
        self.quats = nn.Parameter(torch.tensor([1.0, 0.0, 0.0, 0.0]).repeat(n, 1))
        self.log_scales = nn.Parameter(torch.zeros(n, 3))
        self.opacity_logits = nn.Parameter(torch.zeros(n))
        self.sh = nn.Parameter(torch.zeros(n, k, 3))
        self.register_buffer("parent", torch.zeros(n, dtype=torch.long))
        self.register_buffer("background", torch.zeros(3))
        self.shape = nn.Parameter(torch.zeros(1, int(head.n_shape)))

        e_dim = int(head.n_expression) + 3 + 6  # expression, jaw, two eyes
        p_dim = 9  # neck, global rotation, translation
        self.e_dim, self.p_dim = e_dim, p_dim
        pe_dim = 3 * (1 + 2 * config.pe_freqs)
        with torch.random.fork_rng(devices=[]):  # the same seed gives the same networks
            torch.manual_seed(config.seed)
            self.M_e = MLP(self.dyn_dim, e_dim, config.hidden, config.layers) if config.base_mlps else None
            self.M_p = MLP(self.pose_dim, p_dim, config.hidden, config.layers) if config.base_mlps else None
            if config.vas:
                self.D_e = ConditionedMLP(pe_dim, self.dyn_dim + e_dim, RESIDUAL_DIM, config.hidden, config.layers)
                self.D_p = ConditionedMLP(pe_dim, self.pose_dim + p_dim, RESIDUAL_DIM, config.hidden, config.layers)
            else:
                self.D_e = self.D_p = None
        names = tuple(getattr(head, "regions", None) or _region_names())
        self.region_names = names
        self.register_buffer("_face_region_ids", _ids(names, config.face_regions), persistent=False)
        self.register_buffer("_neck_region_ids", _ids(names, config.neck_regions), persistent=False)
        #: the portrait photo at the avatar camera's view, for ``--background portrait``:
        #: ``{"image": (S, S, 3) uint8, "mask": (S, S) uint8 person foreground}``, or None
        self.portrait: dict[str, Tensor] | None = None

    # ------------------------------------------------------------------ building
    @classmethod
    def from_portrait(cls, head, fit, analysis, config: AvatarConfig | None = None,
                      latent_map: Tensor | None = None) -> "GaussianAvatar":
        """A fresh avatar on the fitted mesh, coloured from the portrait crop.

        Args:
            head: the :class:`~vasa3d.head.HeadModel` the portrait was fitted with.
            fit: :class:`~vasa3d.head.FittedPortrait` (params ``B = 1`` and camera).
            analysis: :class:`~vasa3d.face.PortraitAnalysis` (``image``, ``mask``).
            config: :class:`AvatarConfig`; defaults to the paper's.
            latent_map: ``(52, E + 9)`` ARKit -> expression map, for a head whose expression is not ARKit
                (:attr:`vasa3d.head.avatar_head.AvatarHead.latent_map`).
        """
        config = config or AvatarConfig()
        avatar = cls(head, config, fit.camera, config.num_gaussians, latent_map=latent_map)
        gen = torch.Generator().manual_seed(config.seed)
        with torch.no_grad():
            avatar.shape.copy_(fit.params.shape.reshape(1, -1))
            verts = head(fit.params)[0]
            faces = head.faces
            frames = triangle_frames(verts, faces)
            # counts follow the areas of the bare head: the hair shell spreads the scalp's Gaussians wider
            # instead of taking them from the face (issue 14)
            n_hair = int(getattr(head, "n_hair", 0))
            bare = fit.params
            if n_hair:
                shape = fit.params.shape.clone()
                shape[:, -n_hair:] = 0.0
                bare = fit.params.replace(shape=shape)
            v = (head(bare)[0] if n_hair else verts)[faces]
            areas = 0.5 * torch.linalg.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0], dim=-1).norm(dim=-1)
            regions = head.face_regions
            weights = np.ones(len(faces))
            weights[np.isin(regions.numpy(), avatar._face_region_ids.numpy())] = config.face_density
            counts = allocate(areas.numpy().astype(np.float64), weights, config.num_gaussians)
            parent, points, log_s = sample_on_triangles(frames, verts, faces, counts, gen)
            colours, _ = project_colours(
                points,
                frames.rotation[parent][:, :, 2],
                regions[parent],
                avatar.region_names,
                analysis.image,
                getattr(analysis, "mask", None),
                fit.camera,
            )
            avatar.parent.copy_(parent)
            avatar.means.copy_(unbind(frames, parent, points))
            avatar.log_scales.copy_(log_s)
            p = config.init_opacity
            avatar.opacity_logits.fill_(float(np.log(p / (1 - p))))
            avatar.sh.zero_()
            avatar.sh[:, :1] = Gaussians.rgb_to_sh0(colours.clamp(0.02, 0.98))
        return avatar

    # ------------------------------------------------------------------ deformation
    def head_params(self, z_dyn: Tensor, z_pose: Tensor):
        """``HeadParams`` (batch ``B``) for latents ``z_dyn (B, Dd)``, ``z_pose (B, Dp)``: M^e and M^p."""
        from vasa3d.head import HeadParams, params_from_latent

        b = z_dyn.shape[0]
        shape = self.shape.expand(b, -1)
        if self.direct_mapping:
            base = params_from_latent(z_dyn, z_pose, shape, self.latent_map)
        else:
            base = HeadParams.neutral(b, self.head, device=z_dyn.device)
            base = dataclasses.replace(base, shape=shape)
        if self.M_e is None:
            return base
        e = self.M_e(z_dyn)
        p = self.M_p(self.network_pose(z_pose))
        n_e = int(self.head.n_expression)
        return dataclasses.replace(
            base,
            expression=base.expression + e[:, :n_e],
            jaw=base.jaw + e[:, n_e : n_e + 3],
            eyes=base.eyes + e[:, n_e + 3 :].reshape(b, 2, 3),
            neck=base.neck + p[:, 0:3],
            rotation=base.rotation + p[:, 3:6],
            translation=base.translation + p[:, 6:9],
        )

    def network_pose(self, z_pose: Tensor) -> Tensor:
        """``z_pose (B, Dp)`` as M^p and D^p see it: with the direct mapping the log-scale (head distance)
        scales the posed mesh itself, and the Gaussians follow their triangles, so the networks see it
        zeroed: near and far stay the same head, also for avatars trained before the scale was used."""
        if not self.direct_mapping or z_pose.shape[-1] <= 6:
            return z_pose
        return torch.cat([z_pose[..., :6], torch.zeros_like(z_pose[..., 6:])], -1)

    def mesh_frames(self, params) -> TriangleFrames:
        """Triangle frames ``(B, F)`` of the head posed by ``params``."""
        return triangle_frames(self.head(params), self.head.faces)

    def canonical_means(self) -> Tensor:
        """``(N, 3)`` Gaussian centres on the neutral mesh (detached): the VAS networks' input.

        The neutral mesh's frames are cached until the shape coefficients change.
        """
        from vasa3d.head import HeadParams

        key = (self.shape._version, self.shape.data_ptr(), self.means.device)
        if getattr(self, "_neutral_key", None) != key:
            with torch.no_grad():
                params = dataclasses.replace(HeadParams.neutral(1, self.head, device=self.means.device),
                                             shape=self.shape.detach())
                self._neutral_frames = self.mesh_frames(params)
            self._neutral_key = key
        with torch.no_grad():
            return bind(self._neutral_frames, self.parent, self.means.detach()[None], self.quats.detach()[None],
                        self.log_scales.detach()[None])[0][0]

    def vas_residuals(self, z_dyn: Tensor, z_pose: Tensor, params) -> Tensor:
        """``(B, N, 14)`` VAS residuals (zero outside the face and neck regions)."""
        b, n = z_dyn.shape[0], self.means.shape[0]
        out = torch.zeros(b, n, RESIDUAL_DIM, dtype=self.means.dtype, device=self.means.device)
        region = self.head.face_regions.to(self.parent.device)[self.parent]
        pe = positional_encoding(self.canonical_means() / self.config.pe_extent, self.config.pe_freqs)
        exp_params = torch.cat([params.expression, params.jaw, params.eyes.reshape(b, 6)], dim=-1)
        pose_params = torch.cat([params.neck, params.rotation, params.translation], dim=-1)
        for net, ids, cond in (
            (self.D_e, self._face_region_ids, torch.cat([z_dyn, exp_params], -1)),
            (self.D_p, self._neck_region_ids, torch.cat([self.network_pose(z_pose), pose_params], -1)),
        ):
            idx = torch.nonzero(torch.isin(region, ids)).flatten()
            if len(idx):
                out = out.index_copy(1, idx, net(pe[idx], cond))
        return out

    def deform(self, z_dyn: Tensor, z_pose: Tensor, vas: bool = True,
               base: bool = True) -> tuple[list[Gaussians] | None, list[Gaussians] | None]:
        """Both deformed sets for a batch of latents.

        Args:
            z_dyn: ``(B, Dd)``; z_pose: ``(B, Dp)``.
            vas: compute ``G''`` (base + VAS deformation).
            base: compute ``G'`` (base deformation only).

        Returns:
            ``G'`` and ``G''``, each a list of ``B`` :class:`Gaussians`, or ``None`` where not
            asked for (``G''`` is also ``None`` for an avatar built without VAS networks).
        """
        z_dyn = z_dyn.reshape(-1, self.dyn_dim).to(self.means)
        z_pose = z_pose.reshape(-1, self.pose_dim).to(self.means)
        b = z_dyn.shape[0]
        params = self.head_params(z_dyn, z_pose)
        frames = self.mesh_frames(params)
        has_vas = vas and self.D_e is not None
        g_base = None
        if base or not has_vas:
            m, q, s = bind(frames, self.parent, self.means, self.quats, self.log_scales)
            g_base = [Gaussians(m[i], q[i], s[i], self.opacity_logits, self.sh) for i in range(b)]
        if not has_vas:
            return g_base, None
        r = self.vas_residuals(z_dyn, z_pose, params)
        m, q, s = bind(frames, self.parent, self.means + r[..., 0:3], self.quats + r[..., 3:7],
                       self.log_scales + r[..., 7:10])
        sh0 = self.sh[None, :, :1] + r[..., None, 10:13]
        sh = torch.cat([sh0, self.sh[None, :, 1:].expand(b, -1, -1, -1)], dim=2)
        opa = self.opacity_logits + r[..., 13]
        full = [Gaussians(m[i], q[i], s[i], opa[i], sh[i]) for i in range(b)]
        return g_base, full

    def forward(self, z_dyn: Tensor, z_pose: Tensor, vas: bool = True) -> list[Gaussians]:
        """``B`` Gaussian sets for ``z_dyn (B, Dd)``, ``z_pose (B, Dp)``: ``G''`` with ``vas``, else ``G'``."""
        base, full = self.deform(z_dyn, z_pose, vas, base=False)
        return full if full is not None else base

    @property
    def head_center(self) -> Tensor:
        """``(3,)`` centre of the avatar's Gaussians at the neutral latent (the orbit target)."""
        with torch.no_grad():
            z_dyn = torch.zeros(1, self.dyn_dim, device=self.means.device)
            z_pose = torch.zeros(1, self.pose_dim, device=self.means.device)
            m = self.deform(z_dyn, z_pose, vas=False)[0][0].means
            return 0.5 * (m.min(0).values + m.max(0).values)

    # ------------------------------------------------------------------ editing
    @property
    def n_gaussians(self) -> int:
        return self.means.shape[0]

    def gaussian_tensors(self) -> dict[str, nn.Parameter]:
        """The per-Gaussian learnable tensors by name (what densification edits)."""
        return {"means": self.means, "quats": self.quats, "log_scales": self.log_scales,
                "opacity_logits": self.opacity_logits, "sh": self.sh}

    def set_gaussians(self, tensors: dict[str, Tensor], parent: Tensor) -> None:
        """Replace every per-Gaussian tensor (new ``N``) and the parent index."""
        for name, value in tensors.items():
            setattr(self, name, nn.Parameter(value.detach().clone()))
        self.parent = parent.detach().clone()

    # ------------------------------------------------------------------ files
    def export(self) -> tuple[dict, dict[str, Tensor]]:
        """``(config, tensors)``: JSON-able description and every learnt tensor (no pickles).

        The config holds the head's config, the fitted camera and the avatar
        config; the head's own tensors are rebuilt from its config on load.
        """
        config = {
            "kind": "vasa3d-gaussian-avatar",
            "version": 1,
            "avatar": dataclasses.asdict(self.config),
            "head": self.head.config(),
            "camera": _camera_to_json(self.camera),
            "n_gaussians": self.n_gaussians,
            "dyn_dim": self.dyn_dim,
            "pose_dim": self.pose_dim,
            "direct_mapping": self.direct_mapping,
        }
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items() if not k.startswith("head.")}
        for key, value in (self.portrait or {}).items():
            tensors[f"portrait.{key}"] = value.detach().cpu().contiguous()
        return config, tensors

    @classmethod
    def from_export(cls, config: dict, tensors: dict[str, Tensor], head: nn.Module | None = None,
                    head_model: str | None = None) -> "GaussianAvatar":
        """Rebuild an avatar from :meth:`export`'s output.

        Args:
            config, tensors: what :meth:`export` gave (e.g. read from a file).
            head: the head model, already built (e.g. a checkpoint of a running training); it must be the
                one ``config`` records.
            head_model: the user's model file for a head that vasa3d does not ship (FLAME); checked against
                the digest ``config`` records.  A path in ``config`` is never opened.
        """
        from vasa3d.head import build_head

        if head is not None:
            if head.config() != config["head"]:
                raise ValueError("the avatar was made on another head model")
        else:
            head = build_head(config["head"], head_model)

        fields = {f.name for f in dataclasses.fields(AvatarConfig)}
        raw = {k: v for k, v in config["avatar"].items() if k in fields}
        for key in ("face_regions", "neck_regions"):
            if key in raw:
                raw[key] = tuple(raw[key])
        latent_map = tensors.get("latent_map")
        avatar = cls(
            head,
            AvatarConfig(**raw),
            _camera_from_json(config["camera"]),
            int(config["n_gaussians"]),
            int(config["dyn_dim"]),
            int(config["pose_dim"]),
            bool(config["direct_mapping"]),
            None if latent_map is None else torch.zeros(latent_map.shape),
        )
        tensors = dict(tensors)
        portrait = {k[len("portrait."):]: tensors.pop(k) for k in list(tensors) if k.startswith("portrait.")}
        avatar.portrait = portrait or None
        missing, unexpected = avatar.load_state_dict(tensors, strict=False)
        bad = [k for k in missing if not k.startswith("head.")] + list(unexpected)
        if bad:
            raise ValueError(f"avatar tensors do not match its config: {bad[:5]}")
        return avatar


def _region_names() -> tuple[str, ...]:
    from vasa3d.head import REGIONS

    return tuple(REGIONS)


def _ids(names: tuple[str, ...], wanted: tuple[str, ...]) -> Tensor:
    return torch.tensor([names.index(r) for r in wanted if r in names], dtype=torch.long)
