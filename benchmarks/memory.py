"""Peak memory of ``vasa3d motion`` and ``vasa3d speak`` against the length of the speech.

    python benchmarks/memory.py                    # 5 and 60 minutes (a Markdown table on stdout)
    python benchmarks/memory.py --minutes 1 5      # other lengths
    python benchmarks/memory.py --no-speak         # motion only (speak renders every frame: slow on a CPU)

The speech is one synthesized sentence repeated (with a short pause) to the length asked
for, written as 16 kHz 16-bit wav.  ``speak`` drives a small untrained avatar of the
astronaut (2,000 Gaussians) at ``--size`` pixels with ``--generator`` (the default
phonetic one unless told), so the run measures the pipeline's memory, not the
renderer's.  A short ``speak`` runs first, unmeasured, so that every measured run finds
the numba kernels in the cache (a run that compiles them peaks higher for that reason
alone).  Each command runs in its own process; its peak resident set size is the child's
``VmHWM``.
"""

from __future__ import annotations

import vasa3d  # noqa: F401  (first: sets OpenMP passive waiting before torch loads)

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SR = 16000
SENTENCE = "Hello! I am a talking head made from a single photo. Watch my lips move as I speak."


def speech_wav(path: Path, minutes: float) -> Path:
    """``minutes`` of the sentence repeated, written block by block (never whole in memory)."""
    from vasa3d.motion.synth import synthesize

    one = np.concatenate([synthesize(SENTENCE, voice="female").samples, np.zeros(SR // 2, np.float32)])
    total = int(minutes * 60 * SR)
    with sf.SoundFile(path, "w", SR, 1, subtype="PCM_16") as f:
        done = 0
        while done < total:
            block = one[: total - done]
            f.write(block)
            done += len(block)
    return path


def small_avatar(path: Path) -> Path:
    from skimage import data

    from vasa3d.face import analyze_portrait
    from vasa3d.gaussians import AvatarConfig, GaussianAvatar
    from vasa3d.head import build_head, fit_portrait
    from vasa3d.io import save_avatar

    analysis = analyze_portrait(data.astronaut(), size=128)
    head = build_head(None)
    fit = fit_portrait(analysis, head)
    save_avatar(path, GaussianAvatar.from_portrait(head, fit, analysis, AvatarConfig(num_gaussians=2000, hidden=16)))
    return path


def peak_rss(argv: list[str]) -> tuple[float, float]:
    """``(peak RSS in MiB, wall seconds)`` of one command.

    The peak is the child's ``VmHWM`` polled from /proc (``wait4``'s ``ru_maxrss`` would
    count the pages the child shared with this process between fork and exec).
    """
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hwm = 0
    trace, next_note = [], start + 60
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    hwm = max(hwm, int(line.split()[1]))
                elif line.startswith("VmRSS:") and time.perf_counter() > next_note:
                    trace.append(f"{(time.perf_counter() - start) / 60:.0f} min {int(line.split()[1]) >> 10}")
                    next_note += 300
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    if trace:  # whether the resident size grows as the run goes on
        print(f"  {argv[3]}: resident MiB at", ", ".join(trace), file=sys.stderr)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err[-400:]}")
    return hwm / 1024, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[5.0, 60.0])
    ap.add_argument("--size", type=int, default=32, help="speak's video size in pixels (default 32)")
    ap.add_argument("--generator", default="phonetic", choices=["phonetic", "loudness"],
                    help="speak's audio-to-motion generator (default phonetic, as speak's own default)")
    ap.add_argument("--no-speak", action="store_true")
    args = ap.parse_args()
    exe = [sys.executable, "-m", "vasa3d.cli"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        avatar = None if args.no_speak else small_avatar(tmp / "a.vasa3d")

        def speak(wav: Path) -> list[str]:
            return [*exe, "speak", str(avatar), str(wav), "-o", str(tmp / "v.mp4"), "--size", str(args.size),
                    "--generator", args.generator, "-q"]

        if avatar is not None:  # unmeasured: fills numba's cache
            peak_rss(speak(speech_wav(tmp / "warmup.wav", 0.1)))
        for minutes in args.minutes:
            wav = speech_wav(tmp / f"speech{minutes:g}.wav", minutes)
            rss, secs = peak_rss([*exe, "motion", str(wav), "-o", str(tmp / "m.npz"), "-q"])
            rows.append(("motion (phonetic)", minutes, rss, secs))
            print(f"motion {minutes:g} min: {rss:.0f} MiB, {secs:.0f} s", file=sys.stderr)
            if avatar is not None:
                rss, secs = peak_rss(speak(wav))
                rows.append((f"speak ({args.size} px, {args.generator})", minutes, rss, secs))
                print(f"speak {minutes:g} min: {rss:.0f} MiB, {secs:.0f} s", file=sys.stderr)
            wav.unlink()
    print("| command | speech | peak RSS | wall time |")
    print("|---|---:|---:|---:|")
    for name, minutes, rss, secs in rows:
        print(f"| `vasa3d {name}` | {minutes:g} min | {rss:.0f} MiB | {secs:.0f} s |")


if __name__ == "__main__":
    main()
