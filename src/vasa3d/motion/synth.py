"""An offline formant speech synthesizer (Klatt-style source-filter), written for this project.

Text -> words -> ARPAbet phones (the CMU dictionary bundled with pocketsphinx) -> a
timed plan (per-phone durations, stress, phrase-final lengthening, pauses at
punctuation) -> parameter tracks (pitch, voicing, aspiration and frication
amplitudes, formant frequencies and bandwidths) -> audio:

* a glottal pulse train (Rosenberg pulse, with declination, accents on stressed
  syllables, final fall or question rise, slight jitter) plus breath noise,
* a cascade of five formant resonators whose targets are interpolated between
  phones (so transitions carry the consonant's place of articulation),
* band-passed noise for fricatives, closures and bursts for stops, aspiration
  through the cascade for /h/ and voiceless stops.

It sounds robotic but intelligible, and because it made the audio its phone
timings are exact: the ground truth that the lip-sync tests measure against.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from vasa3d.errors import InputError
from vasa3d.motion.phones import (AFFRICATES, FRICATIVES, FUNCTION_WORDS, GLIDES, LIQUIDS, NASALS, SILENCE,
                                  STOPS, VOICED, VOWELS, pronounce, tokenize)

# ---------------------------------------------------------------- phone data
#: Inherent durations in ms (after Klatt's duration rules, slightly faster).
DURATION_MS = {
    "AA": 200, "AE": 200, "AH": 130, "AO": 210, "AW": 240, "AY": 230, "EH": 140, "ER": 170, "EY": 180,
    "IH": 120, "IY": 145, "OW": 200, "OY": 250, "UH": 140, "UW": 180,
    "P": 95, "B": 85, "T": 85, "D": 75, "K": 90, "G": 80, "CH": 120, "JH": 105,
    "F": 100, "V": 65, "TH": 95, "DH": 50, "S": 110, "Z": 85, "SH": 110, "ZH": 90, "HH": 65,
    "M": 75, "N": 65, "NG": 90, "L": 70, "R": 70, "W": 70, "Y": 60,
}

#: Formant targets (F1, F2, F3) in Hz of an adult male; diphthongs have a start and an end target.
VOWEL_FORMANTS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "IY": ((280, 2250, 3000),), "IH": ((400, 1920, 2560),), "EH": ((550, 1770, 2490),),
    "AE": ((660, 1720, 2410),), "AA": ((730, 1090, 2440),), "AO": ((570, 840, 2410),),
    "UH": ((440, 1020, 2240),), "UW": ((310, 870, 2240),), "AH": ((620, 1220, 2550),),
    "ER": ((470, 1380, 1650),),
    "EY": ((480, 1950, 2600), (330, 2200, 2700)), "AY": ((700, 1150, 2500), (400, 1900, 2600)),
    "AW": ((700, 1150, 2500), (450, 900, 2400)), "OW": ((520, 920, 2450), (400, 820, 2400)),
    "OY": ((550, 850, 2400), (400, 1900, 2600)),
}
SCHWA = (500, 1400, 2450)

CONSONANT_FORMANTS: dict[str, tuple[float, float, float]] = {
    "P": (200, 900, 2100), "B": (200, 900, 2100), "M": (250, 1000, 2200), "F": (300, 1000, 2200),
    "V": (280, 1000, 2200), "W": (290, 650, 2150),
    "T": (200, 1700, 2600), "D": (200, 1700, 2600), "N": (250, 1600, 2600), "S": (250, 1700, 2600),
    "Z": (250, 1700, 2600), "L": (310, 1050, 2880), "TH": (300, 1400, 2500), "DH": (300, 1400, 2500),
    "K": (220, 1900, 2400), "G": (220, 1900, 2400), "NG": (250, 2000, 2600),
    "SH": (250, 1900, 2500), "ZH": (250, 1900, 2500), "CH": (250, 1900, 2500), "JH": (250, 1900, 2500),
    "R": (310, 1060, 1380), "Y": (260, 2070, 3020),
}

#: Noise colour of each fricative and of each stop's burst: (band low Hz, band high Hz, amplitude).
NOISE_BANDS = {
    "S": (3800, 7600, 0.16), "Z": (3800, 7600, 0.1), "SH": (1800, 4800, 0.2), "ZH": (1800, 4800, 0.12),
    "CH": (1800, 4800, 0.2), "JH": (1800, 4800, 0.12), "F": (1000, 7600, 0.09), "V": (1000, 7600, 0.06),
    "TH": (1200, 7600, 0.07), "DH": (1200, 7600, 0.05),
    "burst_P": (300, 2500, 0.35), "burst_B": (300, 2500, 0.25), "burst_T": (2500, 7000, 0.45),
    "burst_D": (2500, 7000, 0.3), "burst_K": (1200, 3200, 0.45), "burst_G": (1200, 3200, 0.3),
}

#: Voicing amplitude of each phone class while the phone is steady.
def _voicing(phone: str) -> float:
    if phone in VOWELS:
        return 1.0
    if phone in GLIDES or phone in LIQUIDS:
        return 0.75
    if phone in NASALS:
        return 0.55
    if phone in VOICED:  # voiced fricatives and affricates
        return 0.35
    return 0.0


@dataclass(frozen=True)
class Voice:
    """Speaker settings: pitch range (Hz at phrase start / end) and vocal-tract scaling."""

    name: str
    f0_start: float
    f0_end: float
    formant_scale: float
    bandwidth_scale: float
    breathiness: float


VOICES = {
    "male": Voice("male", 125.0, 92.0, 1.0, 1.0, 0.04),
    "female": Voice("female", 225.0, 175.0, 1.16, 1.25, 0.08),
}


@dataclass
class SynthSpeech:
    """Synthesized speech and its exact phone timing.

    Attributes:
        samples: ``(N,)`` float32 mono in [-1, 1].
        sample_rate: Hz.
        phonemes: ``[(phone, start_s, end_s)]`` in ARPAbet without stress marks, covering the
            whole clip in order; pauses are ``"SIL"``.
        words: ``[(word, start_s, end_s)]``.
        text: the input text.
    """

    samples: np.ndarray
    sample_rate: int
    phonemes: list[tuple[str, float, float]]
    words: list[tuple[str, float, float]] = field(default_factory=list)
    text: str = ""

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def save_wav(self, path) -> None:
        """Write a 16-bit PCM wav file (atomically)."""
        import soundfile

        from vasa3d.io.paths import atomic_output

        with atomic_output(path) as tmp:
            soundfile.write(tmp, self.samples, self.sample_rate, subtype="PCM_16", format="WAV")


# --------------------------------------------------------------------- plan
@dataclass
class _Seg:
    phone: str
    dur: float
    stressed: bool = False
    word: int = -1
    final: bool = False  # in the phrase's last syllable
    punct: str = ""  # for SIL: the mark that made the pause
    t0: float = 0.0

    @property
    def t1(self) -> float:
        return self.t0 + self.dur


def _plan(text: str, rate: float) -> tuple[list[_Seg], list[str]]:
    tokens = tokenize(text)
    segs: list[_Seg] = [_Seg(SILENCE, 0.25)]
    words: list[str] = []
    phrase_start = len(segs)

    def end_phrase(mark: str) -> None:
        nonlocal phrase_start
        # phrase-final lengthening of the last vowel and what follows it
        body = segs[phrase_start:]
        vowels = [i for i, s in enumerate(body) if s.phone in VOWELS]
        if vowels:
            for s in body[vowels[-1]:]:
                s.final = True
        pause = {",": 0.18, ";": 0.25, ":": 0.25}.get(mark, 0.38)
        segs.append(_Seg(SILENCE, pause, punct=mark))
        phrase_start = len(segs)

    for tok in tokens:
        if tok in ",.!?;:":
            if len(segs) > phrase_start:
                end_phrase(tok)
            continue
        phones = pronounce(tok)
        if not phones:
            continue
        words.append(tok)
        function = tok.lower() in FUNCTION_WORDS
        vowel_idx = [i for i, p in enumerate(phones) if p in VOWELS]
        stress_at = -1
        if not function and vowel_idx:
            stress_at = vowel_idx[0]
            # a reduced first vowel (a-BOUT, hel-LO) gives the stress to the next full vowel
            if phones[stress_at] in ("AH", "IH") and len(vowel_idx) > 1:
                stress_at = vowel_idx[1]
        for i, p in enumerate(phones):
            segs.append(_Seg(p, 0.0, stressed=(i == stress_at), word=len(words) - 1))
    if len(segs) > phrase_start:
        end_phrase(".")
    if segs[-1].phone == SILENCE:
        segs[-1].dur = max(segs[-1].dur, 0.3)

    for i, s in enumerate(segs):
        if s.phone == SILENCE:
            continue
        d = DURATION_MS[s.phone] / 1000.0
        if s.phone in VOWELS:
            if not s.stressed:
                d *= 0.6
        else:
            prev, nxt = segs[i - 1].phone, segs[i + 1].phone if i + 1 < len(segs) else SILENCE
            if (prev not in VOWELS and prev != SILENCE) or (nxt not in VOWELS and nxt != SILENCE):
                d *= 0.8  # consonant clusters are shorter
        if s.final:
            d *= 1.35
        s.dur = max(d / rate, 0.03)
    t = 0.0
    for s in segs:
        s.t0 = t
        t += s.dur
    return segs, words


# ----------------------------------------------------------------- tracks
def _trapezoid(track: np.ndarray, sr: int, t0: float, t1: float, amp: float, ramp: float) -> None:
    """Add ``amp`` over [t0, t1] with linear ramps of +-ramp around both ends."""
    n = len(track)
    a = max(0, int((t0 - ramp) * sr))
    b = min(n, int(np.ceil((t1 + ramp) * sr)) + 1)
    if b <= a:
        return
    t = np.arange(a, b) / sr
    up = np.clip((t - (t0 - ramp)) / (2 * ramp), 0, 1) if ramp > 0 else (t >= t0).astype(float)
    down = np.clip(((t1 + ramp) - t) / (2 * ramp), 0, 1) if ramp > 0 else (t <= t1).astype(float)
    track[a:b] += amp * np.minimum(up, down)


def _formant_keys(segs: list[_Seg]) -> tuple[list[float], list[tuple[float, float, float]], list[tuple[float, float, float]]]:
    """Keypoints (time, (F1, F2, F3), (B1, B2, B3)) through the phones' targets."""
    times: list[float] = []
    freqs: list[tuple[float, float, float]] = []
    bws: list[tuple[float, float, float]] = []
    vowel_bw = (70.0, 100.0, 150.0)
    for i, s in enumerate(segs):
        p = s.phone
        if p == SILENCE:
            continue
        if p in VOWELS:
            targets = VOWEL_FORMANTS[p]
            if p == "AH" and not s.stressed:
                targets = (SCHWA,)
            a, b = targets[0], targets[-1]
            times += [s.t0 + 0.3 * s.dur, s.t1 - 0.3 * s.dur] if len(targets) == 1 else [s.t0 + 0.2 * s.dur,
                                                                                         s.t1 - 0.15 * s.dur]
            freqs += [a, b]
            bws += [vowel_bw, vowel_bw]
            continue
        if p == "HH":  # /h/ is breath through the next vowel's shape
            nxt = next((x for x in segs[i + 1:] if x.phone in VOWELS), None)
            f = VOWEL_FORMANTS[nxt.phone][0] if nxt is not None else SCHWA
            bw = (200.0, 200.0, 250.0)
        else:
            f = CONSONANT_FORMANTS[p]
            bw = (100.0, 300.0, 400.0) if p in NASALS else (90.0, 120.0, 180.0)
        times.append(s.t0 + 0.5 * s.dur)
        freqs.append(f)
        bws.append(bw)
    return times, freqs, bws


