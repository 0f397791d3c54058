"""`vasa3d serve` in its own process for the web-app benchmarks (serve_load.py, serve_latency.py)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serve"))
from conftest import Server, free_port  # noqa: E402


class ServerProcess(Server):
    """`vasa3d serve` in its own process, as a user runs it (the clients here would otherwise share
    its interpreter and GIL); ``request`` as the tests' in-thread Server has it."""

    def __init__(self, avatars: Path, size: int) -> None:
        self.port = free_port()
        self.host = "127.0.0.1"
        self.base = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).with_name("vasa3d")
        self.proc = subprocess.Popen([str(exe), "serve", "--avatars", str(avatars), "--port", str(self.port),
                                      "--size", str(size)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(self.base + "/api", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("vasa3d serve did not start: " + self.proc.stderr.read().decode()[-500:])
                time.sleep(0.2)

    def stop(self) -> int | None:
        """Stop the server; its exit code (None if it had to be killed)."""
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=20)
        except Exception:  # noqa: BLE001 - it did not stop: kill it
            self.proc.kill()
            return None

    def crashed(self) -> bool:
        return self.proc.poll() is not None


def client_ice_on_loopback() -> None:
    """aiortc clients in this process gather 127.0.0.1 candidates, as a browser started with loopback
    WebRTC allowed does (aioice leaves loopback out by default, and a loopback server ignores others)."""
    import aioice.ice

    from vasa3d.serve.rtc import _loopback_host_addresses

    aioice.ice.get_host_addresses = _loopback_host_addresses
