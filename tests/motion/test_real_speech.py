"""The issue's lip-sync numbers on real recorded speech (tests/data/speech, see its README.md).

Five LibriVox recordings of one reader (Sense and Sensibility, 16 kHz, from 64 kbps MP3) with
pocketsphinx phone alignments: 29 /p b m/. They are judged exactly as the synthesized speech of
test_lipsync.py is (same metric, same room simulation), clean, in a room (RT60 0.4 s) and a hall
(RT60 0.8 s) with noise at 15 dB SNR, in noise alone, and resampled to 8 and 48 kHz, with no
transcript: the path a user's recording takes. Three more speakers (cards, goforward, something)
have transcripts but no shipped timing; their /p b m/ are found by forced alignment.
"""

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from vasa3d.motion import MotionConfig, audio_to_motion
from vasa3d.motion.measure import (closure_events, closure_hits, closure_precision, closure_targets, lip_gap,
                                   loudness_correlation, simulate_room)
from vasa3d.motion.phonetic import align_transcript, validate_phonemes
from vasa3d.motion.phones import BILABIAL, SILENCE, VOWELS

DATA = Path(__file__).resolve().parents[1] / "data" / "speech"
SR = 16000

CONDITIONS = {
    "clean": lambda x: (x, SR),
    "room": lambda x: (simulate_room(x, rt60=0.4, snr_db=15.0), SR),
    "hall": lambda x: (simulate_room(x, rt60=0.8, snr_db=15.0), SR),
    "noisy": lambda x: (simulate_room(x, rt60=0.0, snr_db=15.0), SR),
    "8k": lambda x: (resample_poly(x, 1, 2).astype(np.float32), 8000),
    "48k": lambda x: (resample_poly(x, 3, 1).astype(np.float32), 48000),
}


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == SR and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768


def read_phones(path: Path) -> list[tuple[str, float, float]]:
    """Phones of a pocketsphinx ``-phone_align`` JSON file (words hold phones; "b" start, "d" duration)."""
    phones = []
    for word in json.loads(path.read_text())["w"]:
        for p in word.get("w", []):
            phones.append((p["t"], p["b"], p["b"] + p["d"]))
    return validate_phonemes(phones)


def read_transcriptions(path: Path) -> dict[str, str]:
    """Sphinx ``.transcription`` lines: ``<s> words </s> (utterance id)``."""
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            text, _, utt = line.rpartition("(")
            out[utt.strip(" )")] = text.replace("<s>", "").replace("</s>", "").strip()
    return out


@pytest.fixture(scope="module")
def librivox():
    clips = []
    for timing in sorted((DATA / "librivox").glob("*.phone.json")):
        stem = timing.name[: -len(".phone.json")]
        clips.append((read_wav(timing.with_name(stem + ".wav")), read_phones(timing),
                      timing.with_name(stem + ".txt").read_text().strip()))
    return clips


def vowel_middles_closed(gap: np.ndarray, phones, fps: float = 25.0) -> tuple[int, int]:
    """(closed frames, frames) in the middle half of every vowel of 100 ms or more."""
    closed = gap < 0.1 * gap.max()
    t = np.arange(len(gap)) / fps
    n_closed = n = 0
    for phone, a, b in phones:
        if phone in VOWELS and b - a >= 0.1:
            middle = (t >= a + 0.25 * (b - a)) & (t <= b - 0.25 * (b - a))
            n += middle.sum()
            n_closed += closed[middle].sum()
    return int(n_closed), int(n)


