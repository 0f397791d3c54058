"""WebRTC for live sessions (aiortc): the avatar's video and voice out, the browser's microphone in.

One :class:`RTCPeerConnection` per viewer of a session.  The session's pump thread hands each
frame to :class:`FrameQueues` (thread-safe, drop-oldest, so a slow viewer never slows the
engine); :class:`AvatarVideoTrack` and :class:`AvatarAudioTrack` send them with timestamps taken
from the frame index, so audio and video stay in step.  A microphone track from the browser is
resampled to 48 kHz mono and pushed into the session in 20 ms chunks (one Opus packet each).
"""

from __future__ import annotations

import asyncio
import fractions
import logging

import numpy as np

from vasa3d.errors import InputError
from vasa3d.serve.sessions import LiveClient

VIDEO_CLOCK = 90_000
FPS = 25
MAX_SDP_CHARS = 100_000
MIC_CHUNK_S = 0.02
log = logging.getLogger("vasa3d.serve")


class FrameQueues:
    """The latest frames of one session for one viewer: filled from the pump thread, read on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, video_max: int = 3, audio_max: int = 25) -> None:
        self.loop = loop
        self.video: asyncio.Queue = asyncio.Queue(video_max)
        self.audio: asyncio.Queue = asyncio.Queue(audio_max)

    def __call__(self, frame) -> None:  # on the pump thread
        try:
            self.loop.call_soon_threadsafe(self._put, frame)
        except RuntimeError:  # the loop is closed: the server is stopping
            pass

    def _put(self, frame) -> None:
        for queue, item in ((self.video, (frame.index, frame.image)), (self.audio, (frame.index, frame.audio))):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(item)


def _tracks():
    """The two track classes (aiortc is imported only when a viewer connects)."""
    import av
    from aiortc import MediaStreamTrack

    class VideoTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self, queues: FrameQueues) -> None:
            super().__init__()
            self.queues = queues

        async def recv(self):
            index, image = await self.queues.video.get()
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.pts = int(index) * (VIDEO_CLOCK // FPS)
            frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
            return frame

    class AudioTrack(MediaStreamTrack):
        kind = "audio"

        def __init__(self, queues: FrameQueues, sample_rate: int) -> None:
            super().__init__()
            self.queues, self.sample_rate = queues, sample_rate

        async def recv(self):
            index, samples = await self.queues.audio.get()
            pcm = (np.clip(np.asarray(samples, np.float32), -1, 1) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = self.sample_rate
            frame.pts = int(index) * (self.sample_rate // FPS)
            frame.time_base = fractions.Fraction(1, self.sample_rate)
            return frame

    return VideoTrack, AudioTrack


def shorten_audio_jitter_buffer(receiver) -> bool:
    """Release each microphone packet as soon as the next one arrives, not after four more.

    aiortc's audio receiver holds 4 packets (80 ms of Opus) before it decodes the first, against
    reordering on real networks; every millisecond of it is latency from the user's voice to the
    avatar's mouth. The attribute is aiortc's own (checked with 1.16); if it moves, nothing changes.
    """
    try:
        from aiortc.jitterbuffer import JitterBuffer

        name = "_RTCRtpReceiver__jitter_buffer"
        if not isinstance(getattr(receiver, name, None), JitterBuffer):
            return False
        setattr(receiver, name, JitterBuffer(capacity=16, prefetch=1))
        return True
    except ImportError:
        return False


async def consume_microphone(track, client: LiveClient) -> None:
    """Push a browser microphone track into the session until the track ends."""
    import av
    from aiortc.mediastreams import MediaStreamError

    resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
    chunk = int(48_000 * MIC_CHUNK_S)
    pending: list[np.ndarray] = []
    held = 0
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        for out in resampler.resample(frame):
            pcm = out.to_ndarray().reshape(-1)
            pending.append(pcm)
            held += pcm.size
        if held >= chunk:
            samples = np.concatenate(pending).astype(np.float32) / 32768.0
            pending, held = [], 0
            try:
                client.push_audio(samples, 48_000)
            except InputError as exc:
                log.warning("microphone audio refused: %s", exc)
            except Exception:  # noqa: BLE001 - the session ended: stop listening
                return


def loopback_candidates_only(sdp: str) -> str:
    """``sdp`` without ICE candidates off the loopback interface (mDNS names included)."""
    kept = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) < 5 or parts[4] not in ("127.0.0.1", "::1"):
                continue
        kept.append(line)
    return "\r\n".join(kept) + "\r\n"


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else ["::1"]


class RtcHub:
    """The peer connections of all sessions.

    With ``loopback_only`` (a server bound to 127.0.0.1) media never leaves the loopback interface
    either: our ICE candidates are 127.0.0.1 only and the browser's other candidates are ignored.
    A browser on the same machine needs no flag: it does not offer loopback candidates itself, but its
    connectivity checks to our 127.0.0.1 candidate reach us over the loopback interface and pair as
    peer-reflexive candidates (checked with plain headless Chromium, mDNS-hidden host candidates and
    all: tests/serve/test_browser.py::test_plain_browser_connects_to_a_loopback_server).
    """

    def __init__(self, loopback_only: bool = False) -> None:
        self.peers: dict[str, set] = {}
        self.loopback_only = loopback_only
        if loopback_only:
            import aioice.ice

            # aioice gathers every interface but loopback and has no setting for it; this server is loopback-only
            aioice.ice.get_host_addresses = _loopback_host_addresses

    async def answer(self, client: LiveClient, offer: object) -> dict:
        if not isinstance(offer, dict) or offer.get("type") != "offer" or not isinstance(offer.get("sdp"), str):
            raise InputError("malformed WebRTC offer: send {\"type\": \"offer\", \"sdp\": \"v=0...\"}")
        sdp = offer["sdp"]
        if len(sdp) > MAX_SDP_CHARS or not sdp.lstrip().startswith("v=0"):
            raise InputError("malformed WebRTC offer: the SDP must start with v=0 and be under 100 kB")
        if self.loopback_only:
            sdp = loopback_candidates_only(sdp)
        from aiortc import RTCPeerConnection, RTCSessionDescription

        VideoTrack, AudioTrack = _tracks()
        pc = RTCPeerConnection()
        queues = FrameQueues(asyncio.get_running_loop())
        state = {"unsubscribe": None, "counted": False}

        async def drop() -> None:
            if state["unsubscribe"] is not None:
                state["unsubscribe"]()
                state["unsubscribe"] = None
            if state["counted"]:
                client.connections -= 1
                state["counted"] = False
                client.touch()
            self.peers.get(client.id, set()).discard(pc)
            await pc.close()

        @pc.on("track")
        def on_track(track) -> None:
            if track.kind == "audio":
                for receiver in pc.getReceivers():
                    if receiver.track is track:
                        shorten_audio_jitter_buffer(receiver)
                asyncio.ensure_future(consume_microphone(track, client))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await drop()

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            kinds = {t.kind for t in pc.getTransceivers()}
            if "video" not in kinds:
                raise ValueError("the offer has no video")
            pc.addTrack(VideoTrack(queues))
            if "audio" in kinds:
                pc.addTrack(AudioTrack(queues, client.sample_rate))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # noqa: BLE001 - anything in a bad offer ends as one line
            await pc.close()
            reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            raise InputError(f"malformed WebRTC offer: {reason}") from None
        state["unsubscribe"] = client.subscribe(queues)
        client.connections += 1
        state["counted"] = True
        self.peers.setdefault(client.id, set()).add(pc)
        return {"type": pc.localDescription.type, "sdp": pc.localDescription.sdp}

    async def close_session(self, session_id: str) -> None:
        for pc in list(self.peers.pop(session_id, set())):
            await pc.close()

    async def close(self) -> None:
        for session_id in list(self.peers):
            await self.close_session(session_id)
