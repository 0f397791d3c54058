import numpy as np
import pytest

from vasa3d.errors import InputError
from vasa3d.motion.synth import synthesize

DEMO = "Hello! I am a talking head made from a single photo. Watch my lips move as I speak."


@pytest.fixture(scope="module", params=["male", "female"])
def demo(request):
    return synthesize(DEMO, voice=request.param)


def test_timing_covers_the_clip_in_order(demo):
    ph = demo.phonemes
    assert ph[0][0] == "SIL" and ph[-1][0] == "SIL"
    assert ph[0][1] == 0.0 and abs(ph[-1][2] - demo.duration) < 1.0 / demo.sample_rate + 1e-6
    for (_, _, end), (_, start, _) in zip(ph[:-1], ph[1:]):
        assert abs(end - start) < 1e-5
    assert [w for w, _, _ in demo.words][:3] == ["Hello", "I", "am"]
    assert 5.0 < demo.duration < 9.0
    assert sum(p in ("P", "B", "M") for p, _, _ in ph) == 7


def test_loud_where_it_speaks_and_quiet_in_pauses(demo):
    x, sr = demo.samples, demo.sample_rate
    assert np.abs(x).max() <= 1.0

    def db(a, b):
        seg = x[int(a * sr):int(b * sr)]
        return 10 * np.log10(np.mean(seg.astype(np.float64) ** 2) + 1e-12)

    vowels = [db(a, b) for p, a, b in demo.phonemes if p in ("AA", "AE", "EY", "OW", "IY", "AY")]
    pauses = [db(a + 0.05, b - 0.05) for p, a, b in demo.phonemes if p == "SIL" and b - a > 0.2]
    closures = [db(a + 0.01, a + 0.04) for p, a, b in demo.phonemes if p in ("P", "T", "K")]
    assert np.mean(vowels) > np.mean(pauses) + 30
    assert np.mean(vowels) > np.mean(closures) + 15


def test_pitch_differs_between_voices():
    from vasa3d.motion.features import FeatureStream

    f0 = {}
    for voice in ("male", "female"):
        s = synthesize("Hello, I am a talking head.", voice=voice)
        feats = FeatureStream().push(s.samples, final=True)
        f0[voice] = np.median(feats.f0[feats.f0 > 0])
    assert 80 < f0["male"] < 140 and 160 < f0["female"] < 260, f0


def test_speech_recognizer_understands_it():
    """Intelligibility, measured: pocketsphinx's English model recognises the key words."""
    from pocketsphinx import Decoder

    s = synthesize(DEMO, voice="male")
    pcm = (s.samples * 32767).astype(np.int16)
    d = Decoder(loglevel="FATAL")
    d.start_utt()
    d.process_raw(pcm.tobytes(), full_utt=True)
    d.end_utt()
    heard = set(d.hyp().hypstr.split())
    said = {"hello", "i", "am", "a", "talking", "head", "made", "from", "single", "photo", "watch", "my",
            "lips", "move", "as", "speak"}
    assert len(heard & said) >= 6, heard


def test_rejects_bad_requests():
    with pytest.raises(InputError):
        synthesize("", voice="male")
    with pytest.raises(InputError):
        synthesize("hello", voice="robot")
    s = synthesize("Zorblax 42?", sr=22050)  # unknown word and digits still speak
    assert s.sample_rate == 22050 and len(s.words) == 2
