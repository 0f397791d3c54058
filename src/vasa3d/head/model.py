"""``HeadModel``: a linear-blend-skinned parametric head (built-in or FLAME)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from vasa3d.head.lbs import axis_angle_to_matrix, joint_transforms, skin
from vasa3d.head.params import HeadParams


class HeadModel(nn.Module):
    """Vertices from shape, expression and pose, differentiable and batched.

    ``v = LBS(T + S·shape + E·expression + P(pose), joints(shape), pose)`` then
    ``+ translation``.  Joints are ``root`` (the head centre, global rotation),
    ``neck``, ``jaw``, ``eye_right``, ``eye_left`` (:attr:`joint_names`).

    Attributes:
        faces: ``(F, 3)`` long triangles.
        face_regions: ``(F,)`` long, indices into :attr:`regions`.
        vertex_regions: ``(V,)`` long.
        landmark_vertices: ``(478,)`` long, mediapipe landmark i -> vertex.
        regions: region names (:data:`vasa3d.head.builtin.REGIONS`).
        expression_names: names of the expression coefficients.
    """

    joint_names = ("root", "neck", "jaw", "eye_right", "eye_left")

    def __init__(self, arrays: dict, config: dict, regions: tuple[str, ...],
                 expression_names: tuple[str, ...]) -> None:
        super().__init__()
        f32 = lambda k: torch.as_tensor(arrays[k], dtype=torch.float32)  # noqa: E731
        i64 = lambda k: torch.as_tensor(arrays[k], dtype=torch.long)  # noqa: E731
        self.register_buffer("v_template", f32("v_template"), persistent=False)
        self.register_buffer("shapedirs", f32("shapedirs"), persistent=False)  # (V, 3, S)
        self.register_buffer("exprdirs", f32("exprdirs"), persistent=False)  # (V, 3, E)
        self.register_buffer("lbs_weights", f32("lbs_weights"), persistent=False)  # (V, J)
        self.register_buffer("faces", i64("faces"), persistent=False)
        self.register_buffer("face_regions", i64("face_regions"), persistent=False)
        self.register_buffer("vertex_regions", i64("vertex_regions"), persistent=False)
        self.register_buffer("landmark_vertices", i64("landmark_vertices"), persistent=False)
        self.register_buffer("shape_prior", f32("shape_prior"), persistent=False)
        # joints: fixed rest positions moved by the shape (built-in), or regressed from vertices (FLAME)
        if "J_regressor" in arrays:
            self.register_buffer("J_regressor", f32("J_regressor"), persistent=False)  # (J, V)
            self.joints = None
        else:
            self.J_regressor = None
            self.register_buffer("joints", f32("joints"), persistent=False)  # (J, 3)
            self.register_buffer("joint_shapedirs", f32("joint_shapedirs"), persistent=False)  # (J, 3, S)
        self.register_buffer("expr_pose", f32("expr_pose") if "expr_pose" in arrays else
                             torch.zeros(self.exprdirs.shape[-1], 5, 3), persistent=False)  # (E, J, 3)
        self.posedirs = f32("posedirs") if "posedirs" in arrays else None  # (P, V*3), FLAME pose correctives
        if self.posedirs is not None:
            self.register_buffer("_posedirs", self.posedirs, persistent=False)
        self.parents = [int(p) for p in arrays["parents"]]
        self.regions = tuple(regions)
        self.expression_names = tuple(expression_names)
        self._config = dict(config)
        #: the last ``n_hair`` shape components are the hair shell's (:func:`vasa3d.head.hair.fit_hair`)
        self.n_hair = int(arrays.get("n_hair", 0))
        self._extra = {k: torch.as_tensor(v) for k, v in arrays.items()
                       if k in ("mirror", "teeth", "tongue", "eyeball_right", "eyeball_left", "jaw_weights")}

    # ------------------------------------------------------------ sizes and metadata
    @property
    def n_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def n_shape(self) -> int:
        return int(self.shapedirs.shape[-1])

    @property
    def n_expression(self) -> int:
        return int(self.exprdirs.shape[-1])

    def region_mask(self, *names: str) -> Tensor:
        """``(V,)`` bool: vertices in any of the named regions."""
        ids = [self.regions.index(n) for n in names]
        return torch.isin(self.vertex_regions, torch.tensor(ids, device=self.vertex_regions.device))

    def extra(self, name: str) -> Tensor:
        """Auxiliary index arrays of the built-in head (``mirror``, ``teeth``, ``tongue``...)."""
        return self._extra[name]

    def config(self) -> dict:
        """JSON-able description that :func:`build_head` turns back into this model."""
        return dict(self._config)

    # ------------------------------------------------------------ evaluation
    def rest_joints(self, shape: Tensor, v_shaped: Tensor | None = None) -> Tensor:
        """``(B, J, 3)`` joint rest positions for ``shape (B, S)`` (regressed from ``v_shaped`` for FLAME)."""
        if self.J_regressor is not None:
            return torch.einsum("jv,bvc->bjc", self.J_regressor, v_shaped)
        return self.joints + torch.einsum("jcs,bs->bjc", self.joint_shapedirs, shape)

    def joint_rotations(self, params: HeadParams) -> Tensor:
        """``(B, J, 3, 3)`` local joint rotations, the expression's jaw/gaze included."""
        B = params.batch
        aa = torch.stack([params.rotation, params.neck, params.jaw, params.eyes[:, 0], params.eyes[:, 1]], 1)
        aa = aa + torch.einsum("be,ejc->bjc", params.expression, self.expr_pose)
        return axis_angle_to_matrix(aa.reshape(B, -1, 3))

    def _bases(self, vertex_ids: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Template ``(N, 3)``, shape ``(S, N*3)``, expression ``(E, N*3)`` bases and weights ``(N, J)``.

        Flattened and contiguous so that evaluation is two GEMMs; subsets are cached
        (the landmark subset is evaluated every tracking step).
        """
        key = None if vertex_ids is None else (vertex_ids.device, tuple(vertex_ids.tolist()))
        cache = self.__dict__.setdefault("_basis_cache", {})
        hit = cache.get(key)
        if hit is not None and hit[0].device == self.v_template.device:
            return hit
        ids = slice(None) if vertex_ids is None else vertex_ids
        T = self.v_template[ids].contiguous()
        S = self.shapedirs[ids].permute(2, 0, 1).reshape(self.n_shape, -1).contiguous()
        E = self.exprdirs[ids].permute(2, 0, 1).reshape(self.n_expression, -1).contiguous()
        W = self.lbs_weights[ids].contiguous()
        if len(cache) > 8:
            cache.clear()
        cache[key] = (T, S, E, W)
        return T, S, E, W

    def _apply(self, fn, *args, **kwargs):  # device/dtype moves invalidate the cached bases
        self.__dict__.pop("_basis_cache", None)
        return super()._apply(fn, *args, **kwargs)

    def forward(self, params: HeadParams, vertex_ids: Tensor | None = None) -> Tensor:
        """World vertices ``(B, V, 3)`` in metres (or ``(B, len(vertex_ids), 3)``).

        ``vertex_ids`` evaluates only some vertices (e.g. the landmarks), much
        faster; for models that regress joints from vertices the whole mesh is
        evaluated and then indexed.
        """
        B = params.batch
        shape = params.shape.expand(B, -1) if params.shape.shape[0] == 1 else params.shape
        if vertex_ids is not None and self.J_regressor is not None:
            return self.forward(params)[:, vertex_ids]
        T, S, E, W = self._bases(vertex_ids)
        N = T.shape[0]
        v = T + (shape @ S).reshape(B, N, 3) + (params.expression @ E).reshape(B, N, 3)
        joints = self.rest_joints(shape, v)
        rot = self.joint_rotations(params)
        if self.posedirs is not None:
            eye = torch.eye(3, device=rot.device, dtype=rot.dtype)
            feat = (rot[:, 1:] - eye).reshape(B, -1)
            v = v + (feat @ self._posedirs).reshape(B, -1, 3)
        # the root rotates about the head centre (world origin), whatever the model's root joint is
        joints = torch.cat([torch.zeros_like(joints[:, :1]), joints[:, 1:]], 1)
        A = joint_transforms(rot, joints, self.parents)
        return self._place(skin(v, W, A), params)

    def posed_joints(self, params: HeadParams) -> Tensor:
        """``(B, J, 3)`` world positions of the joints (:attr:`joint_names`) under ``params``."""
        B = params.batch
        shape = params.shape.expand(B, -1) if params.shape.shape[0] == 1 else params.shape
        T, S, E, _ = self._bases(None)
        v = T + (shape @ S).reshape(B, -1, 3) + (params.expression @ E).reshape(B, -1, 3)
        joints = self.rest_joints(shape, v)
        joints = torch.cat([torch.zeros_like(joints[:, :1]), joints[:, 1:]], 1)
        A = joint_transforms(self.joint_rotations(params), joints, self.parents)
        return self._place((A[..., :3] @ joints[..., None])[..., 0] + A[..., 3], params)

    @staticmethod
    def _place(points: Tensor, params: HeadParams) -> Tensor:
        """Posed points ``(B, P, 3)`` about the head centre -> world: the scale, then the translation."""
        if params.scale is not None:
            points = points * params.scale.reshape(-1, 1, 1)
        return points + params.translation[:, None, :]

    def landmarks(self, params: HeadParams) -> Tensor:
        """``(B, 478, 3)`` the mediapipe landmark positions on the posed head."""
        return self.forward(params, self.landmark_vertices)
