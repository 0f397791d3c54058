"""Train the closure-place classifier (:mod:`vasa3d.motion.closure_place`) on synthesized speech.

    python -m vasa3d.motion.train_closure_place              # rewrites closure_place.npz beside it
    python -m vasa3d.motion.train_closure_place -o out.npz --quick

Data: 150 strings of random words from the CMU dictionary spoken by our formant synthesizer
(:mod:`vasa3d.motion.synth`) with random voices (pitch 85-260 Hz, vocal-tract scale, bandwidths,
breathiness) and speaking rates, each clip heard clean and through random degradations (a room
with RT60 0.2-0.8 s, white noise at 10-30 dB SNR, a spectral tilt, a low-pass as in lossy
codecs). Every dip the detector finds (a run of hops with dip evidence) is one example, labelled
"lips" when it lies within 40 ms of a /p b m/ or a pause (the tests' closure measure), else
"not lips". Tried and not used for the shipped weights (docs/motion.md): ``--vary`` draws the
synthesizer's consonant tables anew for each clip (:func:`varied_synthesizer`), ``--nasal`` gives
its nasals real murmurs (:func:`nasal_murmurs`), ``--function-words`` mixes function words into
the texts. Nothing here reads a recorded test file.

Recorded-voice synthesis (tried for a third version, not shipped; docs/motion.md, "Third
version"): ``--flite DIR``, ``--festival DIR`` and ``--finnish DIR`` add corpora of flite's and
festival's voices (diphone voices are concatenated recordings of real speakers), each made in DIR
first when DIR holds none (:func:`make_flite_corpus`, :func:`make_festival_corpus`; flite and
festival are needed for that only). ``--festival F --flite L`` rebuilds that version's weights.

Training: an ensemble of small perceptrons (torch, one thread, fixed seeds, so a rerun gives the
same weights up to float rounding), class-balanced logistic loss. The decision threshold is the
highest at which ``recall`` (97 %) of the held-out synthesized /p b m/ keep at least one dip.
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np

from vasa3d.motion.closure_place import WEIGHTS, ClosurePlace, onset_features
from vasa3d.motion.config import MotionConfig
from vasa3d.motion.measure import simulate_room
from vasa3d.motion.phones import ALL_PHONES, VOWELS
from vasa3d.motion.synth import Voice, synthesize

LIPS = ("P", "B", "M", "SIL")


def random_texts(n: int, rng: np.random.Generator, function_words: float = 0.0) -> list[str]:
    """``n`` strings of 6-14 dictionary words with commas and full stops (pauses); each word is one
    of the function words ("the", "of", "was", ...) with probability ``function_words`` (about half
    of the words of running English text are)."""
    from vasa3d.motion.phones import FUNCTION_WORDS, _dictionary

    words = sorted(w for w in _dictionary() if w.isalpha() and 2 <= len(w) <= 9)
    function = sorted(FUNCTION_WORDS)
    out = []
    for _ in range(n):
        k = int(rng.integers(6, 15))
        picked = [words[i] for i in rng.integers(0, len(words), k)]
        if function_words > 0:
            # drawn apart from the words above, so the content words stay those of the same seed
            pick = rng.random(k) < function_words
            other = rng.integers(0, len(function), k)
            picked = [function[j] if p else w for w, p, j in zip(picked, pick, other)]
        text = ""
        for i, w in enumerate(picked):
            text += w + ("," if rng.random() < 0.12 and i < k - 1 else "") + " "
        out.append(text.strip() + ".")
    return out


def random_voice(rng: np.random.Generator, i: int) -> Voice:
    f0 = float(rng.uniform(85, 260))
    return Voice(f"random{i}", f0, f0 * float(rng.uniform(0.68, 0.88)),
                 1.0 + 0.18 * (f0 - 85) / 175 + float(rng.uniform(-0.05, 0.05)),
                 float(rng.uniform(0.85, 1.35)), float(rng.uniform(0.02, 0.1)))


@contextlib.contextmanager
def varied_synthesizer(rng: np.random.Generator):
    """The synthesizer's phone tables drawn anew around their values while inside (one clip):
    consonant loci (F1, F2 +-15 %, F3 +-10 %), the bands (+-25 %) and strengths (0.3-2x) of bursts
    and frication, and consonant durations (0.7-1.3x). A classifier that cannot lean on the exact
    values of one synthesizer may transfer better to real voices."""
    from vasa3d.motion import synth

    tables = (synth.CONSONANT_FORMANTS, synth.NOISE_BANDS, synth.DURATION_MS)
    saved = [dict(t) for t in tables]
    try:
        for p, (f1, f2, f3) in saved[0].items():
            synth.CONSONANT_FORMANTS[p] = (f1 * rng.uniform(0.85, 1.15), f2 * rng.uniform(0.85, 1.15),
                                           f3 * rng.uniform(0.9, 1.1))
        for key, (lo, hi, amp) in saved[1].items():
            g = rng.uniform(0.8, 1.25)
            synth.NOISE_BANDS[key] = (lo * g, min(hi * g, 7900.0), amp * rng.uniform(0.3, 2.0))
        for p, ms in saved[2].items():
            if p not in VOWELS:
                synth.DURATION_MS[p] = ms * rng.uniform(0.7, 1.3)
        yield
    finally:
        for t, old in zip(tables, saved):
            t.clear()
            t.update(old)


#: antiformant (zero) frequencies of the nasal murmur by place, Hz: the closed mouth is a side branch
#: of the nasal tract whose length sets the zero (/m/ 750-1250, /n/ 1450-2200, /ng/ above 3000)
NASAL_ZERO = {"M": (750.0, 1250.0), "N": (1450.0, 2200.0), "NG": (3000.0, 4000.0)}


def nasal_murmurs(x: np.ndarray, phonemes: list[tuple[str, float, float]], rng: np.random.Generator,
                  sr: int = 16000) -> np.ndarray:
    """``x`` with a real nasal murmur's spectrum over each /m n ng/: the synthesizer's cascade has no
    zeros, so a broad antiformant at the place's frequency is cut in, and the murmur above 1 kHz is
    damped by 6-15 dB (real murmurs are dominated by their first resonance near 250 Hz)."""
    from scipy.signal import butter, lfilter, sosfilt

    y = np.asarray(x, np.float64).copy()
    pad, ramp = int(0.03 * sr), int(0.01 * sr)
    for phone, start, end in phonemes:
        if phone not in NASAL_ZERO:
            continue
        a, b = int(start * sr), int(end * sr)
        lo, hi = max(a - pad, 0), min(b + ramp, len(y))
        if b - a < 2 * ramp or hi <= a:
            continue
        f, q = float(rng.uniform(*NASAL_ZERO[phone])), float(rng.uniform(1.0, 2.5))
        w = 2 * np.pi * f / sr  # a notch: zeros on the unit circle, poles just inside
        r = float(np.exp(-np.pi * f / q / sr))
        num = np.array([1.0, -2 * np.cos(w), 1.0])
        den = np.array([1.0, -2 * r * np.cos(w), r * r])
        seg = lfilter(num * den.sum() / num.sum(), den, y[lo:hi])
        damp = 10 ** (-float(rng.uniform(6, 15)) / 20)
        high = sosfilt(butter(2, 1000, btype="highpass", fs=sr, output="sos"), seg)
        seg = seg - (1 - damp) * high
        fade = np.clip(np.minimum(np.arange(lo, hi) - a, b - np.arange(lo, hi)) / ramp + 0.5, 0, 1)
        y[lo:hi] = fade * seg + (1 - fade) * y[lo:hi]
    return (0.7 * y / max(float(np.abs(y).max()), 1e-9)).astype(np.float32)


def degrade(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random room, noise, tilt and low-pass."""
    from scipy.signal import butter, lfilter, sosfilt

    y = simulate_room(x, rt60=float(rng.uniform(0.2, 0.8)), snr_db=float(rng.uniform(10, 30)),
                      seed=int(rng.integers(1 << 30))).astype(np.float64)
    a = float(rng.uniform(-0.6, 0.6))  # first-order tilt: + brightens, - darkens
    y = lfilter([1.0, -a], [1.0], y) if a > 0 else lfilter([1.0 + a], [1.0, a], y)
    if rng.random() < 0.5:
        y = sosfilt(butter(6, float(rng.uniform(3800, 7500)), fs=16000, output="sos"), y)
    return (0.7 * y / max(float(np.abs(y).max()), 1e-9)).astype(np.float32)


