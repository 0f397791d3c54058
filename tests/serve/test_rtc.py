"""Pieces of the WebRTC layer that need no browser."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("aiortc")


def test_microphone_jitter_buffer_releases_after_one_packet():
    from aiortc import RTCPeerConnection
    from aiortc.jitterbuffer import JitterBuffer
    from aiortc.rtp import RtpPacket

    from vasa3d.serve.rtc import shorten_audio_jitter_buffer

    async def run():
        pc = RTCPeerConnection()
        pc.addTransceiver("audio", direction="sendrecv")
        receiver = pc.getReceivers()[0]
        assert shorten_audio_jitter_buffer(receiver)
        buffer = receiver._RTCRtpReceiver__jitter_buffer
        assert isinstance(buffer, JitterBuffer)
        await pc.close()
        return buffer

    buffer = asyncio.run(run())
    # 20 ms Opus packets: the first comes out when the second arrives (aiortc's default waits for five)
    released = []
    for i in range(3):
        packet = RtpPacket(sequence_number=i, timestamp=960 * i, payload=b"x")
        packet._data = b"x"  # what aiortc's receiver sets (the depayloaded frame) before buffering
        released.append(buffer.add(packet)[1])
    assert released[0] is None and released[1] is not None and released[1].timestamp == 0
    assert released[2] is not None and released[2].timestamp == 960
