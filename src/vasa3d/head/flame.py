"""FLAME adapter: the user's FLAME 2020/2023 model file behind the ``HeadModel`` interface.

FLAME's model file cannot be shipped (its licence requires registration);
users who have it pass its path (``build_head({"kind": "flame", "path": ...})``).
The file is a Python pickle, so it is read by :class:`FlameUnpickler`, which
resolves only the names such files contain (numpy arrays and dtypes, scipy
sparse matrices, chumpy arrays) to inert stand-ins and refuses everything
else: no code from the file ever runs.

What the adapter maps:
    ``v_template (V,3)``, ``shapedirs (V,3,300+100)`` split into identity and
    expression PCA, ``posedirs (V,3,36)`` pose correctives, ``J_regressor (5,V)``,
    ``weights (V,5)``, ``kintree_table``, faces ``f``.  The mesh is moved so
    the head centre is the origin (a point 5 mm below the eyes' centre and
    12 cm behind the nose tip, as for the built-in head); joints are reordered
    to root, neck, jaw, right eye, left eye.  Region labels and the mediapipe
    landmark correspondence are transferred from the built-in head by nearest
    vertex, after the built-in face is scaled and moved onto the FLAME
    template (closest points, a few rounds).  Its expression space is FLAME's
    PCA (``n_expression`` coefficients), not ARKit: an avatar reaches it from
    the ARKit latent through :mod:`vasa3d.head.arkit_map`.

The model's config (what an avatar file records) names the file by its
SHA-256, never by its path: an avatar file can say which FLAME model it needs
but cannot make vasa3d open anything; the user passes the file again.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from vasa3d.errors import InputError, MissingAssetError

REQUIRED = ("v_template", "f", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table")
MAX_FILE_BYTES = 1 << 30


class _ChumpyArray:
    """Stand-in for ``chumpy.Ch``: keeps the state dict, whose ``x`` is the array."""

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"x": state}

    def array(self) -> np.ndarray:
        for key in ("x", "a", "r"):
            v = self.state.get(key)
            if isinstance(v, np.ndarray):
                return v
            if isinstance(v, _ChumpyArray):
                return v.array()
        raise InputError("a chumpy array in the FLAME file holds no data")


class _SparseState:
    """Stand-in for a scipy sparse matrix: its state dict, rebuilt by :func:`_to_array`."""

    fmt = "csc"

    def __setstate__(self, state):
        self.state = state


class _CscState(_SparseState):
    fmt = "csc"


class _CsrState(_SparseState):
    fmt = "csr"


def _safe_reconstructor(cls, base, state):
    """``copyreg._reconstructor`` for protocol-0/1 pickles, limited to the stand-ins."""
    if cls not in _STANDINS or base is not object:
        raise pickle.UnpicklingError(f"refused to construct {getattr(cls, '__name__', cls)!r}")
    return cls.__new__(cls)


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _numpy_scalar():
    try:
        from numpy._core.multiarray import scalar
    except ImportError:
        from numpy.core.multiarray import scalar
    return scalar


def _codecs_encode(text, encoding="latin1", errors="strict"):
    import codecs

    return codecs.encode(text, encoding, errors)


_STANDINS = (_ChumpyArray, _CscState, _CsrState)
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: _codecs_encode,
    ("copy_reg", "_reconstructor"): lambda: _safe_reconstructor,
    ("copyreg", "_reconstructor"): lambda: _safe_reconstructor,
    ("__builtin__", "object"): lambda: object,
    ("builtins", "object"): lambda: object,
}
for _mod in ("chumpy.ch", "chumpy.reordering", "chumpy.ch_ops", "chumpy"):
    for _name in ("Ch", "Select", "transpose", "Reshape", "add", "multiply", "subtract", "dot"):
        _ALLOWED[(_mod, _name)] = lambda: _ChumpyArray
for _mod in ("scipy.sparse.csc", "scipy.sparse._csc"):
    _ALLOWED[(_mod, "csc_matrix")] = lambda: _CscState
for _mod in ("scipy.sparse.csr", "scipy.sparse._csr"):
    _ALLOWED[(_mod, "csr_matrix")] = lambda: _CsrState


class FlameUnpickler(pickle.Unpickler):
    """Unpickler that knows only the array types a FLAME file holds; it never imports or calls anything else."""

    def find_class(self, module: str, name: str):
        factory = _ALLOWED.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}")
        return factory()

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused a persistent id")


def _to_array(v) -> np.ndarray | object:
    if isinstance(v, _ChumpyArray):
        return np.asarray(v.array())
    if isinstance(v, _SparseState):
        st = v.state
        try:
            shape = tuple(int(s) for s in st.get("_shape", st.get("shape")))
            cls = sparse.csc_matrix if v.fmt == "csc" else sparse.csr_matrix
            m = cls((np.asarray(st["data"]), np.asarray(st["indices"]), np.asarray(st["indptr"])), shape=shape)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"a sparse matrix in the FLAME file is malformed ({exc})") from None
        return m.toarray()
    return v


def read_flame_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a FLAME model pickle, read without running any code from it.

    Raises:
        MissingAssetError: the file does not exist.
        InputError: not a pickle, a pickle that asks for anything but arrays, or not a FLAME model.
    """
    path = Path(path)
    return _parse_flame(_read_bytes(path), path)


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise MissingAssetError(f"FLAME model file not found: {path}; download FLAME 2020/2023 from "
                                "https://flame.is.tue.mpg.de (registration) and pass the .pkl path")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(f"{path} is too large to be a FLAME model")
    return path.read_bytes()