def test_the_alignments_hold_29_bilabials_with_closure_dips(librivox):
    """The ground truth is sound: every labelled /p b m/ but one lies on a dip of the 0.7-4 kHz band
    of at least 15 dB below the speech around it (the lips shut off that band); the exception is the
    utterance-final, trailing-off /m/ of "them"."""
    from scipy.signal import butter, sosfilt

    sos = butter(4, [700, 4000], btype="bandpass", fs=SR, output="sos")
    depths = []
    for x, phones, _ in librivox:
        y = sosfilt(sos, x.astype(np.float64))
        db = np.array([10 * np.log10(np.mean(y[max(0, i - 120): i + 120] ** 2) + 1e-12)
                       for i in range(0, len(y), 80)])  # 5 ms hops, 15 ms windows
        for phone, a, b in phones:
            if phone in BILABIAL:
                ia, ib = int(a * 200), int(b * 200)
                k = ia + int(np.argmin(db[ia: ib + 1]))
                depths.append(min(db[max(0, k - 24): k].max(), db[k + 1: k + 25].max()) - db[k])
    assert len(depths) == 29
    assert sum(d >= 15 for d in depths) == 28, np.round(depths, 1)


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_bilabial_closures_and_loudness_on_real_speech(librivox, condition):
    hits, rs, closed, frames, selective, closures = [], [], 0, 0, 0, 0
    for x, phones, _ in librivox:
        y, rate = CONDITIONS[condition](x)
        motion = audio_to_motion(y, rate)
        gap = lip_gap(motion)
        hits.extend(closure_hits(gap, motion.fps, phones))
        good, n = closure_precision(gap, motion.fps, phones)
        selective, closures = selective + good, closures + n
        rs.append(loudness_correlation(motion, y, rate))
        c, n = vowel_middles_closed(gap, phones)
        closed, frames = closed + c, frames + n
    assert len(hits) == 29
    # lips shut (gap < 10% of its maximum) within 40 ms of >= 85% of the /p b m/ (measured 97-100%)
    assert np.mean(hits) >= 0.85, np.mean(hits)
    # mouth opening follows loudness on every recording (measured min 0.62-0.77)
    assert min(rs) >= 0.6, np.round(rs, 3)
    # vowels stay open (measured 4-6 of 64 middle frames closed, at glottal stops such as "be ill")
    assert closed / frames < 0.12, (closed, frames)
    # closures are not selective: measured 41 of 89 (46 %) on a /p b m/ or a pause clean, 40 of 77
    # (52 %) in the room, 44-57 % in the other conditions (35-44 % with closure_place=False); this
    # guards against worse (the 60 % is test_closure_precision_target)
    assert selective / closures >= 0.3, (selective, closures)


def test_closure_events_and_what_they_fall_on():
    gap = np.array([1.0, 0.05, 0.0, 1.0, 1.0, 0.02, 1.0, 0.5, 0.09, 0.09, 0.09, 1.0])
    assert closure_events(gap) == [(1, 3), (5, 6), (8, 11)]
    phones = [("AH", 0.0, 0.06), ("M", 0.06, 0.1), ("AA", 0.1, 0.18), ("T", 0.18, 0.24),
              ("AH", 0.24, 0.3), ("SIL", 0.3, 0.5)]
    # frames 1-2 (40-80 ms) touch the /m/; frame 5 (200 ms) lies on the /t/, 40 ms from any /p b m/;
    # frames 8-10 (320-400 ms) are in the pause
    assert closure_targets(gap, 25.0, phones) == ["bilabial", "T", "silence"]
    assert closure_precision(gap, 25.0, phones) == (2, 3)


def closure_scores(librivox, condition: str, config: MotionConfig | None = None) -> tuple[int, int, list]:
    selective = closures = 0
    hits = []
    for x, phones, _ in librivox:
        y, rate = CONDITIONS[condition](x)
        motion = audio_to_motion(y, rate, config)
        gap = lip_gap(motion)
        good, n = closure_precision(gap, motion.fps, phones)
        selective, closures = selective + good, closures + n
        hits.extend(closure_hits(gap, motion.fps, phones))
    return selective, closures, hits


@pytest.mark.xfail(strict=True, reason="issue 14 item 7 is open: the closure detector reads one band's dips, "
                   "which /t d k g n s/ make too (measured 35 % clean, 44 % room; with the closure-place "
                   "classifier, trained on synthesized speech only, 46.1 % and 51.9 %); see docs/motion.md")
