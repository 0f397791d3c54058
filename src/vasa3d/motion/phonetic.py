"""Phones -> visemes -> ARKit mouth weights, with coarticulation.

Two sources of mouth shape feed :func:`mouth_weights`:

* acoustic (always, any language, streaming): lip rounding and spreading read from the
  first two formants, lip closure from dips of the 0.7-4 kHz loudness (see
  :mod:`vasa3d.motion.generate`), jaw opening from loudness;
* phone labels (when there are any): exact timings handed in (e.g. from a text-to-speech
  engine), a forced alignment of a transcript with pocketsphinx, or pocketsphinx allphone
  recognition run as a stream. Labels add the shapes acoustics cannot tell apart
  (/f v/ lower lip under the teeth, /sh ch/ protruded lips, /th/ tongue) and closures for
  /p b m/ the dip detector missed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from vasa3d.arkit import ARKIT_INDEX, ARKIT_NAMES
from vasa3d.errors import InputError, MissingAssetError
from vasa3d.motion.phones import SILENCE, pocketsphinx_model_dir

HOP_RATE = 100.0
CHANNELS = ("close", "round", "spread", "tuck", "tongue", "jaw")

#: Viseme of each ARPAbet phone: closure, rounding, spreading, lower-lip tuck, tongue, jaw scale.
VISEMES: dict[str, tuple[float, float, float, float, float, float]] = {
    # lips shut
    "P": (1, 0, 0, 0, 0, 0.2), "B": (1, 0, 0, 0, 0, 0.2), "M": (1, 0, 0, 0, 0, 0.2),
    # lower lip to upper teeth
    "F": (0, 0, 0, 1, 0, 0.3), "V": (0, 0, 0, 1, 0, 0.3),
    # tongue between the teeth
    "TH": (0, 0, 0.2, 0, 1, 0.4), "DH": (0, 0, 0.2, 0, 1, 0.4),
    # protruded, rounded
    "SH": (0, 0.7, 0, 0, 0, 0.3), "ZH": (0, 0.7, 0, 0, 0, 0.3), "CH": (0, 0.7, 0, 0, 0, 0.3),
    "JH": (0, 0.7, 0, 0, 0, 0.3), "W": (0, 1.0, 0, 0, 0, 0.25), "R": (0, 0.5, 0, 0, 0, 0.4),
    # teeth nearly together
    "S": (0, 0, 0.5, 0, 0, 0.15), "Z": (0, 0, 0.5, 0, 0, 0.15), "T": (0, 0, 0.3, 0, 0, 0.35),
    "D": (0, 0, 0.3, 0, 0, 0.35), "N": (0, 0, 0.3, 0, 0, 0.35), "L": (0, 0, 0.2, 0, 0, 0.45),
    "K": (0, 0, 0.1, 0, 0, 0.45), "G": (0, 0, 0.1, 0, 0, 0.45), "NG": (0, 0, 0.1, 0, 0, 0.45),
    "Y": (0, 0, 0.8, 0, 0, 0.3), "HH": (0, 0, 0, 0, 0, 0.6),
    # vowels
    "IY": (0, 0, 1.0, 0, 0, 0.35), "IH": (0, 0, 0.6, 0, 0, 0.5), "EY": (0, 0, 0.7, 0, 0, 0.6),
    "EH": (0, 0, 0.4, 0, 0, 0.75), "AE": (0, 0, 0.5, 0, 0, 0.95), "AA": (0, 0, 0, 0, 0, 1.0),
    "AH": (0, 0, 0, 0, 0, 0.75), "AO": (0, 0.6, 0, 0, 0, 0.85), "AW": (0, 0.4, 0, 0, 0, 0.95),
    "AY": (0, 0, 0.3, 0, 0, 0.9), "ER": (0, 0.4, 0, 0, 0, 0.5), "OW": (0, 0.8, 0, 0, 0, 0.65),
    "OY": (0, 0.6, 0.2, 0, 0, 0.7), "UH": (0, 0.6, 0, 0, 0, 0.5), "UW": (0, 1.0, 0, 0, 0, 0.35),
    SILENCE: (0, 0, 0, 0, 0, 0.0),
}

_I = ARKIT_INDEX


def validate_phonemes(phonemes) -> list[tuple[str, float, float]]:
    """Check a ``[(phone, start_s, end_s)]`` list (ARPAbet, stress digits allowed)."""
    out = []
    for item in phonemes:
        try:
            phone, start, end = item
            phone = str(phone).upper().rstrip("012")
            start, end = float(start), float(end)
        except (TypeError, ValueError):
            raise InputError(f"phoneme entries must be (phone, start_s, end_s), got {item!r}") from None
        if phone in ("SP", "SPN", "<SIL>", "+NSN+", "+SPN+", "+BREATH+", "+NOISE+", ""):
            phone = SILENCE
        if phone not in VISEMES:
            raise InputError(f"unknown phone '{phone}' in the phoneme timing; use ARPAbet (e.g. AA, P, SH)")
        if not np.isfinite(start) or not np.isfinite(end) or end < start:
            raise InputError(f"phoneme '{phone}' has a bad interval ({start}, {end})")
        out.append((phone, start, end))
    return out


class PhoneLabels:
    """Per-hop (10 ms) viseme channels from timed phones, with coarticulation.

    Rounding, spreading, tuck, tongue and jaw blend across neighbours: each hop averages the
    phones within ``carry_s`` before and ``anticipate_s`` after it (a triangular window), so the
    lips start rounding for /uw/ before it and release after it. Closures are kept crisp:
    a /p b m/ shuts the lips over its own interval, never smoothed away.
    """

    def __init__(self, carry_s: float = 0.04, anticipate_s: float = 0.06):
        self.carry = int(round(carry_s * HOP_RATE))
        self.ahead = int(round(anticipate_s * HOP_RATE))
        self.raw = np.zeros((0, len(CHANNELS)))  # per hop, uncoarticulated

    def add(self, phonemes: list[tuple[str, float, float]]) -> None:
        for phone, start, end in phonemes:
            a, b = int(round(start * HOP_RATE)), int(round(end * HOP_RATE))
            if b <= a:
                b = a + 1
            if b > len(self.raw):
                grow = b - len(self.raw)
                self.raw = np.concatenate([self.raw, np.zeros((grow, len(CHANNELS)))])
            self.raw[a:b] = VISEMES[phone]

    def channels(self, hops: np.ndarray) -> np.ndarray:
        """``(len(hops), 6)`` coarticulated channels at the given hop indices (0 beyond the labels)."""
        n = len(self.raw)
        out = np.zeros((len(hops), len(CHANNELS)))
        if n == 0:
            return out
        offsets = np.arange(-self.carry, self.ahead + 1)
        weights = 1.0 - np.abs(offsets) / (np.where(offsets < 0, self.carry, self.ahead) + 1.0)
        idx = np.clip(hops[:, None] + offsets[None, :], 0, n - 1)
        inside = (hops[:, None] + offsets[None, :] >= 0) & (hops[:, None] + offsets[None, :] < n)
        w = weights[None, :] * inside
        vals = self.raw[idx]  # (H, O, C)
        out = np.einsum("ho,hoc->hc", w, vals) / np.maximum(w.sum(axis=1), 1e-9)[:, None]
        centre = np.clip(hops, 0, n - 1)
        valid = (hops >= 0) & (hops < n)
        # a closure is the phone's own interval
        out[:, 0] = np.where(valid, self.raw[centre, 0], 0.0)
        return out


def align_transcript(samples16k: np.ndarray, transcript: str, model_dir: str | None = None
                     ) -> list[tuple[str, float, float]]:
    """Force-align ``transcript`` to 16 kHz speech with pocketsphinx; ``[(phone, start_s, end_s)]``.

    The search runs with pocketsphinx's default beams first; where reverberation or noise make it
    prune the true path (no alignment reaches the end of the audio), it runs again with much
    wider beams and the single forward pass alone.

    Raises:
        InputError: the transcript has no known words or cannot be aligned to the audio.
    """
    from vasa3d.motion.phones import tokenize

    words = [w.lower() for w in tokenize(transcript) if w[0].isalnum()]
    if not words:
        raise InputError("the transcript has no words; leave it out to recognise phones from the audio")
    pcm = (np.clip(samples16k, -1, 1) * 32767).astype(np.int16).tobytes()
    error = None
    for search in _ALIGN_SEARCHES:
        try:
            return validate_phonemes(_align(pcm, words, model_dir, search))
        except (RuntimeError, ValueError, TypeError) as exc:  # TypeError: no alignment came back
            error = exc
    raise InputError(f"the transcript could not be aligned to the audio ({error}); check that it matches") from None


#: pocketsphinx search settings tried in turn: the defaults, then beams wide enough for reverberant
#: or noisy speech (the second-pass searches, which fail to finish there, switched off)
_ALIGN_SEARCHES: tuple[dict, ...] = (
    {},
    {"beam": 1e-80, "wbeam": 1e-60, "pbeam": 1e-80, "fwdflat": False, "bestpath": False},
)


def _align(pcm: bytes, words: list[str], model_dir: str | None, search: dict) -> list[tuple[str, float, float]]:
    from pocketsphinx import Decoder

    from vasa3d.motion.phones import pronounce

    kwargs = {"lm": None, "loglevel": "FATAL", **search}
    if model_dir:
        kwargs["hmm"] = _model_dir(model_dir)
    decoder = Decoder(**kwargs)
    for w in words:  # words the dictionary lacks get rule-based pronunciations
        if decoder.lookup_word(w) is None:
            phones = pronounce(w)
            if phones:
                decoder.add_word(w, " ".join(phones), False)
    words = [w for w in words if decoder.lookup_word(w) is not None]
    decoder.set_align_text(" ".join(words))
    for word_pass in (True, False):  # word alignment first, then phones within the words
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        if word_pass:
            decoder.set_alignment()
    out = []
    for word in decoder.get_alignment():
        for phone in word:
            out.append((phone.name, phone.start / HOP_RATE, (phone.start + phone.duration) / HOP_RATE))
    return out


def _model_dir(model_dir: str | None) -> str:
    path = model_dir or pocketsphinx_model_dir()
    if not os.path.isfile(os.path.join(path, "mdef")):
        raise MissingAssetError(f"no pocketsphinx acoustic model in {path}; give a model directory with an mdef file")
    return path


class AllphoneRecognizer:
    """pocketsphinx allphone recognition as a stream of committed phone labels.

    Audio is decoded in fixed 40 ms blocks; after each block the current best path is read and
    every hop the decoder has processed, less ``lag_s``, is committed (never revised), so the
    labels depend on the audio alone, not on how it was chunked. pocketsphinx itself holds back
    about 40 ms of audio, which with a 40 ms block keeps the motion within 100 ms of the audio. Utterances restart after 0.3 s of silence or 20 s of
    speech to keep the decoder's back-trace short.
    """

    BLOCK = 640

    def __init__(self, labels: PhoneLabels, lag_s: float = 0.0, model_dir: str | None = None):
        from pocketsphinx import Decoder

        path = _model_dir(model_dir)
        lm = os.path.join(os.path.dirname(path.rstrip(os.sep)), "en-us-phone.lm.bin")
        if not os.path.isfile(lm):
            lm = os.path.join(path, "en-us-phone.lm.bin")
        if not os.path.isfile(lm):
            raise MissingAssetError(f"no phone language model (en-us-phone.lm.bin) next to {path}")
        self.decoder = Decoder(hmm=path, allphone=lm, lw=2.0, beam=1e-10, pbeam=1e-10, backtrace=True,
                               loglevel="FATAL")
        self.labels = labels
        self.lag = int(round(lag_s * HOP_RATE))
        self.pending = np.zeros(0, np.int16)
        self.utt_start_hop = 0  # hop index (clip time) where the current utterance began
        self.committed = 0  # hops committed so far (clip time)
        self.samples_fed = 0
        self.quiet_blocks = 0
        self.in_utt = False

    def _commit(self, upto_hop: int, segs) -> None:
        if upto_hop <= self.committed:
            return
        out = []
        for seg in segs or []:
            a = self.utt_start_hop + seg.start_frame
            b = self.utt_start_hop + seg.end_frame + 1
            a, b = max(a, self.committed), min(b, upto_hop)
            if b > a:
                name = seg.word.upper() if seg.word.upper() in VISEMES else SILENCE
                out.append((name, a / HOP_RATE, b / HOP_RATE))
        covered = max([int(round(e * HOP_RATE)) for _, _, e in out], default=self.committed)
        if covered < upto_hop:  # hops the path does not reach yet: silence
            out.append((SILENCE, covered / HOP_RATE, upto_hop / HOP_RATE))
        self.labels.add(out)
        self.committed = upto_hop

    def push(self, x16: np.ndarray, final: bool = False) -> None:
        pcm = (np.clip(np.asarray(x16, np.float64), -1, 1) * 32767).astype(np.int16)
        self.pending = np.concatenate([self.pending, pcm])
        d = self.decoder
        while len(self.pending) >= self.BLOCK or (final and len(self.pending)):
            block = self.pending[: self.BLOCK]
            self.pending = self.pending[self.BLOCK:]
            if len(block) < self.BLOCK:
                block = np.concatenate([block, np.zeros(self.BLOCK - len(block), np.int16)])
            if not self.in_utt:
                d.start_utt()
                self.in_utt = True
                # frame 0 of the utterance is the audio from here (pocketsphinx drops the partial
                # frames at the end of the previous one)
                self.utt_start_hop = self.samples_fed // 160
            d.process_raw(block.tobytes(), full_utt=False)
            self.samples_fed += self.BLOCK
            rms = np.sqrt(np.mean(block.astype(np.float64) ** 2)) / 32768
            self.quiet_blocks = self.quiet_blocks + 1 if rms < 10 ** (-50 / 20) else 0
            now = self.utt_start_hop + d.n_frames()
            # labels the best path has not reached yet are committed as silence (acoustic shapes only)
            self._commit(now - self.lag, d.seg() if d.hyp() is not None else None)
            if self.quiet_blocks >= 8 or now - self.utt_start_hop > 2000:
                d.end_utt()
                self._commit(self.utt_start_hop + d.n_frames(), d.seg())
                self._commit(self.samples_fed // 160, None)
                self.in_utt = False
        if final:
            if self.in_utt:
                d.end_utt()
                self._commit(self.utt_start_hop + d.n_frames(), d.seg())
                self.in_utt = False

    def hops_ready(self) -> int:
        return self.committed


@dataclass
class PhoneticMouth:
    """The phone-label side of the phonetic generator for one stream.

    Labels come from ``phonemes`` (known up front), or from streaming allphone recognition
    when ``recognize`` is true, or not at all (acoustic shapes only).
    """

    labels: PhoneLabels
    recognizer: AllphoneRecognizer | None = None

    @classmethod
    def create(cls, phonemes: list[tuple[str, float, float]] | None, recognize: bool,
               model_dir: str | None = None) -> "PhoneticMouth":
        if phonemes is not None:
            labels = PhoneLabels()
            labels.add(validate_phonemes(phonemes))
            return cls(labels, None)
        if recognize:
            labels = PhoneLabels(anticipate_s=0.0)
            return cls(labels, AllphoneRecognizer(labels, model_dir=model_dir))
        return cls(PhoneLabels(), None)

    @property
    def label_lead(self) -> bool:
        """Whether label channels may be read ahead of a frame (the lip lead): not when they are
        recognised live, which would push the motion past its 100 ms look-ahead."""
        return self.recognizer is None

    @property
    def has_labels(self) -> bool:
        return len(self.labels.raw) > 0 or self.recognizer is not None

    def push(self, x16: np.ndarray, final: bool) -> None:
        if self.recognizer is not None:
            self.recognizer.push(x16, final)

    def hops_ready(self) -> int | None:
        """Hops whose channels are final; None when unlimited."""
        if self.recognizer is None:
            return None
        return self.recognizer.hops_ready() - self.labels.ahead


def acoustic_shapes(f1: np.ndarray, f2: np.ndarray, voiced: np.ndarray, formant_scale: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Lip rounding and spreading in [0, 1] from formants (Hz), where ``voiced`` (in [0, 1]).

    Rounding lengthens the vocal tract and lowers F2 (and F1 for close vowels): /uw ow w/;
    spread lips with a high tongue give a high F2: /iy ey/. ``formant_scale`` is the speaker's
    vocal-tract scale (1 for an adult male, ~1.16 for a female voice).
    """
    f1n, f2n = f1 / formant_scale, f2 / formant_scale
    rounding = np.clip((1250 - f2n) / 350, 0, 1) * np.clip((700 - f1n) / 200, 0, 1)
    spread = np.clip((f2n - 1700) / 500, 0, 1) * np.clip((600 - f1n) / 200, 0, 1)
    return rounding * voiced, spread * voiced


