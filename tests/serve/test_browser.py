"""The page in a real headless Chromium (issue 12): live talking over WebRTC with Chromium's fake microphone
playing speech, drag to orbit, interrupt, and creating an avatar from an uploaded photo.

Frames are captured from the page's <video> element (requestVideoFrameCallback -> canvas -> JPEG) and
measured the way tests/e2e/test_talking_head.py measures lip gaps (mediapipe landmarks).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import soundfile as sf

from .browser import COLLECTOR, chromium_or_skip, launch, take_frames
from .conftest import Server

pytestmark = pytest.mark.browser

CAPTURE = 384


@pytest.fixture(scope="module")
def tiny_avatars(tmp_path_factory):
    """A folder with the small trained astronaut avatar of tests/data/serve (see its README)."""
    chromium_or_skip()
    import shutil
    from pathlib import Path

    folder = tmp_path_factory.mktemp("serve") / "avatars"
    folder.mkdir()
    shutil.copyfile(Path(__file__).parents[1] / "data" / "serve" / "astronaut-small.vasa3d", folder / "tiny.vasa3d")
    return folder


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory):
    """Synthesized sentences with pauses, 48 kHz 16-bit: what Chromium's fake microphone plays (looped)."""
    from vasa3d.motion.synth import synthesize

    speech = synthesize("Hello! I am a talking head made from a single photo. Watch my lips move as I speak.",
                        voice="female")
    sr = speech.sample_rate
    pause = np.zeros(int(0.6 * sr), np.float32)
    samples = np.concatenate([pause, speech.samples, pause])
    path = tmp_path_factory.mktemp("mic") / "speech.wav"
    sf.write(path, samples, sr, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def live_page(tiny_avatars, speech_wav):
    from selenium.webdriver.common.by import By

    from vasa3d.serve import ServeConfig, create_app

    server = Server(create_app(ServeConfig(avatars=str(tiny_avatars), size=384, max_sessions=2)))
    driver = launch(fake_audio=str(speech_wav))
    try:
        start_talking(driver, server)
        driver.find_element(By.ID, "mic").click()  # the fake microphone starts talking
        wait_for(driver, "return state.mic !== null", 10)
        driver.execute_script(COLLECTOR, CAPTURE)
        yield driver, server
    finally:
        driver.quit()
        server.stop()


def start_talking(driver, server):
    """Open the page, pick the tiny avatar, start a live session and wait for its video."""
    from selenium.webdriver.common.by import By

    driver.get(server.base + "/")
    wait_for(driver, "return document.querySelector('#avatars li[data-id=tiny]') !== null", 20)
    driver.find_element(By.CSS_SELECTOR, "#avatars li[data-id=tiny]").click()
    driver.find_element(By.ID, "talk").click()
    wait_for(driver, "return document.getElementById('video').readyState >= 2", 60)


def wait_for(driver, script, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if driver.execute_script(script):
            return
        time.sleep(0.1)
    error = driver.execute_script("return document.getElementById('error').textContent")
    raise AssertionError(f"timed out waiting for: {script} (page error: {error!r})")


def capture(driver, seconds):
    take_frames(driver)
    time.sleep(seconds)
    return take_frames(driver)


def _load() -> float:
    import os

    return os.getloadavg()[0]


def lip_gaps(frames):
    from vasa3d.face import detect_landmarks
    from vasa3d.face import landmarks as L

    gaps, front = [], []
    for f in frames:
        lm = detect_landmarks(f["image"])
        gaps.append(np.nan if lm is None else L.lip_gap(lm) / L.face_width(lm))
        front.append(np.nan if lm is None else L.frontalness(lm))
    return np.asarray(gaps), np.asarray(front)


@pytest.mark.realtime  # make test runs it alone, after the tests that run two at a time
def test_live_talk_fps_lipsync_drag_interrupt(live_page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver, server = live_page
    session = driver.execute_script("return document.body.dataset.session")

    # the media runs over loopback only
    remote = driver.execute_async_script("""
        const done = arguments[0];
        state.pc.getStats().then((stats) => {
          let pair = null;
          stats.forEach((r) => { if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.nominated) pair = r; });
          const remote = pair && stats.get(pair.remoteCandidateId);
          done(remote ? remote.address : null);
        });""")
    assert remote == "127.0.0.1"

    # the live checks need an engine that keeps real time; a machine busy with other work cannot. The
    # engine starts cautiously after the connection's first frames and climbs back to the full render
    # size when there is room: give it up to 12 s; a smaller render (scaled up) still shows the mouth
    deadline = time.time() + 12.0
    while True:
        time.sleep(1.0)
        _, stats = server.request("GET", f"/api/sessions/{session}")
        _, reply = server.request("GET", f"/api/sessions/{session}/timeline")
        emitted = [t for _, t, _ in reply["frames"] if t > time.time() - 2.0]
        engine_fps = len(emitted) / 2.0
        if (engine_fps >= 20 and stats.get("render_size", stats["size"]) >= stats["size"]) or time.time() > deadline:
            break
    if engine_fps < 20:
        pytest.skip(f"the machine is too busy for real time: the engine made {engine_fps:.1f} fps at "
                    f"{stats.get('render_size')} px (load average {_load():.1f}); the live checks need it idle")

    # --- frames arrive at >= 15 fps while the microphone talks
    frames = capture(driver, 8.0)
    span = (frames[-1]["t"] - frames[0]["t"]) / 1000.0
    fps = (len(frames) - 1) / span
    assert fps >= 15.0, f"{fps:.1f} fps shown in the page"

    # --- the mouth moves with the speech: lip gap vs the loudness of the audio each frame carries
    gaps, _ = lip_gaps(frames)
    ok = np.isfinite(gaps)
    assert ok.mean() >= 0.9, f"face found in {ok.mean():.0%} of the page's frames"
    _, reply = server.request("GET", f"/api/sessions/{session}/timeline")
    timeline = {int(i): (t, rms) for i, t, rms in reply["frames"]}
    rtp = np.asarray([f["rtp"] for f in frames], float)
    rel = np.round((rtp - rtp[0]) / 3600.0).astype(int)  # 90 kHz clock, 25 fps
    t_cap = np.asarray([f["t"] for f in frames]) / 1000.0
    best = (-1.0, None)
    for first in timeline:  # the index of the first captured frame: its emission precedes its display by < 0.6 s
        delay = t_cap[0] - timeline[first][0]
        if not 0.0 <= delay <= 0.6 or not all(first + k in timeline for k in rel):
            continue
        loud = np.asarray([timeline[first + k][1] for k in rel])
        r = np.corrcoef(gaps[ok], loud[ok])[0, 1]
        if r > best[0]:
            best = (r, delay)
    r, delay = best
    assert delay is not None, "captured frames could not be matched to the server's timeline"
    assert r >= 0.5, f"lip gap vs loudness r = {r:.2f} (display delay {1000 * delay:.0f} ms)"

    # --- a drag turns the view
    driver.find_element(By.ID, "mic").click()  # microphone off
    driver.find_element(By.ID, "interrupt").click()
    time.sleep(0.8)
    _, before = lip_gaps(capture(driver, 0.6))
    viewer = driver.find_element(By.ID, "viewer")
    ActionChains(driver).move_to_element(viewer).click_and_hold().move_by_offset(180, 0).release().perform()
    time.sleep(1.0)
    _, after = lip_gaps(capture(driver, 0.6))
    turn = abs(np.nanmedian(after) - np.nanmedian(before))
    assert turn > 0.1, f"frontalness changed by only {turn:.3f} after a drag"
    driver.find_element(By.ID, "reset-view").click()

    # --- interrupt brings the mouth to rest
    text = driver.find_element(By.ID, "text")
    text.send_keys("Now I will keep talking for a long while so that you can stop me in the middle of it.")
    driver.find_element(By.CSS_SELECTOR, "#say button[type=submit]").click()
    # the speech starts once the server has synthesized it: on a loaded machine that can take more than the
    # first window, so look in 1 s windows (up to 8 s) until the mouth moves, then interrupt
    for _ in range(8):
        g_talk, _ = lip_gaps(capture(driver, 1.0))
        if np.nanpercentile(g_talk, 90) > 0.02:
            break
    driver.find_element(By.ID, "interrupt").click()
    clicked = time.time()
    after = capture(driver, 2.0)
    g_after, _ = lip_gaps(after)
    t_after = np.asarray([f["t"] for f in after]) / 1000.0 - clicked
    # the page shows a frame some 0.2-0.6 s after the engine makes it (the render queue and the browser's
    # jitter buffer), longer on a loaded machine: once measured, the mouth shut 0.75 s after the click
    rest = g_after[t_after > 1.0]
    speaking = np.nanpercentile(g_talk, 90)
    print(f"browser live: engine {engine_fps:.1f} fps at {stats.get('render_size')} px, page {fps:.1f} fps, "
          f"lip r {r:.2f}, drag {turn:.3f}, rest {np.nanmax(rest):.3f} vs talking {speaking:.3f}, "
          f"load {_load():.1f}")  # shown with pytest -s
    assert np.nanmax(rest) < 0.5 * speaking, (
        f"after interrupt the lip gap is {np.nanmax(rest):.3f}; while talking it reached {speaking:.3f}")
    status, stats = server.request("GET", f"/api/sessions/{session}")
    assert status == 200 and stats["connections"] >= 1


def test_plain_browser_connects_to_a_loopback_server(tiny_avatars):
    """No WebRTC flags, no microphone permission (so Chromium hides its addresses behind mDNS names):
    the default loopback server still gets video to the page (the browser's checks pair as peer-reflexive)."""
    from vasa3d.serve import ServeConfig, create_app

    server = Server(create_app(ServeConfig(avatars=str(tiny_avatars), size=128, max_sessions=2)))
    driver = launch(plain=True)
    try:
        start_talking(driver, server)
        # the pair the transport selected (a pair's own 'nominated' flag can lag behind the media that flows)
        deadline, pairs = time.time() + 10, []
        while time.time() < deadline and not pairs:
            pairs = driver.execute_async_script("""
                const done = arguments[0];
                state.pc.getStats().then((stats) => {
                  const out = [];
                  stats.forEach((r) => {
                    if (r.type === 'transport' && r.selectedCandidatePairId) {
                      const pair = stats.get(r.selectedCandidatePairId);
                      if (pair) out.push(stats.get(pair.remoteCandidateId).address);
                    }
                  });
                  done(out);
                });""")
            if not pairs:
                time.sleep(0.2)
        assert pairs == ["127.0.0.1"], pairs
        driver.execute_script(COLLECTOR, 64)
        frames = capture(driver, 2.0)
        assert len(frames) >= 10, f"{len(frames)} frames in 2 s"
        assert max(f["image"].mean() for f in frames) > 10  # the head, not a black video
    finally:
        driver.quit()
        server.stop()


def test_create_an_avatar_from_the_page(tiny_avatars, tmp_path):
    from PIL import Image
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    from skimage import data

    from vasa3d.serve import ServeConfig, create_app

    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    avatars = tmp_path / "avatars"
    avatars.mkdir()
    config = ServeConfig(avatars=str(avatars), create_frames=16, create_iterations=30)  # the demo preset, shortened
    server = Server(create_app(config))
    driver = launch()
    try:
        driver.get(server.base + "/")
        wait_for(driver, "return document.getElementById('avatars').textContent.includes('No avatars')", 20)
        driver.find_element(By.ID, "photo").send_keys(str(photo))
        driver.find_element(By.ID, "name").send_keys("astro")
        Select(driver.find_element(By.ID, "preset")).select_by_value("demo")
        driver.find_element(By.ID, "create-btn").click()
        wait_for(driver, "return document.querySelector('#jobs li.job') !== null", 20)
        driver.refresh()  # the job survives a page reload
        seen_progress = False
        deadline = time.time() + 300
        while time.time() < deadline:
            state = driver.execute_script("const j = document.querySelector('#jobs li.job'); return j && j.dataset.state")
            seen_progress |= bool(driver.execute_script("return document.querySelector('#jobs progress') !== null"))
            if state in ("done", "failed", "cancelled"):
                break
            time.sleep(0.5)
        job_text = driver.execute_script("return document.getElementById('jobs').textContent")
        assert state == "done", f"job ended {state}: {job_text}"
        assert seen_progress, "no progress bar was shown while the job ran"
        wait_for(driver, "return document.querySelector('#avatars li[data-id=astro]') !== null", 15)
        assert (avatars / "astro.vasa3d").is_file()
        _, jobs = server.request("GET", "/api/jobs")
        assert jobs["jobs"][0]["avatar"] == "astro" and jobs["jobs"][0]["preview"]
    finally:
        driver.quit()
        server.stop()