def flame_file_digest(path: str | os.PathLike) -> str:
    """The SHA-256 (hex) of a FLAME model file's bytes: what an avatar records instead of its path."""
    return hashlib.sha256(_read_bytes(Path(path))).hexdigest()


def _parse_flame(raw: bytes, path: Path) -> dict[str, np.ndarray]:
    try:
        obj = FlameUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise InputError(f"{path} is not a FLAME model file: {exc} (only array data is accepted)") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a FLAME model file (unreadable pickle: {type(exc).__name__})") from None
    if not isinstance(obj, dict):
        raise InputError(f"{path} is not a FLAME model file (holds a {type(obj).__name__}, not a dict)")
    out = {str(k): _to_array(v) for k, v in obj.items()}
    missing = [k for k in REQUIRED if k not in out]
    if missing:
        raise InputError(f"{path} is not a FLAME model file (missing {', '.join(missing)})")
    for k in REQUIRED:
        if not isinstance(out[k], np.ndarray) or out[k].dtype == object:
            raise InputError(f"{path} is not a FLAME model file ({k} is not a numeric array)")
    V = out["v_template"].shape
    if len(V) != 2 or V[1] != 3 or out["shapedirs"].shape[:2] != V or out["weights"].shape[0] != V[0]:
        raise InputError(f"{path} is not a FLAME model file (array shapes do not agree)")
    if out["J_regressor"].shape[1] != V[0] or out["weights"].shape[1] != out["J_regressor"].shape[0]:
        raise InputError(f"{path} is not a FLAME model file (joint arrays do not agree)")
    return out


