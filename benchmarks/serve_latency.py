"""Browser latency of `vasa3d serve` (issue 12): from an audio burst leaving the page to the frame that shows it.

Headless Chromium (Debian's, through Selenium) opens the page and starts a live session; the page's
microphone track is replaced by a WebAudio oscillator, which sends 0.4 s bursts of a loud 200 Hz tone
every 2.5 s. Frames the page's <video> shows are captured (requestVideoFrameCallback) with the wall
time they were shown; the latency of a burst is the time from its start to the first frame whose lip
gap (mediapipe landmarks) rises above the idle mouth. Prints the median and p95 over the bursts.

    .venv/bin/python benchmarks/serve_latency.py AVATAR.vasa3d [--size 384] [--bursts 12]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serve"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import COLLECTOR, launch, take_frames  # noqa: E402
from serve_process import ServerProcess  # noqa: E402

OSCILLATOR = """
const ctx = new AudioContext();
const osc = ctx.createOscillator(); osc.frequency.value = 200;
const gain = ctx.createGain(); gain.gain.value = 0;
const dest = ctx.createMediaStreamDestination();
osc.connect(gain).connect(dest); osc.start();
window.__burst = () => { gain.gain.setValueAtTime(0.6, ctx.currentTime); gain.gain.setValueAtTime(0, ctx.currentTime + 0.4);
                         return performance.timeOrigin + performance.now(); };
state.audioTx.sender.replaceTrack(dest.stream.getAudioTracks()[0]);
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("avatar")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--bursts", type=int, default=12)
    parser.add_argument("--capture", type=int, default=192,
                        help="px of the page's frames kept for measuring (JPEG per frame in the browser; "
                             "the browser shares the CPU with the server)")
    args = parser.parse_args()
    from selenium.webdriver.common.by import By

    from vasa3d.face import detect_landmarks
    from vasa3d.face import landmarks as L
    folder = Path(tempfile.mkdtemp(prefix="vasa3d-latency-"))
    (folder / "avatars").mkdir()
    shutil.copyfile(args.avatar, folder / "avatars" / "bench.vasa3d")
    server = ServerProcess(folder / "avatars", args.size)  # vasa3d serve, as a user runs it
    driver = launch()
    try:
        driver.get(server.base + "/")
        time.sleep(1.0)
        driver.find_element(By.CSS_SELECTOR, "#avatars li[data-id=bench]").click()
        driver.find_element(By.ID, "talk").click()
        deadline = time.time() + 60
        while driver.execute_script("return document.getElementById('video').readyState") < 2:
            if time.time() > deadline:
                raise SystemExit("the live video did not start")
            time.sleep(0.2)
        driver.execute_script(OSCILLATOR)
        driver.execute_script(COLLECTOR, args.capture)
        time.sleep(3.0)
        onsets = []
        for _ in range(args.bursts):
            onsets.append(driver.execute_script("return window.__burst();") / 1000.0)
            time.sleep(2.5)
        frames = take_frames(driver)
        session = driver.execute_script("return document.body.dataset.session")
        _, stats = server.request("GET", f"/api/sessions/{session}")
    finally:
        driver.quit()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    t = np.asarray([f["t"] for f in frames]) / 1000.0
    gaps = []
    for f in frames:
        lm = detect_landmarks(f["image"])
        gaps.append(np.nan if lm is None else L.lip_gap(lm) / L.face_width(lm))
    gaps = np.asarray(gaps)
    latencies = []
    for onset in onsets:
        before = gaps[(t > onset - 1.0) & (t < onset)]
        window = (t >= onset) & (t < onset + 1.5)
        if not np.isfinite(before).any() or not window.any():
            continue
        rest = np.nanmedian(before)
        speaking = np.nanmax(gaps[window])
        threshold = rest + 0.5 * (speaking - rest)
        opened = np.nonzero(window & (gaps > threshold))[0]
        if len(opened) and speaking - rest > 0.01:
            latencies.append(1000.0 * (t[opened[0]] - onset))
    lat = np.asarray(latencies)
    result = {"size": args.size, "capture": args.capture, "bursts": len(onsets), "measured": len(lat),
              "latency_ms": {"median": float(np.median(lat)) if len(lat) else None,
                             "p95": float(np.percentile(lat, 95)) if len(lat) else None, "all": lat.round().tolist()},
              "page_fps": float((len(t) - 1) / (t[-1] - t[0])) if len(t) > 1 else 0.0,
              "engine": {k: stats.get(k) for k in ("fps", "render_size", "dropped", "latency_ms")}}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
