"""One creation job, run by the server in a child process: ``python -m vasa3d.serve.job_worker JOB_DIR``.

Runs :func:`vasa3d.pipeline.create` on ``JOB_DIR/photo.*`` into ``JOB_DIR/avatar.vasa3d`` and keeps
``status.json`` (stage, count, ETA) and ``preview.jpg`` (the avatar so far) up to date for the page.
A failure leaves its one-line message in ``error.txt`` and exits 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from vasa3d.serve.jobs import write_json

STATUS_EVERY_S = 0.5
PREVIEW_EVERY_S = 10.0


class StatusWriter:
    """A progress observer that writes ``status.json`` and ``preview.jpg`` at a bounded rate."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.stage, self.stage_start = "", time.time()
        self.last_write = self.last_preview = 0.0
        self.start = time.time()

    def __call__(self, description: str, done: int, total: int | None, preview=None) -> None:
        now = time.time()
        if description != self.stage:
            self.stage, self.stage_start, self.stage_done0 = description, now, done
            self.last_write = 0.0
        if preview is not None and now - self.last_preview >= PREVIEW_EVERY_S:
            self.last_preview = now
            self.save_preview(preview())
        if now - self.last_write < STATUS_EVERY_S and not (total and done >= total):
            return
        self.last_write = now
        eta = None
        step_done = done - self.stage_done0
        if total and step_done > 0:
            eta = (now - self.stage_start) / step_done * (total - done)
        write_json(self.folder / "status.json", {"stage": description, "done": done, "total": total, "eta": eta,
                                                 "elapsed": now - self.start, "updated": now})

    def save_preview(self, image) -> None:
        import numpy as np
        from PIL import Image

        array = np.asarray(image.detach().cpu().numpy() if hasattr(image, "detach") else image, dtype=np.float32)
        array = (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8) if array.max() <= 1.0 else array.astype(np.uint8)
        picture = Image.fromarray(array)
        picture.thumbnail((256, 256))
        tmp = self.folder / ".preview.tmp.jpg"
        picture.save(tmp, quality=85)
        tmp.replace(self.folder / "preview.jpg")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vasa3d.serve.job_worker")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--frames", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=0)
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    from vasa3d.errors import VasaError

    try:
        from vasa3d.io import load_image
        from vasa3d.pipeline import CreateConfig, create
        from vasa3d.progress import observe

        photo = next(folder.glob("photo.*"))
        image = load_image(photo)
        writer = StatusWriter(folder)
        writer.save_preview(image)
        config = CreateConfig(preset=args.preset, frames=args.frames, iterations=args.iterations)
        with observe(writer):
            create(image, folder / "avatar.vasa3d", config, quiet=True, log=lambda *a: print(*a, flush=True))
    except VasaError as exc:
        (folder / "error.txt").write_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return 1
    except Exception as exc:  # noqa: BLE001 - the page gets one line; the traceback goes to log.txt
        import traceback

        traceback.print_exc()
        (folder / "error.txt").write_text(f"internal error: {type(exc).__name__}: {str(exc)[:200]}".splitlines()[0])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
