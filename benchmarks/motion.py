"""Speed and lip-sync quality of the audio-to-motion generators.

    python benchmarks/motion.py            # speed + quality tables (Markdown) on stdout
    python benchmarks/motion.py --quick    # shorter audio
    python benchmarks/motion.py --diffusion-only [--device cuda] [--speech-encoder DIR]   # diffusion latency

Speech comes from the built-in synthesizer (two voices), whose phone timing is exact;
"room" adds reverberation (RT60 0.4 s, direct-to-reverberant ratio 6 dB) and noise at 15 dB SNR.
"""

from __future__ import annotations

import vasa3d  # noqa: F401  (first: sets OpenMP passive waiting before torch loads)

import argparse
import time

import numpy as np

from vasa3d.motion import MotionConfig, MotionStream, audio_to_motion
from vasa3d.motion.measure import closure_hits, lip_gap, loudness_correlation
from vasa3d.motion.phones import VOWELS
from vasa3d.motion.synth import synthesize

SR = 16000
TEXTS = [
    "Hello! I am a talking head made from a single photo. Watch my lips move as I speak.",
    "Maybe the best part of my morning is a big cup of coffee by the open window.",
    "People probably prefer simple problems, but my mother bought a map of Boston.",
]


def room(x: np.ndarray, rt60: float = 0.4, snr_db: float = 15.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(rt60 * SR)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / SR / rt60)
    ir *= 0.5 / np.sqrt(np.sum(ir[1:] ** 2))
    ir[0] = 1.0
    y = np.convolve(x, ir)[: len(x)]
    y = y + rng.standard_normal(len(y)) * np.sqrt(np.mean(y ** 2) / 10 ** (snr_db / 10))
    return (0.7 * y / np.abs(y).max()).astype(np.float32)