@pytest.mark.parametrize("closure_place", [False, True])
@pytest.mark.parametrize("condition", ["clean", "room"])
def test_closure_precision_target(librivox, condition, closure_place):
    """The issue's line: >= 60 % of closures on a /p b m/ or a pause, with the recall above."""
    selective, closures, _ = closure_scores(librivox, condition, MotionConfig(closure_place=closure_place))
    assert selective / closures >= 0.6, (selective, closures)


@pytest.mark.parametrize("condition, precision, recall", [("clean", 0.45, 0.95), ("room", 0.5, 0.9)])
def test_closure_place_classifier_on_real_speech(librivox, condition, precision, recall):
    """The classifier was trained on synthesized speech only; these recordings are held out. Measured
    41 of 89 closures (46.1 %) on a /p b m/ or a pause with 29/29 /p b m/ clean, 40 of 77 (51.9 %) with
    29/29 in the room (without it 35.3 % and 44.4 %, 29/29 each)."""
    selective, closures, hits = closure_scores(librivox, condition, MotionConfig(closure_place=True))
    assert len(hits) == 29
    assert selective / closures >= precision, (selective, closures)
    assert np.mean(hits) >= recall, np.mean(hits)
    base_selective, base_closures, _ = closure_scores(librivox, condition, MotionConfig(closure_place=False))
    assert closures <= base_closures - 5, (closures, base_closures)


@pytest.mark.parametrize("condition", ["clean", "room"])
def test_transcript_closes_every_bilabial(librivox, condition):
    """With the transcript (forced alignment on the degraded audio itself, which in the room needs
    the wide-beam retry for the longest recording)."""
    hits, rs = [], []
    for x, phones, text in librivox:
        y, rate = CONDITIONS[condition](x)
        motion = audio_to_motion(y, rate, MotionConfig(transcript=text))
        hits.extend(closure_hits(lip_gap(motion), motion.fps, phones))
        rs.append(loudness_correlation(motion, y, rate))
    assert np.mean(hits) == 1.0, np.mean(hits)
    assert min(rs) >= 0.6, np.round(rs, 3)


def test_other_speakers():
    """Cards, "go forward ten meters" and "go somewhere and do something": timing by forced
    alignment of their transcripts. 8 /p b m/ (clubs x4, spades, meters, somewhere, something);
    the /m/ of "ten meters" is missed: it follows /n/ under one continuous nasal murmur, so the
    band hardly dips. Too few for a percentage; the loudness check holds on each."""
    items = [(read_wav(DATA / "cards" / f"{utt}.wav"), text)
             for utt, text in read_transcriptions(DATA / "cards" / "cards.transcription").items()]
    for utt, text in read_transcriptions(DATA / "raw.transcription").items():
        items.append((np.fromfile(DATA / f"{utt}.raw", "<i2").astype(np.float32) / 32768, text))
    assert len(items) == 7
    hits, rs = [], []
    for x, text in items:
        phones = align_transcript(x, text)
        motion = audio_to_motion(x, SR)
        hits.extend(closure_hits(lip_gap(motion), motion.fps, phones))
        rs.append(loudness_correlation(motion, x, SR))
    assert len(hits) == 8
    assert sum(hits) >= 7, hits
    assert min(rs) >= 0.6, np.round(rs, 3)


def test_pauses_and_silence_after_real_speech_close_the_mouth(librivox):
    for x, phones, _ in librivox:
        motion = audio_to_motion(x, SR)
        gap = lip_gap(motion)
        t = np.arange(len(gap)) / motion.fps
        for phone, a, b in phones:
            if phone == SILENCE and b - a >= 0.2:  # the labelled pauses, 80 ms in from their edges
                inner = (t >= a + 0.08) & (t <= b - 0.08)
                assert np.all(gap[inner] < 0.1 * gap.max()), (a, b, gap[inner])
    x = librivox[0][0]
    motion = audio_to_motion(np.concatenate([x, np.zeros(5 * SR, np.float32)]), SR)
    quiet = slice(int((len(x) / SR + 0.5) * motion.fps), len(motion))
    assert lip_gap(motion)[quiet].max() < 0.01
    assert np.all(np.abs(np.diff(motion.z_pose[quiet, :3], axis=0)).max(axis=1) > 1e-6)  # never frozen