def _resonate(x: np.ndarray, f: np.ndarray, bw: np.ndarray, sr: int, block: int) -> np.ndarray:
    """Klatt resonator with per-block frequency ``f`` and bandwidth ``bw`` (``(n_blocks,)``), unity DC gain."""
    r = np.exp(-np.pi * bw / sr)
    a1 = -2 * r * np.cos(2 * np.pi * f / sr)
    a2 = r * r
    g = 1 + a1 + a2
    y = np.empty_like(x)
    y1 = y2 = 0.0
    for k in range(len(f)):
        seg = x[k * block:(k + 1) * block]
        if len(seg) == 0:
            break
        zi = np.array([-a1[k] * y1 - a2[k] * y2, -a2[k] * y1])
        out, _ = lfilter([g[k]], [1.0, a1[k], a2[k]], seg, zi=zi)
        y[k * block:k * block + len(seg)] = out
        if len(out) >= 2:
            y1, y2 = out[-1], out[-2]
        else:
            y1, y2 = out[-1], y1
    return y


def synthesize(text: str, voice: str | Voice = "male", sr: int = 16000, rate: float = 1.0, seed: int = 0
               ) -> SynthSpeech:
    """Speak ``text`` with a formant synthesizer.

    Args:
        text: English text; punctuation makes pauses and sets the intonation.
        voice: ``"male"``, ``"female"``, or a :class:`Voice` (any pitch range and vocal-tract scale).
        sr: output sample rate (8-48 kHz).
        rate: speaking-rate factor (1 = about 4.5 syllables per second).
        seed: seed of the noise sources and jitter.

    Returns:
        :class:`SynthSpeech` with the samples and exact phone and word timings.

    Example::

        speech = synthesize("Hello! I am a talking head.", voice="female")
        speech.save_wav("hello.wav")
    """
    if not isinstance(voice, Voice) and voice not in VOICES:
        raise InputError(f"unknown voice '{voice}'; choose one of {', '.join(VOICES)}")
    if not 8000 <= sr <= 48000:
        raise InputError(f"synthesis sample rate must be 8-48 kHz, got {sr}")
    if not 0.3 <= rate <= 3.0:
        raise InputError(f"speaking rate must be between 0.3 and 3, got {rate}")
    v = voice if isinstance(voice, Voice) else VOICES[voice]
    segs, words = _plan(text, rate)
    if not words:
        raise InputError("the text has no words to speak")
    rng = np.random.default_rng(seed)
    total = segs[-1].t1
    n = int(np.ceil(total * sr))
    t = np.arange(n) / sr
    block = max(1, sr // 400)
    nb = (n + block - 1) // block
    tb = (np.arange(nb) + 0.5) * block / sr

    # amplitude tracks (per sample)
    av = np.zeros(n)
    ah = np.zeros(n)
    noise_amp = {k: np.zeros(n) for k in NOISE_BANDS}
    for i, s in enumerate(segs):
        p = s.phone
        if p == SILENCE:
            continue
        ramp = min(0.012, s.dur / 4)
        if p in STOPS or p in AFFRICATES:
            voiced = p in VOICED
            closure = s.t0 + s.dur * (0.7 if voiced else 0.6)
            if voiced:  # a weak voice bar through the closure, then voicing resumes
                _trapezoid(av, sr, s.t0, closure, 0.12, ramp)
                _trapezoid(av, sr, closure + 0.01, s.t1, 0.5, 0.005)
            if p in AFFRICATES:
                _trapezoid(noise_amp[p], sr, closure, s.t1, NOISE_BANDS[p][2], 0.01)
            else:
                key = "burst_" + p
                burst_len = 0.012
                _trapezoid(noise_amp[key], sr, closure + 0.002, closure + burst_len, NOISE_BANDS[key][2], 0.002)
                if not voiced:
                    _trapezoid(ah, sr, closure + burst_len, s.t1, 0.25, 0.006)
            continue
        _trapezoid(av, sr, s.t0, s.t1, _voicing(p), ramp)
        if p == "HH":
            _trapezoid(ah, sr, s.t0, s.t1, 0.4, ramp)
        elif p in FRICATIVES:
            _trapezoid(noise_amp[p], sr, s.t0, s.t1, NOISE_BANDS[p][2], ramp)

    # pitch: declination per phrase, accents on stressed syllables, final fall / question rise
    f0 = np.zeros(n)
    phrase_t0 = 0.0
    for s in segs:
        if s.phone != SILENCE or s.t0 == 0.0:
            continue
        a, b = int(phrase_t0 * sr), int(s.t1 * sr)
        if b > a:
            x = np.linspace(0, 1, b - a)
            start = v.f0_start * (1.08 if s.punct == "!" else 1.0)
            f0[a:b] = start * (v.f0_end / start) ** x
            if s.punct == "?":
                tail = np.clip((t[a:b] - (s.t0 - 0.35)) / 0.35, 0, 1)
                f0[a:b] *= 1 + 0.35 * tail
            elif s.punct in ".!":
                tail = np.clip((t[a:b] - (s.t0 - 0.3)) / 0.3, 0, 1)
                f0[a:b] *= 1 - 0.12 * tail
        phrase_t0 = s.t1
    for s in segs:
        if s.phone in VOWELS and s.stressed:
            c = s.t0 + 0.4 * s.dur
            f0 *= 1 + 0.14 * np.exp(-0.5 * ((t - c) / max(s.dur * 0.6, 0.05)) ** 2)
    jitter = np.cumsum(rng.normal(0, 1, nb))
    jitter = (jitter - np.convolve(jitter, np.ones(40) / 40, mode="same")) * 0.004
    f0 *= 1 + np.repeat(jitter, block)[:n]
    f0 = np.maximum(f0, 50.0)

    # glottal source: Rosenberg pulse (open 60%, closing 20%), differentiated for lip radiation
    phase = np.cumsum(f0 / sr) % 1.0
    flow = np.where(phase < 0.4, 0.5 * (1 - np.cos(np.pi * phase / 0.4)),
                    np.where(phase < 0.6, np.cos(0.5 * np.pi * (phase - 0.4) / 0.2), 0.0))
    pulse = np.diff(flow, prepend=0.0) * (f0 / 100.0) ** 0.0
    pulse /= np.max(np.abs(pulse)) + 1e-9
    noise = rng.standard_normal(n)
    breath = noise * v.breathiness * flow
    excitation = av * (pulse + breath) + ah * rng.standard_normal(n) * 0.5

    # vocal tract: five cascaded resonators with interpolated targets
    kt, kf, kb = _formant_keys(segs)
    kf_arr, kb_arr = np.asarray(kf), np.asarray(kb)
    y = excitation
    for j in range(3):
        fj = np.interp(tb, kt, kf_arr[:, j]) * v.formant_scale
        bj = np.interp(tb, kt, kb_arr[:, j]) * v.bandwidth_scale
        y = _resonate(y, np.minimum(fj, 0.45 * sr), bj, sr, block)
    for fj, bj in ((3300.0, 250.0), (3850.0, 300.0)):
        f_fixed = min(fj * v.formant_scale, 0.45 * sr)
        y = _resonate(y, np.full(nb, f_fixed), np.full(nb, bj * v.bandwidth_scale), sr, block)

    # frication and bursts: noise through fixed band-passes, mixed by their amplitude tracks
    fric = np.zeros(n)
    for key, amp in noise_amp.items():
        if not amp.any():
            continue
        lo, hi, _ = NOISE_BANDS[key]
        hi = min(hi, 0.47 * sr)
        lo = min(lo, 0.5 * hi)
        sos = butter(2, [lo, hi], btype="bandpass", fs=sr, output="sos")
        fric += amp * sosfilt(sos, noise)
    out = y * 0.3 + fric
    out = sosfilt(butter(1, 70, btype="highpass", fs=sr, output="sos"), out)
    out = 0.7 * out / (np.max(np.abs(out)) + 1e-9)

    phonemes = [(s.phone, round(s.t0, 6), round(s.t1, 6)) for s in segs]
    word_times: list[tuple[str, float, float]] = []
    for w_idx, w in enumerate(words):
        ws = [s for s in segs if s.word == w_idx]
        word_times.append((w, round(ws[0].t0, 6), round(ws[-1].t1, 6)))
    return SynthSpeech(out.astype(np.float32), sr, phonemes, word_times, text)