def best_time(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def speed(quick: bool) -> None:
    base = synthesize(" ".join(TEXTS), voice="female").samples
    print("| generator | audio | seconds | x real time |")
    print("|---|---|---|---|")
    for minutes in ((1,) if quick else (1, 10)):
        x = np.tile(base, int(np.ceil(minutes * 60 * SR / len(base))))[: minutes * 60 * SR]
        for name, cfg in (("phonetic (default)", MotionConfig()), ("loudness", MotionConfig(generator="loudness"))):
            t = best_time(lambda: audio_to_motion(x, SR, cfg), 1 if minutes >= 10 else 3)
            print(f"| {name} | {minutes} min | {t:.2f} | {minutes * 60 / t:.0f} |")
    x = base[: 20 * SR]
    for name, cfg, extra in (("phonetic + allphone recognizer", MotionConfig(recognizer="allphone"), {}),
                             ("phonetic + transcript alignment", MotionConfig(transcript=" ".join(TEXTS)), {})):
        t = best_time(lambda: audio_to_motion(x, SR, cfg, **extra), 1)
        print(f"| {name} | {len(x) / SR:.0f} s | {t:.2f} | {len(x) / SR / t:.0f} |")

    print()
    print("Streaming: compute per 40 ms chunk, and the look-ahead (audio time at which a frame comes out, "
          "minus the frame's time; measured with 10 ms chunks so that chunking adds little):")
    print()
    print("| generator | chunk compute mean (ms) | p95 (ms) | look-ahead max (ms) |")
    print("|---|---|---|---|")
    x = base[: 30 * SR]
    for name, cfg in (("phonetic (default)", MotionConfig()), ("phonetic + allphone", MotionConfig(recognizer="allphone"))):
        stream = MotionStream(SR, cfg)
        chunk = int(0.04 * SR)
        costs = []
        for start in range(0, len(x), chunk):
            t0 = time.perf_counter()
            stream.push(x[start:start + chunk])
            costs.append(time.perf_counter() - t0)
        stream = MotionStream(SR, cfg)
        step, emitted, lookahead = SR // 100, 0, []
        for start in range(0, len(x), step):
            n = len(stream.push(x[start:start + step]))
            audio_t = (start + step) / SR
            lookahead += [audio_t - i / cfg.fps for i in range(emitted, emitted + n)]
            emitted += n
        costs_ms = np.array(costs) * 1000
        print(f"| {name} | {costs_ms.mean():.2f} | {np.percentile(costs_ms, 95):.2f} | "
              f"{max(lookahead) * 1000:.0f} |")


def quality() -> None:
    clips = [synthesize(t, v) for t in TEXTS for v in ("male", "female")]
    print("| labels | audio | p/b/m closed within 40 ms | lip gap vs loudness r (min / mean) | "
          "vowel-middle frames closed |")
    print("|---|---|---|---|---|")
    modes = (("none (acoustic only, default)", {}, None), ("allphone recognizer", {"recognizer": "allphone"}, None),
             ("transcript (forced alignment)", {}, "transcript"), ("exact timing given", {}, "given"),
             ("loudness generator", {"generator": "loudness"}, None))
    for label, kwargs, source in modes:
        for condition in ("clean", "room"):
            hits, rs, closed_v, frames_v = [], [], 0, 0
            for speech in clips:
                x = speech.samples if condition == "clean" else room(speech.samples)
                cfg = MotionConfig(**kwargs, transcript=speech.text if source == "transcript" else None)
                m = audio_to_motion(x, SR, cfg, phonemes=speech.phonemes if source == "given" else None)
                gap = lip_gap(m)
                hits.extend(closure_hits(gap, m.fps, speech.phonemes))
                rs.append(loudness_correlation(m, x, SR))
                closed = gap < 0.1 * gap.max()
                t = np.arange(len(gap)) / m.fps
                for p, a, b in speech.phonemes:
                    if p in VOWELS and b - a >= 0.1:
                        sel = (t >= a + 0.25 * (b - a)) & (t <= b - 0.25 * (b - a))
                        frames_v += sel.sum()
                        closed_v += closed[sel].sum()
            print(f"| {label} | {condition} | {100 * np.mean(hits):.1f} % ({sum(hits)}/{len(hits)}) | "
                  f"{min(rs):.2f} / {np.mean(rs):.2f} | {100 * closed_v / frames_v:.1f} % |")


def diffusion(device: str, threads: int) -> None:
    """Streaming latency of the diffusion generator (default size; untrained weights cost the same)."""
    import torch

    from vasa3d.motion.diffusion import DiffusionModel, diffusion_motion

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = DiffusionModel().to(device).eval()
    n_params = sum(p.numel() for p in model.parameters())
    x = synthesize(" ".join(TEXTS), voice="male").samples[: 20 * SR]
    diffusion_motion(x[:SR], SR, model)  # warm up
    t = best_time(lambda: diffusion_motion(x, SR, model), 1)
    c = _stream_costs(model, None, x, device)
    cfg = model.cfg
    print(f"| diffusion ({n_params / 1e6:.2f} M parameters, {cfg.sample_steps} DDIM steps, CFG) | {device} "
          f"| {c.mean():.1f} | {np.percentile(c, 95):.1f} | {c.max():.1f} | "
          f"{len(x) / SR / t:.1f} |")


def _stream_costs(model, encoder, x: np.ndarray, device: str) -> np.ndarray:
    """Compute time (ms) of each 40 ms chunk pushed into a fresh DiffusionStream."""
    import torch

    from vasa3d.motion.diffusion import DiffusionStream

    stream = DiffusionStream(model, SR, None, encoder)
    chunk = int(0.04 * SR)
    costs = []
    for start in range(0, len(x), chunk):
        t0 = time.perf_counter()
        stream.push(x[start:start + chunk])
        if device == "cuda":
            torch.cuda.synchronize()
        costs.append(time.perf_counter() - t0)
    return np.array(costs) * 1000


def diffusion_wav2vec2(device: str, threads: int, encoder_dir: str | None) -> None:
    """The same, on wav2vec2 features: randomly initialised encoders (the cost does not depend on the
    weights) of the test's tiny size and of wav2vec2-base's size, and the user's own if given."""
    import tempfile

    import torch
    import transformers

    from vasa3d.motion.diffusion import DiffusionConfig, DiffusionModel, diffusion_motion
    from vasa3d.motion.speech_encoder import SpeechEncoder

    if threads:
        torch.set_num_threads(threads)
    transformers.utils.logging.disable_progress_bar()
    tiny = transformers.Wav2Vec2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=128, conv_dim=(64,) * 7, num_conv_pos_embeddings=16,
                                       num_conv_pos_embedding_groups=4)
    speech = synthesize(" ".join(TEXTS), voice="male").samples
    with tempfile.TemporaryDirectory() as tmp:
        folders = []
        for name, cfg in (("tiny", tiny), ("base size", transformers.Wav2Vec2Config())):
            torch.manual_seed(0)
            transformers.Wav2Vec2Model(cfg).save_pretrained(f"{tmp}/{name}")
            folders.append((name, f"{tmp}/{name}"))
        if encoder_dir:
            folders.append(("user's", encoder_dir))
        for name, folder in folders:
            t0 = time.perf_counter()
            encoder = SpeechEncoder.load(folder)
            load_s = time.perf_counter() - t0
            n_enc = sum(p.numel() for p in encoder.model.parameters())
            model = DiffusionModel(DiffusionConfig(features="wav2vec2"), encoder.identity).to(device).eval()
            big = n_enc > 10e6
            seconds = 4 if big and device == "cpu" else 20
            x = speech[: seconds * SR]
            diffusion_motion(x[:SR], SR, model, None, encoder)  # warm up (moves the encoder to the device)
            t = best_time(lambda: diffusion_motion(x, SR, model, None, encoder), 1)
            c = _stream_costs(model, encoder, x, device)
            print(f"| diffusion + {name} wav2vec2 ({n_enc / 1e6:.2f} M, {encoder.identity.num_layers} layers, "
                  f"window {model.cfg.speech_context_s:g} s; load {load_s:.1f} s; {seconds} s of speech) | {device} "
                  f"| {c.mean():.1f} | {np.percentile(c, 95):.1f} | {c.max():.1f} | {len(x) / SR / t:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--diffusion-only", action="store_true", help="only the diffusion latency table")
    parser.add_argument("--device", default="cpu", help="torch device of the diffusion model (cpu, cuda)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--speech-encoder", metavar="DIR", help="also time this wav2vec2 / HuBERT folder")
    parser.add_argument("--no-wav2vec2", action="store_true", help="skip the wav2vec2-feature rows")
    args = parser.parse_args()
    if not args.diffusion_only:
        audio_to_motion(synthesize("warm up", "male").samples, SR)  # imports, caches
        speed(args.quick)
        print()
        quality()
        print()
    print("| generator | device | compute per 40 ms chunk, mean (ms) | p95 (ms) | max (ms) | offline x real time |")
    print("|---|---|---|---|---|---|")  # on the CPU the stream computes on one thread (see DiffusionStream)
    diffusion(args.device, args.threads)
    if not args.no_wav2vec2:
        diffusion_wav2vec2(args.device, args.threads, args.speech_encoder)


if __name__ == "__main__":
    main()
