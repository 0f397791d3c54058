"""Debian's headless Chromium through Selenium and chromium-driver (nothing is downloaded)."""

from __future__ import annotations

import base64
import io
import shutil

import numpy as np
import pytest

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"

# collects every frame the page's <video> presents: wall time, RTP timestamp and a JPEG of the picture
COLLECTOR = """
const video = document.getElementById('video');
const canvas = document.createElement('canvas');
canvas.width = canvas.height = arguments[0];
const ctx = canvas.getContext('2d');
window.__frames = [];
window.__collecting = true;
const tick = (now, meta) => {
  if (!window.__collecting) return;
  ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
  window.__frames.push({t: performance.timeOrigin + performance.now(), rtp: meta.rtpTimestamp ?? null,
                        shown: meta.presentedFrames, img: canvas.toDataURL('image/jpeg', 0.9)});
  video.requestVideoFrameCallback(tick);
};
video.requestVideoFrameCallback(tick);
"""


def chromium_or_skip():
    if not (shutil.which(CHROMIUM) and shutil.which(DRIVER)):
        pytest.skip("no Chromium: apt-get install chromium chromium-driver (.ci/run does) to run the browser tests")
    pytest.importorskip("selenium", reason="selenium is in the 'test' extra (requirements.lock)")


def launch(fake_audio: str | None = None, width: int = 1100, height: int = 900, plain: bool = False):
    """Headless Chromium; ``plain``: without the fake media devices and loopback WebRTC flags,
    as an ordinary user's browser is."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    args = ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
            f"--window-size={width},{height}", "--autoplay-policy=no-user-gesture-required",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-default-apps"]
    if not plain:
        args += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 # WebRTC stays on the loopback interface: loopback candidates, no mDNS names
                 "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns"]
    for arg in args:
        options.add_argument(arg)
    if fake_audio:
        options.add_argument(f"--use-file-for-fake-audio-capture={fake_audio}")
    return webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)


def take_frames(driver) -> list[dict]:
    """The frames collected since the last call, with ``image`` decoded to ``(H, W, 3)`` uint8."""
    from PIL import Image

    frames = driver.execute_script("const f = window.__frames; window.__frames = []; return f;")
    for f in frames:
        raw = base64.b64decode(f.pop("img").split(",", 1)[1])
        f["image"] = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
    return frames
