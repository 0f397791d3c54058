"""The frame-dataset format: frames, motion latents and cameras for training one avatar.

A dataset is a folder (format documented in ``docs/dataset.md``)::

    DATASET/
      manifest.json       format, version, portrait, latent schema, fps, resolution,
                          camera convention, counts, shard size, split, source, complete
      portrait.png        the aligned portrait the frames were made from (optional)
      plan.npz            every frame's latent and camera, written before any shard
      shards/000017.npz   frames [17*S, 18*S): rgb (n,H,W,3) u8, mask (n,H,W) u8,
                          z_dyn (n,Dd) f32, z_pose (n,Dp) f32, K (n,3,3) f32,
                          world_to_cam (n,4,4) f32, index (n,) i64

Shards are written to a temporary name and renamed, so a shard that exists
is whole; their bytes depend only on their content (fixed zip timestamps), so
a build that is interrupted and resumed, or run with a different number of
workers, gives byte-identical files.

:func:`write_dataset` is the one writer (the animator, ``dataset import``
and ``dataset from-video`` all go through it); :class:`FrameDataset` reads.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from vasa3d.animate.workers import can_send, start_pool
from vasa3d.errors import InputError
from vasa3d.motion.latent import MAX_DYN_COLUMNS, MAX_POSE_COLUMNS, MotionLatent
from vasa3d.progress import track
from vasa3d.render.camera import Camera

__all__ = ["FORMAT", "VERSION", "FrameSample", "FrameDataset", "DatasetPlan", "write_dataset", "split_indices"]

FORMAT = "vasa3d-dataset"
VERSION = 1
CAMERA_CONVENTION = {
    "model": "pinhole, OpenCV axes (x right, y down, z forward)",
    "world": "head frame in metres: +x subject's left, +y up, +z out of the face toward the viewer",
    "pixel_centers": "integer + 0.5",
    "fields": "K (3x3 intrinsics in pixels), world_to_cam (4x4 rigid)",
}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


# ---------------------------------------------------------------- samples
@dataclass
class FrameSample:
    """One training frame.

    Attributes:
        image: ``(H, W, 3) float32`` RGB in [0, 1].
        mask: ``(H, W, 1) float32`` foreground in [0, 1].
        z_dyn: ``(Dd,)`` facial dynamics latent.
        z_pose: ``(Dp,)`` head pose latent.
        camera: the frame's camera (single).
        index: the frame's index in the dataset.
    """

    image: Tensor
    mask: Tensor
    z_dyn: Tensor
    z_pose: Tensor
    camera: Camera
    index: int = -1


# ---------------------------------------------------------------- split
def split_indices(n_frames: int, seed: int, test_fraction: float = 0.05, block: int = 50) -> np.ndarray:
    """Test frame indices ``(M,) int64``: whole blocks of ``block`` consecutive frames, picked by ``seed``.

    Blocks (not single frames) keep the test frames from being near-copies of
    their training neighbours in continuous motion.
    """
    if n_frames <= 1 or test_fraction <= 0:
        return np.zeros(0, np.int64)
    n_blocks = math.ceil(n_frames / block)
    n_test = min(n_blocks - 1, max(1, round(test_fraction * n_blocks))) if n_blocks > 1 else 0
    if n_test == 0:  # a single block: hold out its last frames
        k = max(1, round(test_fraction * n_frames))
        return np.arange(n_frames - k, n_frames, dtype=np.int64)
    blocks = np.sort(np.random.default_rng(seed).permutation(n_blocks)[:n_test])
    idx = np.concatenate([np.arange(b * block, min(n_frames, (b + 1) * block)) for b in blocks])
    return idx.astype(np.int64)


def _ranges(idx: np.ndarray) -> list[list[int]]:
    """Sorted indices as ``[[start, stop), ...]`` runs (compact in JSON)."""
    out: list[list[int]] = []
    for i in np.sort(idx).tolist():
        if out and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1])
    return out


# ---------------------------------------------------------------- plan
@dataclass
class DatasetPlan:
    """Everything that fixes a dataset's content before any frame is made.

    Attributes:
        motion: per-frame latents (T frames).
        cameras: per-frame cameras, one batched ``Camera`` of length T.
        seed: fixes the split (and any randomness of the frame source).
        shard_size: frames per shard file.
        test_fraction: share of frames held out for testing.
        source: JSON description of where frames come from (animator name and config, video path...).
        compresslevel: zlib level of the shards' masks, latents and cameras (0 stores them raw);
            frames are always stored raw.
    """

    motion: MotionLatent
    cameras: Camera
    seed: int = 0
    shard_size: int = 32
    test_fraction: float = 0.05
    source: dict = field(default_factory=dict)
    compresslevel: int = 1

    def __post_init__(self) -> None:
        self.cameras = self.cameras.batched
        if len(self.cameras) == 1 and len(self.motion) > 1:
            c = self.cameras
            n = len(self.motion)
            self.cameras = Camera(c.K.expand(n, 3, 3).clone(), c.world_to_cam.expand(n, 4, 4).clone(), c.width, c.height)
        if len(self.cameras) != len(self.motion):
            raise ValueError(f"{len(self.cameras)} cameras for {len(self.motion)} frames")
        if len(self.motion) == 0:
            raise InputError("the motion has no frames; give a longer clip or more minutes")

    @property
    def n_frames(self) -> int:
        return len(self.motion)

    @property
    def n_shards(self) -> int:
        return math.ceil(self.n_frames / self.shard_size)

    def shard_range(self, shard: int) -> range:
        return range(shard * self.shard_size, min(self.n_frames, (shard + 1) * self.shard_size))

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "z_dyn": self.motion.z_dyn.astype(np.float32),
            "z_pose": self.motion.z_pose.astype(np.float32),
            "K": self.cameras.K.detach().cpu().numpy().astype(np.float32),
            "world_to_cam": self.cameras.world_to_cam.detach().cpu().numpy().astype(np.float32),
        }

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for name, arr in sorted(self.arrays().items()):
            h.update(name.encode())
            h.update(np.ascontiguousarray(arr).tobytes())
        meta = [self.seed, self.shard_size, self.test_fraction, self.source, self.compresslevel,
                self.cameras.width, self.cameras.height, self.motion.schema, self.motion.fps]
        h.update(json.dumps(meta, sort_keys=True, default=str).encode())
        return h.hexdigest()[:16]


# ---------------------------------------------------------------- low-level files
def _write_npz(path: Path, arrays: dict[str, np.ndarray], compresslevel: int, raw: tuple[str, ...] = ()) -> None:
    """An ``.npz`` that ``np.load`` reads, with fixed timestamps (same content, same bytes); atomic.

    Arrays named in ``raw`` are stored uncompressed (photos: zlib saves ~30% of them at the cost
    of as much time as rendering them).
    """
    from vasa3d.io.paths import atomic_output

    with atomic_output(path) as tmp:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name in sorted(arrays):
                deflate = compresslevel > 0 and name not in raw
                compression = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
                info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_TIME)
                info.compress_type = compression
                info.external_attr = 0o644 << 16
                zf.writestr(info, buf.getvalue(), compress_type=compression,
                            compresslevel=compresslevel if deflate else None)


def _write_json(path: Path, obj: dict) -> None:
    from vasa3d.io.paths import atomic_output

    with atomic_output(path) as tmp:  # fsynced before the rename that publishes it
        tmp.write_text(json.dumps(obj, indent=1) + "\n")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# ---------------------------------------------------------------- writer
FrameSource = Callable[[int], tuple[np.ndarray, np.ndarray]]
"""``source(i) -> (rgb (H,W,3) uint8, mask (H,W) uint8 or float in [0,1])`` for frame ``i``."""

_WORKER: dict = {}  # per worker process: the frame source and plan, received by pickle at its start


def _worker_init(source: FrameSource, plan: DatasetPlan, root: Path) -> None:
    import signal

    # Ctrl-C is the parent's to handle: it ends the pool with SIGTERM, whose default action ends a worker
    # wherever it is, and removes the temporary files of shards cut short.  (A Python handler for SIGTERM
    # here once raised SystemExit where it was swallowed, and the worker then waited for ever.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    _WORKER.update(source=source, plan=plan, root=root)


def _worker_shard(shard: int) -> int:
    _build_shard(_WORKER["source"], _WORKER["plan"], _WORKER["root"], shard)
    return len(_WORKER["plan"].shard_range(shard))


def _as_mask_u8(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype == np.uint8:
        return mask
    return np.clip(np.rint(mask.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)


def _build_shard(source: FrameSource, plan: DatasetPlan, root: Path, shard: int) -> None:
    frames = plan.shard_range(shard)
    H, W = plan.cameras.height, plan.cameras.width
    rgb = np.zeros((len(frames), H, W, 3), np.uint8)
    mask = np.zeros((len(frames), H, W), np.uint8)
    for k, i in enumerate(frames):
        img, m = source(i)
        if img.shape != (H, W, 3) or m.shape[:2] != (H, W):
            raise ValueError(f"frame {i}: got {img.shape}/{m.shape}, the dataset is {W}x{H}")
        rgb[k] = img
        mask[k] = _as_mask_u8(m.reshape(H, W))
    arrays = {name: arr[frames.start:frames.stop] for name, arr in plan.arrays().items()}
    arrays.update(rgb=rgb, mask=mask, index=np.arange(frames.start, frames.stop, dtype=np.int64))
    _write_npz(root / "shards" / f"{shard:06d}.npz", arrays, plan.compresslevel, raw=("rgb",))


def _manifest(plan: DatasetPlan, portrait: bool, complete: bool) -> dict:
    m = plan.motion
    test = split_indices(plan.n_frames, plan.seed, plan.test_fraction)
    return {
        "format": FORMAT,
        "version": VERSION,
        "portrait": "portrait.png" if portrait else None,
        "latent": {"schema": m.schema, "dyn_names": list(m.dyn_names), "pose_names": list(m.pose_names)},
        "fps": m.fps,
        "width": plan.cameras.width,
        "height": plan.cameras.height,
        "camera": CAMERA_CONVENTION,
        "frames": plan.n_frames,
        "shard_size": plan.shard_size,
        "shards": plan.n_shards,
        "split": {"seed": plan.seed, "test_fraction": plan.test_fraction, "test": _ranges(test),
                  "n_test": int(len(test)), "n_train": int(plan.n_frames - len(test))},
        "source": plan.source,
        "plan": plan.fingerprint(),
        "complete": complete,
    }


def write_dataset(
    root: str | os.PathLike,
    plan: DatasetPlan,
    source: FrameSource,
    portrait: np.ndarray | None = None,
    workers: int = 1,
    quiet: bool = False,
    description: str = "frames",
) -> "FrameDataset":
    """Build (or finish building) a dataset in ``root``.

    Resumable: shards already in ``root`` from an interrupted build of the same
    plan are kept; a folder that holds a *different* dataset is refused.
    With ``workers > 1`` shards are made in worker processes (each builds whole
    shards, :mod:`vasa3d.animate.workers`); the files do not depend on the number
    of workers.  The workers receive ``source`` by pickle; a source that does not
    pickle (a closure) or refers to the ``__main__`` script is built in this
    process instead.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError(f"{root} exists and is not a folder; choose another dataset path")
    if not root.parent.exists():
        raise InputError(f"the folder {root.parent} does not exist; create it first")
    (root / "shards").mkdir(parents=True, exist_ok=True)
    manifest_path = root / "manifest.json"
    fingerprint = plan.fingerprint()
    if manifest_path.exists():
        try:
            old = json.loads(manifest_path.read_text())
        except (OSError, ValueError):
            old = {}
        if not isinstance(old, dict) or old.get("plan") != fingerprint:
            raise InputError(f"{root} already holds a different dataset; choose a new folder or delete it")
    else:
        stale = [p for p in (root / "shards").glob("*.npz")]
        if stale:
            raise InputError(f"{root} holds shards but no manifest; choose a new folder or delete it")
    _remove_partial_shards(root)
    if portrait is not None:
        from vasa3d.io import save_image
        if not (root / "portrait.png").exists():
            save_image(root / "portrait.png", portrait)
    _write_npz(root / "plan.npz", plan.arrays(), 1)
    _write_json(manifest_path, _manifest(plan, portrait is not None or (root / "portrait.png").exists(), False))

    pending = [s for s in range(plan.n_shards) if not (root / "shards" / f"{s:06d}.npz").exists()]
    done_frames = plan.n_frames - sum(len(plan.shard_range(s)) for s in pending)
    workers = max(1, min(int(workers), len(pending)))
    if workers > 1 and not can_send(source):  # a closure, or made of something in the __main__ script
        workers = 1
    if pending:
        if workers == 1:
            def run_serial():
                for s in pending:
                    _build_shard(source, plan, root, s)
                    yield len(plan.shard_range(s))
            counts = run_serial()
            pool = None
        else:
            pool = start_pool(workers, _worker_init, (source, plan, root))
            counts = pool.imap_unordered(_worker_shard, pending)
        try:
            for _ in track(_frames(counts), description, total=plan.n_frames - done_frames, quiet=quiet):
                pass
        except BaseException:
            if pool is not None:
                pool.terminate()
                pool.join()
                _remove_partial_shards(root)
            raise
        if pool is not None:
            pool.close()  # every shard is written: the workers take the pool's end marker and exit
            pool.join()
    _write_json(manifest_path, _manifest(plan, (root / "portrait.png").exists(), True))
    return FrameDataset(root)


