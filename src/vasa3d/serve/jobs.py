"""Creation jobs: photo -> avatar in a background worker, one at a time, that outlive the page.

Each job is a folder ``JOBS/create/<id>/`` holding the uploaded photo, ``job.json``
(what was asked and where it stands), ``status.json`` (stage, count, ETA, written by
the worker) and ``preview.jpg``.  The work itself (:func:`vasa3d.pipeline.create`)
runs in a child process (:mod:`vasa3d.serve.job_worker`), so a cancel is a clean
stop and a crash of the training never takes the server down.  Jobs left queued or
running when the server stopped are queued again at the next start; ``create``
resumes from its work folder.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from vasa3d.errors import VasaError
from vasa3d.serve.avatars import AvatarStore
from vasa3d.serve.errors import NotFound
from vasa3d.serve.security import check_server_id

PRESETS = ("demo", "cpu-quick", "gpu", "paper")
KEEP_JOBS = 50


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` so that a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class JobManager:
    """Queue and run creation jobs; every method is safe to call from any thread."""

    def __init__(self, jobs_dir: Path, store: AvatarStore, frames: int = 0, iterations: int = 0) -> None:
        self.dir = jobs_dir / "create"
        self.store, self.frames, self.iterations = store, frames, iterations
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._proc: subprocess.Popen | None = None
        self._running: str | None = None
        self.dir.mkdir(parents=True, exist_ok=True)
        for job in self.list():  # a server restart: queue again what was not finished
            if job["state"] in ("queued", "running"):
                self._update(job["id"], state="queued")
        self._thread = threading.Thread(target=self._loop, name="vasa3d-jobs", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ requests
    def new_folder(self) -> tuple[str, Path]:
        job_id = secrets.token_hex(8)
        folder = self.dir / job_id
        folder.mkdir()
        return job_id, folder

    def submit(self, job_id: str, name: str, preset: str, photo: Path) -> dict:
        job = {"id": job_id, "name": name, "preset": preset, "photo": photo.name, "state": "queued",
               "created": time.time(), "error": None, "avatar": None}
        write_json(self.dir / job_id / "job.json", job)
        self._prune()
        self._wake.set()
        return self.get(job_id)

    def get(self, job_id: object) -> dict:
        folder = self.dir / check_server_id(job_id, "job")
        job = read_json(folder / "job.json")
        if not job:
            raise NotFound(f"no job {job_id}; GET /api/jobs lists them")
        status = read_json(folder / "status.json") if job["state"] == "running" else {}
        job["progress"] = status or None
        job["preview"] = (folder / "preview.jpg").is_file()
        return job

    def list(self) -> list[dict]:
        jobs = []
        for folder in self.dir.iterdir() if self.dir.is_dir() else []:
            if folder.is_dir() and (folder / "job.json").is_file():
                try:
                    jobs.append(self.get(folder.name))
                except (NotFound, VasaError):
                    continue
        return sorted(jobs, key=lambda j: j.get("created", 0), reverse=True)

    def preview(self, job_id: object) -> Path:
        p = self.dir / check_server_id(job_id, "job") / "preview.jpg"
        if not p.is_file():
            raise NotFound("no preview yet")
        return p

    def cancel(self, job_id: object) -> dict:
        job = self.get(job_id)
        with self._lock:
            if job["state"] == "queued":
                self._update(job["id"], state="cancelled", finished=time.time())
            elif job["state"] == "running" and self._running == job["id"] and self._proc is not None:
                self._update(job["id"], state="cancelling")
                self._proc.terminate()
        return self.get(job_id)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        with self._lock:
            if self._proc is not None:
                self._proc.terminate()
        self._thread.join(timeout=15)

    # ------------------------------------------------------------------ the worker
    def _update(self, job_id: str, **fields) -> None:
        path = self.dir / job_id / "job.json"
        write_json(path, {**read_json(path), **fields})

    def _next(self) -> str | None:
        queued = [j for j in self.list() if j["state"] == "queued"]
        return min(queued, key=lambda j: j["created"])["id"] if queued else None

    def _loop(self) -> None:
        while not self._stop:
            job_id = self._next()
            if job_id is None:
                self._wake.wait(timeout=5.0)
                self._wake.clear()
                continue
            self._run(job_id)

    def _run(self, job_id: str) -> None:
        folder = self.dir / job_id
        job = read_json(folder / "job.json")
        cmd = [sys.executable, "-m", "vasa3d.serve.job_worker", str(folder), "--preset", job["preset"],
               "--frames", str(self.frames), "--iterations", str(self.iterations)]
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
        with self._lock:
            if self._stop:
                return
            self._update(job_id, state="running", started=time.time())
            with open(folder / "log.txt", "ab") as log:
                self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                              cwd=folder, env=env)
            self._running = job_id
        try:
            rc = self._proc.wait()
        finally:
            with self._lock:
                self._proc, self._running = None, None
        state = read_json(folder / "job.json").get("state")
        if state == "cancelling" or self._stop and rc != 0:
            if self._stop and state != "cancelling":
                self._update(job_id, state="queued")  # the server is stopping: run it again next time
                return
            shutil.rmtree(folder / "avatar.vasa3d.work", ignore_errors=True)
            self._update(job_id, state="cancelled", finished=time.time())
            return
        made = folder / "avatar.vasa3d"
        if rc == 0 and made.is_file():
            avatar_id = self.store.new_id(job["name"])
            self.store.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.store.folder / f".{avatar_id}.{job_id}.tmp"  # hidden until complete
            shutil.copyfile(made, tmp)
            os.replace(tmp, self.store.folder / f"{avatar_id}.vasa3d")
            made.unlink()
            self._update(job_id, state="done", avatar=avatar_id, finished=time.time())
        else:
            error = (folder / "error.txt").read_text().strip() if (folder / "error.txt").is_file() else ""
            self._update(job_id, state="failed", finished=time.time(),
                         error=error or f"the creation worker stopped unexpectedly (exit status {rc})")

    def _prune(self) -> None:
        done = [j for j in self.list() if j["state"] in ("done", "failed", "cancelled")]
        for job in done[KEEP_JOBS:]:
            shutil.rmtree(self.dir / job["id"], ignore_errors=True)