def mouth_weights(openness: np.ndarray, closure: np.ndarray, rounding: np.ndarray, spread: np.ndarray,
                  labels: np.ndarray | None, max_jaw: float) -> np.ndarray:
    """ARKit mouth weights ``(F, 52)``.

    Args:
        openness: ``(F,)`` loudness-driven opening in [0, 1].
        closure: ``(F,)`` acoustic lip-closure evidence in [0, 1].
        rounding, spread: ``(F,)`` acoustic lip shapes in [0, 1].
        labels: ``(F, 6)`` coarticulated phone channels (:data:`CHANNELS`) or None.
        max_jaw: jawOpen at full opening.
    """
    n = len(openness)
    out = np.zeros((n, len(ARKIT_NAMES)), np.float32)
    m = np.asarray(openness, np.float64)
    close = np.asarray(closure, np.float64)
    tuck = tongue = np.zeros(n)
    jaw_scale = np.ones(n)
    if labels is not None:
        close = np.maximum(close, labels[:, 0])
        rounding = 0.3 * rounding + 0.7 * labels[:, 1]
        spread = 0.3 * spread + 0.7 * labels[:, 2]
        tuck, tongue = labels[:, 3], labels[:, 4]
        # the jaw follows loudness, scaled toward the phone's own opening where it is known
        jaw_scale = 0.75 + 0.25 * np.clip(labels[:, 5] / 0.75, 0, 1.3)
    jaw = max_jaw * m * jaw_scale * (1 - 0.9 * close) * (1 - 0.3 * tuck) * (1 - 0.25 * rounding)
    open_lips = (1 - close)
    out[:, _I["jawOpen"]] = jaw
    out[:, _I["mouthClose"]] = jaw * close
    out[:, _I["mouthFunnel"]] = 0.35 * rounding * open_lips
    out[:, _I["mouthPucker"]] = 0.5 * rounding
    out[:, _I["mouthRollLower"]] = 0.5 * tuck * open_lips
    out[:, _I["tongueOut"]] = 0.25 * tongue * open_lips
    for side in ("Left", "Right"):
        out[:, _I["mouthLowerDown" + side]] = 0.35 * m * open_lips * (1 - tuck)
        out[:, _I["mouthUpperUp" + side]] = (0.12 * m + 0.15 * tuck) * open_lips
        out[:, _I["mouthPress" + side]] = 0.3 * close
        out[:, _I["mouthStretch" + side]] = 0.3 * spread * open_lips
        out[:, _I["mouthSmile" + side]] = 0.08 * spread
    return out