def load_flame(path: str | os.PathLike, n_shape: int = 100, n_expression: int = 50, sha256: str | None = None):
    """A :class:`~vasa3d.head.HeadModel` from a FLAME 2020/2023 model file.

    Args:
        path: the user's ``generic_model.pkl`` (or FLAME 2023's ``flame2023.pkl``).
        n_shape, n_expression: identity and expression components kept.
        sha256: the digest the file must have (an avatar's record of its model); a different file is refused.

    Raises:
        MissingAssetError: no such file.  InputError: not a FLAME model, or not the one ``sha256`` names.
    """
    from vasa3d.head.builtin import REGIONS, build_builtin_arrays
    from vasa3d.head.model import HeadModel

    path = Path(path)
    raw = _read_bytes(path)
    digest = hashlib.sha256(raw).hexdigest()
    if sha256 is not None and digest != sha256:
        raise InputError(f"{path} is not the FLAME model this avatar was made with (its SHA-256 is {digest[:12]}..., "
                         f"the avatar's is {str(sha256)[:12]}...); give the same model file")
    d = _parse_flame(raw, path)
    del raw
    v = d["v_template"].astype(np.float64)
    sd = d["shapedirs"].astype(np.float64)
    n_total = sd.shape[2]
    n_id = 300 if n_total >= 400 else n_total // 2 + n_total % 2
    n_shape = min(n_shape, n_id)
    n_expression = min(n_expression, n_total - n_id)
    J_reg = d["J_regressor"].astype(np.float64)
    W = d["weights"].astype(np.float64)
    nJ = J_reg.shape[0]
    if nJ != 5:
        raise InputError(f"{path} is not a FLAME model file ({nJ} joints, FLAME has 5)")
    kin = d["kintree_table"].astype(np.int64)
    J = J_reg @ v
    # our joint order: root, neck, jaw, right eye (x < 0), left eye (x > 0)
    eyes = [3, 4] if J[3, 0] < J[4, 0] else [4, 3]
    order = [0, 1, 2, *eyes]
    inv = {old: new for new, old in enumerate(order)}
    parents_old = {int(kin[1, k]): int(kin[0, k]) for k in range(kin.shape[1])}
    parents = np.array([-1 if parents_old.get(old, -1) not in inv else inv[parents_old[old]] for old in order])
    parents[0] = -1
    posedirs = d["posedirs"].astype(np.float64).reshape(v.shape[0] * 3, -1)  # (V*3, 36), joints 1..4 x 9
    blocks = posedirs.reshape(v.shape[0] * 3, nJ - 1, 9)
    posedirs = blocks[:, [o - 1 for o in order[1:]], :].reshape(v.shape[0] * 3, -1).T

    eye_y = J[eyes, 1].mean()
    centre = np.array([v[:, 0].mean(), eye_y - 0.005, v[:, 2].max() - 0.12])
    v = v - centre

    builtin = build_builtin_arrays()
    scale, shift = _align_face(builtin["v_template"][:468], v)
    bv = builtin["v_template"] * scale + shift
    _, nearest = cKDTree(bv).query(v)
    vregion = builtin["vertex_regions"][nearest]
    faces = d["f"].astype(np.int64)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.min() < 0 or faces.max() >= len(v):
        raise InputError(f"{path} is not a FLAME model file (its triangles index missing vertices)")
    fr = vregion[faces]
    face_regions = np.where(fr[:, 1] == fr[:, 2], fr[:, 1], fr[:, 0])
    lmk = _landmark_vertices(bv, builtin["faces"], v, faces)
    arrays = {
        "v_template": v, "faces": faces, "vertex_regions": vregion, "face_regions": face_regions,
        "shapedirs": sd[:, :, :n_shape], "exprdirs": sd[:, :, n_id:n_id + n_expression],
        "posedirs": posedirs, "J_regressor": J_reg[order], "lbs_weights": W[:, order], "parents": parents,
        "landmark_vertices": lmk, "shape_prior": np.ones(n_shape),
    }
    config = {"kind": "flame", "sha256": digest, "n_shape": n_shape, "n_expression": n_expression}
    return HeadModel(arrays, config, REGIONS, tuple(f"flame_exp{i}" for i in range(n_expression)))


def _align_face(face: np.ndarray, vertices: np.ndarray, rounds: int = 20) -> tuple[float, np.ndarray]:
    """Scale and shift that put the built-in face ``(N, 3)`` onto the FLAME template ``vertices (V, 3)``.

    Closest points then the least-squares scale and shift, repeated (the heads share their axes and
    centre convention, so no rotation is needed); heads of another size then find their landmarks on
    the same features, not a few millimetres beside them.
    """
    tree = cKDTree(vertices)
    scale, shift = 1.0, np.zeros(3)
    for _ in range(rounds):
        _, idx = tree.query(face * scale + shift)
        q = vertices[idx]
        pc, qc = face - face.mean(0), q - q.mean(0)
        scale = float(np.clip((pc * qc).sum() / (pc * pc).sum(), 0.5, 2.0))
        shift = q.mean(0) - scale * face.mean(0)
    return scale, shift


def _vertex_normals(V: np.ndarray, F: np.ndarray) -> np.ndarray:
    n = np.zeros_like(V)
    fn = np.cross(V[F[:, 1]] - V[F[:, 0]], V[F[:, 2]] - V[F[:, 0]])
    for k in range(3):
        np.add.at(n, F[:, k], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def _landmark_vertices(bv: np.ndarray, bfaces: np.ndarray, v: np.ndarray, faces: np.ndarray,
                       normal_cost_m: float = 0.01) -> np.ndarray:
    """``(478,)`` FLAME vertex of each mediapipe landmark (the aligned built-in vertices ``bv[:478]``).

    The nearest of 8 candidates, a disagreement of the surface normals costing up to ``2 * normal_cost_m``:
    where two surfaces touch (the closed lips, the eyelids) the upper lip's landmark then finds the upper
    lip, not the lower lip's vertex a fraction of a millimetre away.
    """
    nb = _vertex_normals(bv, bfaces)[:478]
    nf = _vertex_normals(v, faces)
    dist, idx = cKDTree(v).query(bv[:478], k=8)
    cos = np.einsum("lc,lkc->lk", nb, nf[idx])
    if np.median(cos[:, 0]) < 0:  # the two meshes wind their triangles the other way round
        cos = -cos
    return idx[np.arange(478), np.argmin(dist + normal_cost_m * (1 - cos), axis=1)]