def _remove_partial_shards(root: Path) -> None:
    """Temporary files of shards whose writer was stopped (killed, or ended by the pool)."""
    for leftover in (root / "shards").glob("*.part*"):
        leftover.unlink(missing_ok=True)


def _frames(counts):
    """Expand per-shard frame counts into one tick per frame (for the progress bar)."""
    for n in counts:
        yield from range(n)


# ---------------------------------------------------------------- checks (before anything is allocated)
MAX_SIDE = 8192
MAX_FRAMES = 10_000_000
MAX_SHARD_BYTES = 4 << 30


def _field(manifest: dict, key: str, kind: type | tuple, path: Path, lo=None, hi=None):
    """``manifest[key]`` checked for type (``bool`` is not an ``int``) and range; one line naming the field."""
    if key not in manifest:
        raise InputError(f"{path} has no '{key}' field; rebuild the dataset")
    value = manifest[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if ok and isinstance(value, float):
        ok = math.isfinite(value)
    if ok and lo is not None:
        ok = lo <= value and (hi is None or value <= hi)
    if not ok:
        want = " or ".join(k.__name__ for k in kinds) + (f" within {lo}..{hi}" if lo is not None else "")
        raise InputError(f"{path}: '{key}' is {json.dumps(value)[:40]}, not {want}; rebuild the dataset")
    return value


def check_manifest(manifest, path: Path) -> dict:
    """Every field :class:`FrameDataset` uses, checked for type and range; returns the manifest."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(f"{path} is not a vasa3d dataset manifest; build one with 'vasa3d synth'")
    version = _field(manifest, "version", int, path, 1, None)
    if version > VERSION:
        raise InputError(f"{path.parent} has dataset format version {version}, newer than this vasa3d reads "
                         f"({VERSION}); upgrade vasa3d")
    _field(manifest, "complete", bool, path)
    _field(manifest, "width", int, path, 1, MAX_SIDE)
    _field(manifest, "height", int, path, 1, MAX_SIDE)
    _field(manifest, "fps", (int, float), path, 1e-3, 1000)
    frames = _field(manifest, "frames", int, path, 1, MAX_FRAMES)
    shard_size = _field(manifest, "shard_size", int, path, 1, MAX_FRAMES)
    shards = _field(manifest, "shards", int, path, 0, MAX_FRAMES)
    if shards != math.ceil(frames / shard_size):
        raise InputError(f"{path}: {shards} shards cannot hold {frames} frames of {shard_size}; rebuild the dataset")
    if shard_size * manifest["width"] * manifest["height"] * 4 > MAX_SHARD_BYTES:
        raise InputError(f"{path}: shards of {shard_size} frames at {manifest['width']}x{manifest['height']} are over "
                         f"{MAX_SHARD_BYTES >> 30} GiB; rebuild the dataset with smaller shards")
    latent = _field(manifest, "latent", dict, path)
    for key, most in (("dyn_names", MAX_DYN_COLUMNS), ("pose_names", MAX_POSE_COLUMNS)):
        names = _field(latent, key, list, path)
        if not names or not all(isinstance(n, str) for n in names):
            raise InputError(f"{path}: latent '{key}' is not a list of names; rebuild the dataset")
        if len(names) > most:
            raise InputError(f"{path}: latent '{key}' has {len(names)} names, more than the {most} a motion latent "
                             "may have; rebuild the dataset")
    _field(latent, "schema", str, path)
    plan_bytes = frames * (len(latent["dyn_names"]) + len(latent["pose_names"]) + 9 + 16) * 4  # latents, K, world_to_cam
    if plan_bytes > MAX_SHARD_BYTES:
        raise InputError(f"{path}: the latents and cameras of {frames} frames take {plan_bytes / (1 << 30):.1f} GiB, "
                         f"over {MAX_SHARD_BYTES >> 30} GiB; rebuild the dataset with fewer frames")
    split = _field(manifest, "split", dict, path)
    test = _field(split, "test", list, path)
    for run in test:
        if not (isinstance(run, list) and len(run) == 2 and all(type(v) is int for v in run)
                and 0 <= run[0] < run[1] <= frames):
            raise InputError(f"{path}: the test split names frames {json.dumps(run)[:40]}, outside the "
                             f"{frames} frames; rebuild the dataset")
    portrait = manifest.get("portrait")
    if portrait is not None and (not isinstance(portrait, str) or Path(portrait).name != portrait):
        raise InputError(f"{path}: 'portrait' must be a file name inside the dataset; rebuild the dataset")
    return manifest


def _expect_layout(path: Path, want: dict[str, tuple[np.dtype, tuple[int, ...]]]) -> None:
    """Raise ValueError unless ``path`` holds exactly the arrays ``want`` names, with those dtypes and shapes."""
    from vasa3d.io.npz import npz_layout

    got = npz_layout(path)
    if set(got) != set(want):
        raise ValueError(f"arrays {sorted(got)} instead of {sorted(want)}")
    for name, (dtype, shape) in want.items():
        if got[name][0] != dtype or got[name][1] != shape:
            raise ValueError(f"{name} is {got[name][0]} {got[name][1]}, not {np.dtype(dtype)} {shape}")


# ---------------------------------------------------------------- reader
class FrameDataset:
    """Read a dataset folder written by :func:`write_dataset`.

    ``len(ds)`` frames; ``ds[i]`` a :class:`FrameSample`; ``ds.train_indices`` /
    ``ds.test_indices`` the split; ``ds.manifest`` the manifest dict.  Shards
    load lazily and the last ``cache_shards`` stay in memory (default: as many
    as fit in ``cache_bytes``, so a training run that draws frames at random
    decodes each shard once rather than once per step).
    """

    def __init__(self, root: str | os.PathLike, cache_shards: int | None = None, allow_incomplete: bool = False,
                 cache_bytes: int = 1280 << 20) -> None:
        self.root = Path(root)
        path = self.root / "manifest.json"
        if not self.root.is_dir():
            raise InputError(f"dataset not found: {self.root} is not a folder; build one with 'vasa3d synth'")
        if not path.exists():
            raise InputError(f"{self.root} is not a vasa3d dataset (no manifest.json); build one with 'vasa3d synth'")
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"{path} is corrupt ({exc}); rebuild the dataset") from None
        check_manifest(manifest, path)
        if not manifest["complete"] and not allow_incomplete:
            have = len(list((self.root / "shards").glob("*.npz")))
            raise InputError(f"{self.root} is incomplete ({have} of {manifest['shards']} shards); rerun the "
                             "command that built it to finish")
        self.manifest: dict = manifest
        self.width = manifest["width"]
        self.height = manifest["height"]
        self.fps = float(manifest["fps"])
        self.shard_size = manifest["shard_size"]
        self._n = manifest["frames"]
        self._check_files(allow_incomplete)
        test = np.concatenate([np.arange(a, b) for a, b in manifest["split"]["test"]] or [np.zeros(0)])
        self.test_indices: np.ndarray = test.astype(np.int64)
        keep = np.ones(self._n, bool)
        keep[self.test_indices] = False
        self.train_indices: np.ndarray = np.nonzero(keep)[0].astype(np.int64)
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        if cache_shards is None:
            shard_bytes = self.shard_size * self.width * self.height * 4  # rgb + mask, uint8
            cache_shards = cache_bytes // max(1, shard_bytes)
        self._cache_size = max(1, int(cache_shards))

    def __len__(self) -> int:
        return self._n

    def _layout(self, n: int) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
        """The arrays of ``n`` frames' latents and cameras, as ``plan.npz`` and every shard hold them."""
        f4 = np.dtype(np.float32)
        lat = self.manifest["latent"]
        return {"z_dyn": (f4, (n, len(lat["dyn_names"]))), "z_pose": (f4, (n, len(lat["pose_names"]))),
                "K": (f4, (n, 3, 3)), "world_to_cam": (f4, (n, 4, 4))}

    def _check_files(self, allow_incomplete: bool) -> None:
        """Every size that ``plan.npz`` and the shards claim, against the manifest and the real files (no
        array is read), so that a lying header is one line before any work rather than a huge allocation."""
        u1, H, W = np.dtype(np.uint8), self.height, self.width
        files = [(self.root / "plan.npz", self._layout(self._n))]
        for s in range(self.manifest["shards"]):
            path = self.root / "shards" / f"{s:06d}.npz"
            if not path.exists():
                if allow_incomplete:
                    continue
                raise InputError(f"{path} is missing; rerun the command that built {self.root} to finish it")
            n = min(self.shard_size, self._n - s * self.shard_size)
            files.append((path, {**self._layout(n), "rgb": (u1, (n, H, W, 3)), "mask": (u1, (n, H, W)),
                                 "index": (np.dtype(np.int64), (n,))}))
        for path, want in files:
            try:
                _expect_layout(path, want)
            except FileNotFoundError:
                raise InputError(f"{path} is missing; rebuild the dataset") from None
            except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
                raise InputError(f"{path} is corrupt ({exc}); delete it and rerun the command that built "
                                 f"{self.root}") from None

    def _shard(self, s: int) -> dict[str, np.ndarray]:
        if s in self._cache:
            self._cache.move_to_end(s)
            return self._cache[s]
        path = self.root / "shards" / f"{s:06d}.npz"
        if not path.exists():
            raise InputError(f"{path} is missing; rerun the command that built {self.root} to finish it")
        try:
            data = _read_npz(path)
            n = len(data["index"])
            if data["rgb"].shape != (n, self.height, self.width, 3) or data["mask"].shape != (n, self.height, self.width):
                raise ValueError("frame arrays have the wrong shape")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise InputError(f"{path} is corrupt ({exc}); delete it and rerun the command that built "
                             f"{self.root}") from None
        self._cache[s] = data
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return data

    def frame(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Raw frame ``i``: ``rgb (H, W, 3) uint8`` and ``mask (H, W) uint8``."""
        i = self._check(i)
        d = self._shard(i // self.shard_size)
        k = i % self.shard_size
        return d["rgb"][k], d["mask"][k]

    def _check(self, i: int) -> int:
        i = int(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"frame {i} out of range for a dataset of {self._n}")
        return i

    def __getitem__(self, i: int) -> FrameSample:
        i = self._check(i)
        d = self._shard(i // self.shard_size)
        k = i % self.shard_size
        return FrameSample(
            image=torch.from_numpy(d["rgb"][k].astype(np.float32) / 255.0),
            mask=torch.from_numpy(d["mask"][k].astype(np.float32)[..., None] / 255.0),
            z_dyn=torch.from_numpy(d["z_dyn"][k].copy()),
            z_pose=torch.from_numpy(d["z_pose"][k].copy()),
            camera=Camera(torch.from_numpy(d["K"][k].copy()), torch.from_numpy(d["world_to_cam"][k].copy()),
                          self.width, self.height),
            index=i,
        )

    @property
    def motion(self) -> MotionLatent:
        """All frames' latents (from ``plan.npz``, without reading any shard)."""
        plan = _read_npz(self.root / "plan.npz")
        lat = self.manifest["latent"]
        return MotionLatent(plan["z_dyn"], plan["z_pose"], self.fps, lat["schema"],
                            tuple(lat["dyn_names"]), tuple(lat["pose_names"]))

    @property
    def cameras(self) -> Camera:
        """All frames' cameras, batched ``(T, ...)``."""
        plan = _read_npz(self.root / "plan.npz")
        return Camera(torch.from_numpy(plan["K"]), torch.from_numpy(plan["world_to_cam"]), self.width, self.height)

    @property
    def portrait(self) -> np.ndarray | None:
        """The portrait the frames were made from (``(S, S, 3) uint8``), when stored."""
        name = self.manifest.get("portrait")
        if not name or not (self.root / name).exists():
            return None
        from vasa3d.io import load_image
        return load_image(self.root / name)


def cameras_for(cameras: Camera | Sequence[Camera], n_frames: int) -> Camera:
    """One batched camera of length ``n_frames`` from a single camera or a list."""
    if isinstance(cameras, Camera):
        return cameras
    cams = list(cameras)
    if len(cams) not in (1, n_frames):
        raise ValueError(f"{len(cams)} cameras for {n_frames} frames")
    return Camera.stack(cams)
