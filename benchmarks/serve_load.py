"""Bounded load test of `vasa3d serve` on localhost (issue 12).

N clients (default 4) each start a live session, connect over WebRTC (aiortc as the client), and talk
for DURATION seconds (synthesized speech pushed as 16 kHz PCM over the session's WebSocket, in real
time). The server is `vasa3d serve` in its own process, as a user runs it. Reports how many were
admitted and refused, the video fps each admitted client received, whether the server answered a
probe every second throughout and whether it was still running at the end. Traffic stays on
127.0.0.1; every loop is bounded in time.

    .venv/bin/python benchmarks/serve_load.py AVATAR.vasa3d [--clients 4] [--duration 120] [--size 384]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_process import ServerProcess, client_ice_on_loopback  # noqa: E402


async def client(n: int, server: ServerProcess, speech: np.ndarray, duration: float, out: dict) -> None:
    import websockets
    from aiortc import RTCPeerConnection, RTCSessionDescription

    status, reply = await asyncio.to_thread(server.request, "POST", "/api/sessions", {"avatar": "bench"})
    if status != 201:
        out[n] = {"admitted": False, "status": status, "reply": reply.get("error") if isinstance(reply, dict) else reply}
        return
    sid = reply["id"]
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    pc.addTransceiver("audio", direction="recvonly")
    times: list[float] = []
    done = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        if track.kind != "video":
            return

        async def read():
            while not done.is_set():
                try:
                    await asyncio.wait_for(track.recv(), 5.0)
                except Exception:  # noqa: BLE001 - ended or stalled
                    return
                times.append(time.time())

        asyncio.ensure_future(read())

    await pc.setLocalDescription(await pc.createOffer())
    status, answer = await asyncio.to_thread(server.request, "POST", f"/api/sessions/{sid}/offer",
                                             {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp})
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    closed = None
    # no keepalive pings: this process decodes several clients' video and may answer late itself
    async with websockets.connect(f"ws://127.0.0.1:{server.port}/api/sessions/{sid}/ws", ping_interval=None) as ws:
        await ws.send(json.dumps({"type": "audio_format", "rate": 16000}))

        async def drain():  # read what the server sends (stats): an unread socket stops answering pings
            try:
                async for _ in ws:
                    pass
            except websockets.exceptions.ConnectionClosed:
                pass

        reader = asyncio.ensure_future(drain())
        start = time.time()
        chunk, i = 1600, 0  # 100 ms chunks, sent in real time
        while time.time() - start < duration:
            pos = (i * chunk) % (len(speech) - chunk)
            try:
                await ws.send((speech[pos : pos + chunk] * 32767).astype("<i2").tobytes())
            except websockets.exceptions.ConnectionClosed as exc:  # reported, not a crash of the benchmark
                closed = f"the server closed the socket after {time.time() - start:.1f} s: {exc}"
                break
            i += 1
            await asyncio.sleep(max(0.0, start + i * 0.1 - time.time()))
        reader.cancel()
    done.set()
    await pc.close()
    _, stats = await asyncio.to_thread(server.request, "GET", f"/api/sessions/{sid}")
    await asyncio.to_thread(server.request, "DELETE", f"/api/sessions/{sid}")
    t = np.asarray(times)
    steady = t[t > t[0] + 5.0] if len(t) else t  # after the first 5 s
    per_second = np.histogram(steady, bins=np.arange(steady[0], steady[-1], 1.0))[0] if len(steady) > 2 else [0]
    out[n] = {"admitted": True, "closed": closed, "frames": len(t), "fps": (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 2 else 0.0,
              "min_fps_1s": int(np.min(per_second)), "engine": {k: stats.get(k) for k in ("fps", "render_size", "dropped", "latency_ms")}}


async def main_async(args) -> dict:
    from vasa3d.motion.synth import synthesize
    client_ice_on_loopback()
    folder = Path(tempfile.mkdtemp(prefix="vasa3d-load-"))
    (folder / "avatars").mkdir()
    shutil.copyfile(args.avatar, folder / "avatars" / "bench.vasa3d")
    server = ServerProcess(folder / "avatars", args.size)
    from scipy.signal import resample_poly

    said = synthesize("Hello! I am a talking head made from a single photo. Watch my lips move as I speak.",
                      voice="female")
    speech = resample_poly(said.samples, 16000, said.sample_rate).astype(np.float32)
    alive = {"ok": 0, "failed": 0}
    stop = threading.Event()

    def probe():
        while not stop.wait(1.0):
            try:
                status, _ = server.request("GET", "/api", timeout=10)
            except OSError:
                status = None
            alive["ok" if status == 200 else "failed"] += 1

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    out: dict = {}
    await asyncio.gather(*(client(n, server, speech, args.duration, out) for n in range(args.clients)))
    stop.set()
    prober.join()
    crashed = server.crashed()
    exit_code = server.stop()
    shutil.rmtree(folder, ignore_errors=True)
    return {"clients": out, "server_probes": alive, "server_crashed": crashed, "server_exit_code": exit_code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("avatar")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()
    import os

    result = asyncio.run(main_async(args))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    print(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
