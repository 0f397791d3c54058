"""Hostile and unusual media files (issue 15): each is read correctly or refused in one line, before decoding."""

import struct
import zlib

import av
import numpy as np
import pytest
from PIL import Image

from vasa3d.errors import InputError
from vasa3d.io.media import MAX_AUDIO_SECONDS, audio_info, iter_audio, load_audio, load_image

SR = 16000


def wav_bytes(rate: int, pcm: bytes, channels: int = 1, data_size: int | None = None) -> bytes:
    size = len(pcm) if data_size is None else data_size
    fmt = struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    return b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", size) + pcm


def tone_pcm(seconds: float) -> bytes:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 200 * t) * 32767).astype("<i2").tobytes()


@pytest.mark.parametrize("rate,channels,expect", [(1, 1, "sample rate of 1 Hz"), (1_000_000, 1, "sample rate"),
                                                  (16000, 200, "audio channels")])
def test_impossible_wav_headers_are_refused_before_decoding(tmp_path, rate, channels, expect):
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(rate, tone_pcm(0.25), channels))  # 4 KB, as in the issue
    with pytest.raises(InputError, match=expect):
        audio_info(path)
    with pytest.raises(InputError, match=expect):
        load_audio(path)


def test_a_header_longer_than_the_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    import vasa3d.io.media as media

    path = tmp_path / "long.wav"
    path.write_bytes(wav_bytes(SR, tone_pcm(3.0)))
    monkeypatch.setattr(media, "MAX_AUDIO_SECONDS", 2)
    with pytest.raises(InputError, match="hours long|limit"):
        audio_info(path)
    assert MAX_AUDIO_SECONDS == 4 * 3600


def test_iter_audio_streams_in_chunks_and_matches_load_audio(tmp_path):
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(SR, tone_pcm(25.0)))
    info = {}
    chunks = list(iter_audio(path, SR, chunk_seconds=4.0, info=info))
    assert [len(c) for c in chunks[:-1]] == [4 * SR] * 6 and 0 < len(chunks[-1]) <= 4 * SR
    whole, _ = load_audio(path)
    np.testing.assert_array_equal(np.concatenate(chunks), whole)
    assert info["seconds"] == pytest.approx(25.0, abs=0.01) and info["peak"] == pytest.approx(0.3, abs=0.01)


