"""Live engine benchmark: sustained fps, per-stage cost, audio-in to frame-out latency, controls, long sessions.

    python benchmarks/live.py --avatar astro.vasa3d                      # 256, 384, 512 px, 20 s each
    python benchmarks/live.py --avatar astro.vasa3d --sizes 384 --long 600   # plus a 10-minute session
    python benchmarks/live.py --avatar astro.vasa3d --device cuda --backend gsplat

Speech from the built-in synthesizer (sentences with pauses, looped) is pushed in 20 ms chunks at
real-time pace, as a microphone sends it, while the phonetic generator, the deformation and the
rasterizer run on the session's real-time clock. Latency is measured per chunk: from its
``push_audio`` call to the moment the frame that plays it comes out of ``get_frame``.

Each size is measured twice: at a fixed render size (``adaptive=False``: what the machine sustains
at that size) and with the engine's own degradation on (what a user gets). Writes a JSON file and
prints Markdown rows for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import threading
import time

import vasa3d  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)
import numpy as np

SENTENCES = [
    "Hello! I am a talking head made from a single photo.",
    "You can talk to me live, and I answer with my lips in sync.",
    "Watch my eyes blink, and my head move as I speak.",
]
CHUNK_S = 0.02


def speech_loop(sr: int = 16000) -> np.ndarray:
    from vasa3d.motion.synth import synthesize

    parts = []
    for i, text in enumerate(SENTENCES):
        parts.append(synthesize(text, voice="female" if i % 2 else "male", sr=sr).samples)
        parts.append(np.zeros(int(0.6 * sr), np.float32))
    return np.concatenate(parts).astype(np.float32)


class Feeder(threading.Thread):
    """Pushes speech in 20 ms chunks at real-time pace, looping, until stopped."""

    def __init__(self, session, samples: np.ndarray, sr: int = 16000):
        super().__init__(daemon=True)
        self.session, self.samples, self.sr = session, samples, sr
        self.stop_event = threading.Event()

    def run(self) -> None:
        step = int(CHUNK_S * self.sr)
        t0 = time.monotonic()
        i = 0
        while not self.stop_event.is_set():
            start = (i * step) % len(self.samples)
            chunk = self.samples[start:start + step]
            if self.stop_event.wait(max(0.0, t0 + i * CHUNK_S - time.monotonic())):
                return
            if np.abs(chunk).max() > 0:  # a microphone sends silence too, but probes only count speech
                self.session.push_audio(chunk, self.sr)
            i += 1


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_size(avatar, size: int, seconds: float, adaptive: bool, args) -> dict:
    from vasa3d.live import LiveConfig, LiveSession

    cfg = LiveConfig(size=size, adaptive=adaptive, backend=args.backend, device=args.device,
                     precision=args.precision, deform_threads=args.deform_threads,
                     render_threads=args.render_threads)
    session = LiveSession(avatar, cfg)
    feeder = Feeder(session, speech_loop())
    with session:
        feeder.start()
        frames = repeated = 0
        t_start = None
        warm = 3.0  # seconds to settle (the adaptive size, the first latency probes)
        while True:
            f = session.get_frame(timeout=5.0)
            if f is None:
                break
            if f.timestamp < warm:
                continue
            if t_start is None:
                t_start = time.monotonic()
                session._latency.clear()
                for v in session._stage.values():
                    v.clear()
                base_dropped = session.stats()["dropped"]
            frames += 1
            repeated += int(f.repeated)
            if f.timestamp >= warm + seconds:
                break
        wall = time.monotonic() - t_start
        stats = session.stats()
        lat = np.array(session._latency) * 1000
        feeder.stop_event.set()
    drawn = frames - repeated
    return {
        "size": size, "adaptive": adaptive, "seconds": round(wall, 2),
        "fps_out": frames / wall, "fps_drawn": drawn / wall,
        "dropped": stats["dropped"] - base_dropped, "render_size": stats["render_size"],
        "stage_ms": stats["stage_ms"],
        "latency_ms_median": float(np.median(lat)) if len(lat) else None,
        "latency_ms_p95": float(np.percentile(lat, 95)) if len(lat) else None,
        "delay_ms": stats["delay_ms"], "precision": stats["precision"], "device": stats["device"],
    }


def run_controls(avatar, size: int, args) -> dict:
    """Frames from a set_controls call to the first frame that shows it, and fps around the change."""
    from vasa3d.arkit import ARKIT_INDEX
    from vasa3d.live import LiveConfig, LiveSession

    session = LiveSession(avatar, LiveConfig(size=size, backend=args.backend, device=args.device,
                                             precision=args.precision))
    feeder = Feeder(session, speech_loop())
    out = {"camera_frames": [], "emotion_frames": []}
    with session:
        feeder.start()
        while (f := session.get_frame(timeout=5.0)) is not None and f.timestamp < 3.0:
            pass
        t0 = time.monotonic()
        n0 = session.stats()["frames"] - session.stats()["dropped"]
        while time.monotonic() - t0 < 4.0:
            session.get_frame(timeout=5.0)
        before = (session.stats()["frames"] - session.stats()["dropped"] - n0) / (time.monotonic() - t0)
        t1 = time.monotonic()
        n1 = session.stats()["frames"] - session.stats()["dropped"]
        smile = ARKIT_INDEX["mouthSmileLeft"]
        for trial in range(6):
            prev = session.get_frame(timeout=5.0)
            yaw = 25.0 if trial % 2 == 0 else -25.0
            session.set_controls(yaw=yaw, emotion="happy" if trial % 2 == 0 else "neutral")
            for k in range(1, 15):
                f = session.get_frame(timeout=5.0)
                d = np.abs(f.image.astype(np.float32) - prev.image.astype(np.float32)).mean()
                if d > 6.0 and len(out["camera_frames"]) == trial:
                    out["camera_frames"].append(k)
                happy = f.z_dyn[smile] > 0.3
                if happy == (trial % 2 == 0) and len(out["emotion_frames"]) == trial:
                    out["emotion_frames"].append(k)
        after = (session.stats()["frames"] - session.stats()["dropped"] - n1) / (time.monotonic() - t1)
        feeder.stop_event.set()
    out.update(fps_before=before, fps_during_changes=after)
    return out


def run_long(avatar, size: int, seconds: float, args) -> dict:
    """Memory and clock drift over a long session."""
    from vasa3d.live import LiveConfig, LiveSession

    session = LiveSession(avatar, LiveConfig(size=size, backend=args.backend, device=args.device,
                                             precision=args.precision))
    feeder = Feeder(session, speech_loop())
    samples_out = 0
    with session:
        feeder.start()
        rss = []
        first = None
        while True:
            f = session.get_frame(timeout=5.0)
            now = time.monotonic()
            samples_out += len(f.audio)
            if first is None and f.timestamp >= 10.0:
                first = (now, f.timestamp)
                rss.append(rss_mb())
            if first is not None and f.index % 250 == 0:
                rss.append(rss_mb())
            if f.timestamp >= seconds:
                last = (now, f.timestamp)
                break
        feeder.stop_event.set()
        stats = session.stats()
    # video clock vs wall clock between 10 s and the end (frames come out on the wall clock)
    wall_drift_ms = ((last[0] - first[0]) - (last[1] - first[1])) * 1000
    av_offset_ms = (samples_out / session.sample_rate - (f.index + 1) / session.config.fps) * 1000
    return {"seconds": seconds, "rss_mb_start": rss[0], "rss_mb_end": rss[-1], "rss_mb_max": max(rss),
            "wall_clock_drift_ms": wall_drift_ms, "audio_video_offset_ms": av_offset_ms,
            "frames": stats["frames"], "dropped": stats["dropped"],
            "latency_ms": stats["latency_ms"], "delay_ms": stats["delay_ms"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--avatar", required=True, help="a .vasa3d file (the issue: the astronaut, --preset cpu-quick)")
    p.add_argument("--sizes", type=int, nargs="*", default=[256, 384, 512])
    p.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run (after 3 s of warm-up)")
    p.add_argument("--long", type=float, default=0.0, help="also run one session this long (s) at 384 px")
    p.add_argument("--no-controls", action="store_true")
    p.add_argument("--fixed-only", action="store_true", help="skip the adaptive runs")
    p.add_argument("--device", default="auto")
    p.add_argument("--backend", default="auto")
    p.add_argument("--precision", default="auto")
    p.add_argument("--deform-threads", type=int, default=0)
    p.add_argument("--render-threads", type=int, default=0)
    p.add_argument("--out", default="live-benchmark.json")
    args = p.parse_args()
    import torch

    from vasa3d.io import load_avatar

    avatar = load_avatar(args.avatar)
    results = {"machine": f"{platform.machine()} {os.cpu_count()} cores, "
                          f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}",
               "load_average_at_start": os.getloadavg(), "n_gaussians": avatar.n_gaussians, "runs": []}
    for size in args.sizes:
        for adaptive in ((False,) if args.fixed_only else (False, True)):
            r = run_size(avatar, size, args.seconds, adaptive, args)
            results["runs"].append(r)
            print(json.dumps(r), flush=True)
    if not args.no_controls:
        results["controls"] = run_controls(avatar, 384, args)
        print(json.dumps(results["controls"]), flush=True)
    if args.long:
        results["long"] = run_long(avatar, 384, args.long, args)
        print(json.dumps(results["long"]), flush=True)
    results["load_average_at_end"] = os.getloadavg()
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print("\n| size | render size | adaptive | fps out | fps drawn | motion ms | deform ms | render ms | "
          "latency median ms | p95 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results["runs"]:
        s = r["stage_ms"]
        print(f"| {r['size']} | {r['render_size']} | {'yes' if r['adaptive'] else 'no'} | {r['fps_out']:.1f} | "
              f"{r['fps_drawn']:.1f} | {s['motion']:.1f} | {s['deform']:.1f} | {s['render']:.1f} | "
              f"{r['latency_ms_median'] or float('nan'):.0f} | {r['latency_ms_p95'] or float('nan'):.0f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