def dip_examples(x: np.ndarray, phonemes: list[tuple[str, float, float]]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classifier inputs ``(n, D)``, labels ``(n,)`` and bilabial ids ``(n,)`` for the dips the
    detector finds in ``x`` (16 kHz). The id is the index in ``phonemes`` of the /p b m/ a dip
    lies within 40 ms of (-1 for none): a bilabial is closed when one of its dips is kept."""
    from vasa3d.motion.generate import MotionStream

    stream = MotionStream(16000, MotionConfig(closure_place=True))
    # the features alone (no frames: they would need the classifier being trained); 16 kHz in
    stream._take(np.asarray(x, np.float32), final=True)
    ev = stream._dip_evidence(np.arange(stream.hop_count)) > 0
    on = np.flatnonzero(ev & ~np.concatenate([[False], ev[:-1]]))
    off = np.flatnonzero(ev & ~np.concatenate([ev[1:], [False]])) + 1
    feats = onset_features(stream.hist, on)

    def near(phones: tuple[str, ...], s: int, b: int) -> int:
        return next((j for j, (p, a, e) in enumerate(phonemes)
                     if p in phones and a < b / 100 + 0.04 and e > s / 100 - 0.04), -1)

    labels = np.array([near(LIPS, s, b) >= 0 for s, b in zip(on, off)], bool)
    bilabial = np.array([near(LIPS[:3], s, b) for s, b in zip(on, off)], int)
    return feats, labels, bilabial


def make_data(clips: int, seed: int, vary: bool = False, nasal: bool = False, function_words: float = 0.0
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inputs, labels, clip index and bilabial key (clip, version, phone; -1 for none) of every dip
    in ``clips`` synthesized clips (each clean + 2 degraded); ``vary``: each clip from a
    :func:`varied_synthesizer`; ``nasal``: its nasals given real murmurs (:func:`nasal_murmurs`)."""
    rng = np.random.default_rng(seed)
    texts = random_texts(clips, rng, function_words)
    xs, ys, groups, keys = [], [], [], []
    for i, text in enumerate(texts):
        voice, rate = random_voice(rng, i), float(rng.uniform(0.85, 1.25))
        with varied_synthesizer(np.random.default_rng([seed, i])) if vary else contextlib.nullcontext():
            speech = synthesize(text, voice, rate=rate, seed=i)
        clean = nasal_murmurs(speech.samples, speech.phonemes, np.random.default_rng([seed, i, 1])) if nasal \
            else speech.samples
        for version in range(3):
            audio = clean if version == 0 else degrade(clean, rng)
            f, y, b = dip_examples(audio, speech.phonemes)
            xs.append(f)
            ys.append(y)
            groups.append(np.full(len(y), i))
            keys.append(np.where(b >= 0, (i * 3 + version) * 100_000 + b, -1))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(groups), np.concatenate(keys)


#: flite voices used for the recorded-speech corpus and the ranges of their mean pitch (Hz): kal16 is a
#: diphone voice (concatenated recordings of one man), awb, rms and slt are clustergen (statistical
#: parametric) voices of a Scottish-English man, an American man and an American woman
FLITE_VOICES = {"kal16": (80.0, 135.0), "awb": (95.0, 165.0), "rms": (80.0, 135.0), "slt": (140.0, 235.0)}
#: flite's phone names that differ from ARPAbet
FLITE_PHONES = {"pau": "SIL", "ax": "AH", "h#": "SIL", "brth": "SIL"}


def flite_clip(text: str, voice: str, stretch: float, f0: float, f0_std: float, path) -> list:
    """Speak ``text`` with flite into the 16 kHz wav ``path``; its phones ``[(phone, start_s, end_s)]``
    as flite timed them (``-psdur``: each segment's end time)."""
    import subprocess

    out = subprocess.run(["flite", "-voice", voice, "--setf", f"duration_stretch={stretch:.3f}",
                          "--setf", f"int_f0_target_mean={f0:.1f}", "--setf", f"int_f0_target_stddev={f0_std:.1f}",
                          "-psdur", "-t", text, "-o", str(path)], check=True, capture_output=True, text=True).stdout
    phones, start = [], 0.0
    for item in out.split():
        name, _, end = item.rpartition(":")
        phone = FLITE_PHONES.get(name, name.upper())
        phones.append((phone, start, float(end)))
        start = float(end)
    return phones


def make_flite_corpus(folder, clips: int = 1200, seed: int = 1, log=print) -> None:
    """Write ``clips`` flite utterances (``clipNNNN.wav`` and ``clipNNNN.json``: text, voice, settings,
    phones) into ``folder``: random dictionary words with 35 % function words (:func:`random_texts`),
    the voices of :data:`FLITE_VOICES` in turn, speaking rate (``duration_stretch`` 0.8-1.3), mean pitch
    (within the voice's range) and pitch range (8-20 % of the mean) drawn per clip. Development only:
    the shipped weights need neither flite nor the corpus."""
    import json
    import shutil
    from pathlib import Path

    if shutil.which("flite") is None:
        raise SystemExit("flite is not installed (Debian: apt-get install flite); it makes the corpus")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    texts = random_texts(clips, rng, function_words=0.35)
    names = list(FLITE_VOICES)
    t0 = time.perf_counter()
    for i, text in enumerate(texts):
        voice = names[i % len(names)]
        stretch = float(rng.uniform(0.8, 1.3))
        f0 = float(rng.uniform(*FLITE_VOICES[voice]))
        f0_std = f0 * float(rng.uniform(0.08, 0.2))
        wav = folder / f"clip{i:04d}.wav"
        phones = flite_clip(text, voice, stretch, f0, f0_std, wav)
        (folder / f"clip{i:04d}.json").write_text(json.dumps(
            {"text": text, "voice": voice, "duration_stretch": stretch, "f0_mean": f0, "f0_std": f0_std,
             "phones": phones}))
    log(f"{clips} flite clips in {folder}, {time.perf_counter() - t0:.0f} s")


#: festival voices of a corpus: the English diphone voice ked (a second American man, recorded) and
#: the Italian diphone voices lp (a woman) and pc (a man): /p b m/ and /t d k g n/ close the lips or
#: the tongue in Italian as in English, and the recorded diphones carry real speakers' transitions
FESTIVAL_VOICES = {"ked_diphone": "en", "lp_diphone": "it", "pc_diphone": "it",
                   "suo_fi_lj_diphone": "fi", "hy_fi_mv_diphone": "fi"}
#: the voices of a default festival corpus; the Finnish diphone voices (a woman, a man) make a second one
FESTIVAL_DEFAULT = ("ked_diphone", "lp_diphone", "pc_diphone")
FESTIVAL_FINNISH = ("suo_fi_lj_diphone", "hy_fi_mv_diphone")
#: festival's phone names (the English "radio" set, the Italian set) in ARPAbet; only /p b m/ and
#: pauses decide a dip's label, the rest keep a name of the same kind
FESTIVAL_PHONES = {"pau": "SIL", "#": "SIL", "ax": "AH", "a": "AA", "e": "EY", "E": "EH", "i": "IY", "o": "OW",
                   "O": "AO", "u": "UW", "tS": "CH", "dZ": "JH", "ts": "CH", "dz": "JH", "S": "SH", "L": "L",
                   "J": "N", "j": "Y", "nf": "N", "ng": "NG"}


def italian_texts(n: int, rng: np.random.Generator, finnish: bool = False) -> list[str]:
    """``n`` strings of 6-14 made-up Italian (or Finnish) words (their spelling is phonemic, so any
    string of syllables is readable): 1-4 syllables each, consonants weighted toward /p b m t d k g n/."""
    onsets = ["p", "b", "m", "t", "d", "c", "g", "n", "l", "r", "s", "v", "f", "z", "pr", "br", "tr", "st", "sp",
              "ch", "gh", "gn", "mp", "nd", "nt", "mb", "pp", "tt", "mm", "bb", "cc", "dd"]
    weights = np.array([3, 3, 3, 3, 3, 3, 2, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.0])
    small = ["il", "la", "di", "e", "che", "un", "per", "non", "con", "da", "lo", "ma"]
    vowels = "aeiou"
    if finnish:
        onsets = ["p", "b", "m", "t", "d", "k", "g", "n", "l", "r", "s", "v", "h", "j", "pp", "tt", "kk", "mm", "nn",
                  "mp", "nt", "nk", "lt", "st", "sk", "ll", "rr", "ss", "ht", "rt", "lk", "ns"]
        small = ["ja", "on", "se", "ei", "kun", "niin", "mutta", "tai", "me", "te", "he", "nyt"]
        vowels = "aeiouy"  # festival reads Latin-1: no umlauts
    out = []
    for _ in range(n):
        words = []
        for _ in range(int(rng.integers(6, 15))):
            if rng.random() < 0.3:
                words.append(small[int(rng.integers(len(small)))])
                continue
            syl = int(rng.integers(1, 5))
            first = ["", *onsets]
            w = "".join((first[int(rng.integers(len(first)))] if i == 0 and rng.random() < 0.2 else
                         onsets[int(rng.choice(len(onsets), p=weights / weights.sum()))])
                        + vowels[int(rng.integers(len(vowels)))]
                        for i in range(syl))
            words.append(w)
        text = " ".join(w + ("," if rng.random() < 0.12 and i < len(words) - 1 else "") for i, w in enumerate(words))
        out.append(text + ".")
    return out


def to_16k(path) -> None:
    """Rewrite a mono 16-bit wav at 16 kHz (the Finnish voices speak at 22.05 kHz)."""
    import wave
    from math import gcd

    from scipy.signal import resample_poly

    with wave.open(str(path)) as w:
        rate, x = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
    if rate == 16000:
        return
    g = gcd(16000, rate)
    y = resample_poly(x.astype(np.float64), 16000 // g, rate // g)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.clip(np.round(y), -32768, 32767).astype("<i2").tobytes())


def make_festival_corpus(folder, clips: int = 900, seed: int = 2, voices=FESTIVAL_DEFAULT, log=print) -> None:
    """Like :func:`make_flite_corpus`, with festival's voices (:data:`FESTIVAL_VOICES`, in turn):
    English texts as for flite, Italian ones from :func:`italian_texts`; speaking rate
    (``Duration_Stretch`` 0.8-1.3) drawn per clip."""
    import json
    import shutil
    import subprocess
    from pathlib import Path

    if shutil.which("festival") is None:
        raise SystemExit("festival is not installed (Debian: apt-get install festival festvox-kdlpc16k "
                         "festvox-italp16k festvox-itapc16k)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = list(voices)
    english, italian = random_texts(clips, rng, function_words=0.35), italian_texts(clips, rng)
    finnish = italian_texts(clips, rng, finnish=True) if "fi" in {FESTIVAL_VOICES[v] for v in names} else []
    t0 = time.perf_counter()
    jobs = {v: [] for v in names}
    for i in range(clips):
        voice = names[i % len(names)]
        text = {"en": english, "it": italian, "fi": finnish}[FESTIVAL_VOICES[voice]][i]
        jobs[voice].append((i, text, float(rng.uniform(0.8, 1.3))))
    for voice, items in jobs.items():
        script = [f"(voice_{voice})"]
        for i, text, stretch in items:
            wav = folder / f"clip{i:04d}.wav"
            quoted = text.replace("\\", " ").replace('"', " ")
            script += [f"(Parameter.set 'Duration_Stretch {stretch:.3f})",
                       f'(set! utt (SynthText "{quoted}"))', f'(utt.save.wave utt "{wav}" \'riff)',
                       f'(format t "CLIP {i} ")',
                       '(mapcar (lambda (s) (format t "%s:%f " (item.name s) (item.feat s "end"))) '
                       "(utt.relation.items utt 'Segment))", '(format t "\\n")']
        out = subprocess.run(["festival", "--pipe"], input="\n".join(script) + "\n", check=True,
                             capture_output=True, text=True).stdout
        stretch_of = {i: (text, stretch) for i, text, stretch in items}
        for line in out.splitlines():
            if not line.startswith("CLIP "):
                continue
            head, *segs = line.split()[1:]
            i = int(head)
            phones, start = [], 0.0
            for item in segs:
                name, _, end = item.rpartition(":")
                name = name.rstrip("012:")  # stress digits; a Finnish long sound ends in ":"
                phone = FESTIVAL_PHONES.get(name, name.upper())
                phone = phone if phone in ALL_PHONES or phone == "SIL" else "AH"  # a vowel of its own
                phones.append((phone, start, float(end)))
                start = float(end)
            text, stretch = stretch_of[i]
            to_16k(folder / f"clip{i:04d}.wav")
            (folder / f"clip{i:04d}.json").write_text(json.dumps(
                {"text": text, "voice": voice, "duration_stretch": stretch, "phones": phones}))
    log(f"{clips} festival clips in {folder}, {time.perf_counter() - t0:.0f} s")


def flite_clips(folder) -> list[tuple[np.ndarray, list, str]]:
    """The corpus of :func:`make_flite_corpus`: ``[(samples (16 kHz float32), phones, voice)]`` in clip order."""
    import json
    import wave
    from pathlib import Path

    from vasa3d.motion.phonetic import validate_phonemes

    out = []
    for meta in sorted(Path(folder).glob("clip*.json")):
        info = json.loads(meta.read_text())
        with wave.open(str(meta.with_suffix(".wav"))) as w:
            assert w.getframerate() == 16000 and w.getnchannels() == 1
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
        out.append((x, validate_phonemes(info["phones"]), info["voice"]))
    return out


def corpus_summary(folder) -> str:
    """What a corpus folder holds, e.g. ``"1200 flite clips (kal16 300, awb 300, ...)"``."""
    import json
    from collections import Counter
    from pathlib import Path

    voices = Counter(json.loads(p.read_text())["voice"] for p in sorted(Path(folder).glob("clip*.json")))
    engine = "festival" if set(voices) <= set(FESTIVAL_VOICES) else "flite"
    return f"{sum(voices.values())} {engine} clips ({', '.join(f'{v} {n}' for v, n in voices.items())})"


def rescale_speaker(x: np.ndarray, phones: list, factor: float) -> tuple[np.ndarray, list]:
    """Every frequency times ``factor`` and every duration over it (a shorter or longer vocal tract
    and a higher or lower voice, as a tape played faster or slower), the phone times with it."""
    from scipy.signal import resample_poly

    up, down = 100, int(round(100 * factor))
    y = resample_poly(np.asarray(x, np.float64), up, down)
    scale = up / down
    return (0.7 * y / max(float(np.abs(y).max()), 1e-9)).astype(np.float32), \
        [(p, a * scale, b * scale) for p, a, b in phones]


def make_flite_data(folder, seed: int, rescale: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`make_data`, from the flite corpus in ``folder``: each clip (a share ``rescale`` of them
    first given another speaker's scale, :func:`rescale_speaker` 0.88-1.14) heard clean and twice
    through :func:`degrade`."""
    rng = np.random.default_rng(seed)
    xs, ys, groups, keys = [], [], [], []
    for i, (x, phones, _) in enumerate(flite_clips(folder)):
        x = (0.7 * x / max(float(np.abs(x).max()), 1e-9)).astype(np.float32)
        if rng.random() < rescale:
            x, phones = rescale_speaker(x, phones, float(rng.uniform(0.88, 1.14)))
        for version in range(3):
            audio = x if version == 0 else degrade(x, rng)
            f, y, b = dip_examples(audio, phones)
            xs.append(f)
            ys.append(y)
            groups.append(np.full(len(y), i))
            keys.append(np.where(b >= 0, (i * 3 + version) * 100_000 + b, -1))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(groups), np.concatenate(keys)


def bilabial_recall(scores: np.ndarray, keys: np.ndarray, threshold: float) -> float:
    """Share of the bilabials (``keys`` >= 0; one key per /p b m/ of a clip version) with a dip
    scored at or above ``threshold``."""
    ok = keys >= 0
    uniq, inverse = np.unique(keys[ok], return_inverse=True)
    best = np.full(len(uniq), -np.inf)
    np.maximum.at(best, inverse, scores[ok])
    return float(np.mean(best >= threshold))


def phone_threshold(scores: np.ndarray, keys: np.ndarray, recall: float) -> float:
    """The highest threshold that keeps a dip of at least ``recall`` of the bilabials."""
    ok = keys >= 0
    uniq, inverse = np.unique(keys[ok], return_inverse=True)
    best = np.full(len(uniq), -np.inf)
    np.maximum.at(best, inverse, scores[ok])
    return float(np.sort(best)[::-1][max(int(np.ceil(recall * len(best))) - 1, 0)])


def fit_member(x: np.ndarray, y: np.ndarray, seed: int, hidden: int = 16, epochs: int = 40):
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                              torch.nn.Linear(hidden, 1))
    opt = torch.optim.AdamW(net.parameters(), 3e-3, weight_decay=1e-2)
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    pos_weight = torch.tensor((1 - y.mean()) / max(y.mean(), 1e-6))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(xt), generator=gen).split(256):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(xt[batch])[:, 0], yt[batch],
                                                                        pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
    w1, b1 = net[0].weight.detach().numpy().T, net[0].bias.detach().numpy()
    w2, b2 = net[3].weight.detach().numpy()[0], net[3].bias.detach().numpy()[0]
    return (w1.astype(np.float64), b1.astype(np.float64), w2.astype(np.float64), np.float64(b2))


def train(clips: int = 150, members: int = 3, recall: float = 0.97, seed: int = 0, hidden: int = 16,
          vary: bool = False, nasal: bool = False, function_words: float = 0.0, corpora=(), rescale: float = 0.5,
          log=print) -> tuple[ClosurePlace, dict]:
    """Train on the clips of the ``corpora`` folders (:func:`make_festival_corpus`,
    :func:`make_flite_corpus`; in that order) and ``clips`` synthesized clips, a fifth of each held
    out by clip for the threshold and the report.

    The threshold is the highest at which ``recall`` of the held-out /p b m/ keep at least one
    dip (the lips need to close once per bilabial; a bilabial often makes two dips)."""
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    parts, first = [], 0
    for folder in corpora:
        fx, fy, fg, fk = make_flite_data(folder, seed, rescale)
        n = int(fg.max()) + 1
        # clips numbered on from the folders before, in steps of 5 so each keeps its held-out fifth
        # (and bilabial keys stay unique)
        parts.append((fx, fy, fg + first, np.where(fk >= 0, fk + first * 3 * 100_000, -1)))
        first += -(-n // 5) * 5
    if clips > 0:
        sx, sy, sg, sk = make_data(clips, seed, vary, nasal, function_words)
        parts.append((sx, sy, sg + first, np.where(sk >= 0, sk + first * 3 * 100_000, -1)))
    x, y, g, keys = (np.concatenate(a) for a in zip(*parts))
    held = g % 5 == 4
    log(f"{len(y)} dips from {len(np.unique(g))} clips ({y.mean():.0%} lips), {time.perf_counter() - t0:.0f} s")
    layers = [fit_member(x[~held], y[~held], seed + m, hidden) for m in range(members)]
    model = ClosurePlace(layers, 0.0)
    s = model.scores(x[held])
    model.threshold = phone_threshold(s, keys[held], recall)
    report = {"dips": int(len(y)), "held_out": int(held.sum()),
              "held_bilabials_closed": bilabial_recall(s, keys[held], model.threshold),
              "held_lips_kept": float(np.mean(s[y[held]] >= model.threshold)),
              "held_other_removed": float(np.mean(s[~y[held]] < model.threshold))}
    log(f"held-out dips: {report['held_bilabials_closed']:.1%} of /p b m/ keep a dip, "
        f"{report['held_lips_kept']:.1%} of lip dips kept, {report['held_other_removed']:.1%} of others "
        f"removed; {time.perf_counter() - t0:.0f} s in all")
    return model, report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(WEIGHTS))
    parser.add_argument("--clips", type=int, default=150)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--recall", type=float, default=0.97,
                        help="share of held-out synthesized /p b m/ that keep a dip at the threshold")
    parser.add_argument("--vary", action="store_true", help="draw the synthesizer's phone tables anew per clip")
    parser.add_argument("--nasal", action="store_true", help="give the nasals real murmurs (antiformants)")
    parser.add_argument("--function-words", type=float, default=0.0,
                        help="share of the words drawn from the function words (the, of, was, ...)")
    parser.add_argument("--flite", metavar="DIR",
                        help="also train on the flite corpus in DIR (made there first when DIR has none and "
                             "flite is installed; see make_flite_corpus)")
    parser.add_argument("--flite-clips", type=int, default=1200, help="clips of a corpus made by --flite")
    parser.add_argument("--festival", metavar="DIR",
                        help="also train on the festival corpus in DIR (made there first when DIR has none; "
                             "see make_festival_corpus)")
    parser.add_argument("--festival-clips", type=int, default=900, help="clips of a corpus made by --festival")
    parser.add_argument("--finnish", metavar="DIR",
                        help="also train on a festival corpus of the Finnish diphone voices in DIR (made there "
                             "first when DIR has none: 600 clips, seed 3)")
    parser.add_argument("--rescale", type=float, default=0.5,
                        help="share of the flite clips given another speaker's scale (rescale_speaker)")
    parser.add_argument("--quick", action="store_true", help="12 clips, for a check")
    args = parser.parse_args(argv)
    clips = 12 if args.quick else args.clips
    from pathlib import Path

    corpora = []
    def finnish(folder, clips):
        make_festival_corpus(folder, clips, seed=3, voices=FESTIVAL_FINNISH)

    for folder, make, n in ((args.festival, make_festival_corpus, args.festival_clips),
                            (args.finnish, finnish, 600), (args.flite, make_flite_corpus, args.flite_clips)):
        if folder is not None:
            if not any(Path(folder).glob("clip*.json")):
                make(folder, 12 if args.quick else n)
            corpora.append(folder)
    model, report = train(clips, args.members, args.recall, hidden=args.hidden, vary=args.vary,
                          nasal=args.nasal, function_words=args.function_words, corpora=corpora,
                          rescale=args.rescale)
    spoken = "".join(f"{corpus_summary(folder)}, " for folder in corpora)
    meta = (f"trained by vasa3d.motion.train_closure_place on {spoken}{clips} synthesized clips "
            f"(seed 0{', varied phone tables' if args.vary else ''}{', nasal murmurs' if args.nasal else ''}"
            f"{f', {args.function_words:.0%} function words' if args.function_words else ''}); "
            f"held-out: {report}")
    model.save(args.output, meta)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