def _mp3(path, seconds=20.0):
    t = np.arange(int(seconds * SR)) / SR
    y = (0.3 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mp3", rate=SR)
        stream.layout = "mono"
        for i in range(0, len(y), 1152):
            frame = av.AudioFrame.from_ndarray(y[None, i : i + 1152], format="flt", layout="mono")
            frame.sample_rate = SR
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_a_few_corrupt_packets_are_skipped_with_a_warning(tmp_path, caplog):
    data = bytearray(_mp3(tmp_path / "t.mp3").read_bytes())
    n = len(data)
    for k in range(3):
        data[n // 2 + 7 * k : n // 2 + 7 * k + 40] = b"\xff" * 40
    (tmp_path / "c.mp3").write_bytes(bytes(data))
    samples, _ = load_audio(tmp_path / "c.mp3")
    assert len(samples) / SR == pytest.approx(20.0, abs=0.5)
    assert any("corrupt audio packet" in r.getMessage() for r in caplog.records)


def test_a_mostly_corrupt_file_is_refused(tmp_path):
    data = bytearray(_mp3(tmp_path / "t.mp3").read_bytes())
    n = len(data)
    data[2000 : n - 2000] = np.random.default_rng(0).integers(0, 256, n - 4000, dtype=np.uint8).tobytes()
    (tmp_path / "m.mp3").write_bytes(bytes(data))
    with pytest.raises(InputError, match="mostly unreadable"):
        load_audio(tmp_path / "m.mp3")


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width x height`` but which holds one row of data."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("w,h,expect", [(9000, 8000, "64 megapixels"), (12000, 12000, "pixels"), (200_000, 200_000, "pixels")])
def test_huge_images_are_refused_from_the_header(tmp_path, w, h, expect):
    (tmp_path / "big.png").write_bytes(png_claiming(w, h))
    with pytest.raises(InputError, match=expect):
        load_image(tmp_path / "big.png")


def test_16_bit_greyscale_png_keeps_its_tones(tmp_path):
    grey = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (32, 1))
    Image.fromarray(grey).save(tmp_path / "g16.png")
    rgb = load_image(tmp_path / "g16.png")
    assert rgb.shape == (32, 64, 3) and rgb.dtype == np.uint8
    np.testing.assert_allclose(rgb[0, :, 0], np.linspace(0, 255, 64), atol=1)
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_alpha_is_composited_over_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :4, 3] = 255  # left half opaque red, right half transparent
    rgba[:, 4:6, 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    rgb = load_image(tmp_path / "a.png")
    assert (rgb[:, :4] == [200, 0, 0]).all()
    assert (rgb[:, 6:] == 255).all()
    np.testing.assert_allclose(rgb[0, 4], [228, 127, 127], atol=2)
    la = np.stack([np.full((8, 8), 50, np.uint8), np.zeros((8, 8), np.uint8)], -1)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert (load_image(tmp_path / "la.png") == 255).all()


def _mp4_with_aac(path, seconds=8.0, rate=44100):
    """A small H.264/MPEG-4 video with an AAC track of a tone: about 43 audio packets a second."""
    t = np.arange(int(seconds * rate)) / rate
    y = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=25)
        video.width = video.height = 64
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=rate)
        audio.layout = "mono"
        for i in range(int(seconds * 25)):
            for packet in video.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), i, np.uint8), format="rgb24")):
                out.mux(packet)
        for i in range(0, len(y), 1024):
            frame = av.AudioFrame.from_ndarray(y[None, i:i + 1024], format="flt", layout="mono")
            frame.sample_rate, frame.pts = rate, i
            for packet in audio.encode(frame):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    with av.open(str(path)) as container:
        return [(p.pos, p.size) for p in container.demux(container.streams.audio[0]) if p.size]


@pytest.mark.parametrize("damage", ["random", "zeros", "ones"])
def test_one_corrupt_aac_packet_in_a_video_is_skipped_with_a_warning(tmp_path, caplog, damage):
    """Players skip a damaged packet; so does vasa3d (a packet of 0xFF bytes fails in avcodec_send_packet
    with an 'undefined' error rather than 'invalid data')."""
    packets = _mp4_with_aac(tmp_path / "v.mp4")
    assert len(packets) > 300
    data = bytearray((tmp_path / "v.mp4").read_bytes())
    pos, size = packets[len(packets) // 2]
    data[pos:pos + size] = {"random": np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes(),
                            "zeros": bytes(size), "ones": b"\xff" * size}[damage]
    (tmp_path / "c.mp4").write_bytes(bytes(data))
    whole, _ = load_audio(tmp_path / "v.mp4")
    damaged, _ = load_audio(tmp_path / "c.mp4")
    assert abs(len(damaged) - len(whole)) <= 2048 * SR // 44100 + 1  # at most one packet's samples short
    assert any("skipped 1 corrupt audio packet(s) of" in r.getMessage() for r in caplog.records)
    assert np.abs(damaged[: SR * 3] - whole[: SR * 3]).max() < 1e-6  # the audio before the packet is intact


def test_a_video_with_one_corrupt_aac_packet_through_the_command_line(tmp_path, capsys):
    from vasa3d.cli import main

    packets = _mp4_with_aac(tmp_path / "v.mp4")
    data = bytearray((tmp_path / "v.mp4").read_bytes())
    pos, size = packets[len(packets) // 3]
    data[pos:pos + size] = b"\xff" * size
    (tmp_path / "c.mp4").write_bytes(bytes(data))
    code = main(["motion", str(tmp_path / "c.mp4"), "-o", str(tmp_path / "m.npz"), "--generator", "loudness"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "skipped 1 corrupt audio packet(s)" in err and "error" not in err
    from vasa3d.motion.latent import MotionLatent

    assert len(MotionLatent.load(tmp_path / "m.npz")) == pytest.approx(8 * 25, abs=2)
