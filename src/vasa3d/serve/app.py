"""The ASGI app: one page, a small HTTP + WebSocket API, WebRTC offers.  See docs/serve.md for the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from vasa3d import __version__
from vasa3d.errors import InputError, VasaError
from vasa3d.serve.avatars import AvatarStore
from vasa3d.serve.config import (
    MAX_AUDIO_BYTES,
    MAX_AUDIO_SECONDS,
    MAX_PHOTO_BYTES,
    MAX_PHOTO_PIXELS,
    MAX_TEXT_CHARS,
    ServeConfig,
)
from vasa3d.serve.jobs import PRESETS, JobManager
from vasa3d.serve.rtc import RtcHub
from vasa3d.serve.security import Guard, check_avatar_id
from vasa3d.serve.errors import BusyError, NotFound, TooLarge, Unsupported
from vasa3d.serve.sessions import SessionManager, default_engine

STATIC = Path(__file__).with_name("static")
MAX_JSON_BYTES = 200_000
MAX_PCM_SECONDS = 10.0
CONTROL_TYPES = {"yaw": float, "pitch": float, "distance": float, "emotion": str, "emotion_intensity": float,
                 "gaze": list, "motion_intensity": float, "size": int}
log = logging.getLogger("vasa3d.serve")


def error(status: int, message: str, **headers) -> JSONResponse:
    return JSONResponse({"error": message.splitlines()[0] if message else "error"}, status_code=status,
                        headers=headers or None)


async def read_body(request: Request, cap: int, what: str, into: Path | None = None) -> bytes:
    """The request body, refused as soon as it passes ``cap`` bytes (by its Content-Length or while it streams)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > cap:
        raise TooLarge(f"{what} too large: {int(length) / 1e6:.1f} MB, the limit is {cap / 1e6:.0f} MB")
    size, parts = 0, []
    with (open(into, "wb") if into is not None else contextlib.nullcontext()) as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise TooLarge(f"{what} too large: over the limit of {cap / 1e6:.0f} MB")
            if out is not None:
                out.write(chunk)
            else:
                parts.append(chunk)
    if size == 0:
        raise InputError(f"no {what} in the request body")
    return b"".join(parts)


async def read_json(request: Request) -> dict:
    body = await read_body(request, MAX_JSON_BYTES, "JSON body")
    try:
        data = json.loads(body)
    except ValueError:
        raise InputError("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InputError("the request body must be a JSON object")
    return data


def check_photo(path: Path) -> str:
    """The photo's format, after checking it is an image of at most 40 megapixels (before decoding it)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            width, height, fmt = im.width, im.height, im.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise Unsupported("the photo is not an image: send a JPEG, PNG or WebP file") from None
    if fmt not in ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "MPO"):
        raise Unsupported(f"the photo is a {fmt} image: send a JPEG, PNG or WebP file")
    if width * height > MAX_PHOTO_PIXELS:
        raise TooLarge(f"photo too large: {width}x{height} is {width * height / 1e6:.0f} megapixels, "
                       f"the limit is {MAX_PHOTO_PIXELS / 1e6:.0f}")
    return fmt.lower().replace("mpo", "jpeg")


def decode_audio(path: Path) -> tuple[np.ndarray, int]:
    """A recording of at most 10 minutes as 16 kHz mono (the length is checked before decoding)."""
    import av

    from vasa3d.io import load_audio

    try:
        with av.open(str(path)) as container:
            duration = container.duration / 1e6 if container.duration else None
    except (av.error.FFmpegError, ValueError, UnicodeDecodeError):
        raise Unsupported("the audio is not a readable audio file: send wav, mp3, ogg, webm or m4a") from None
    if duration is not None and duration > MAX_AUDIO_SECONDS:
        raise TooLarge(f"audio too long: {duration:.0f} s, the limit is {MAX_AUDIO_SECONDS / 60:.0f} minutes")
    samples, sr = load_audio(path, sr=16000)
    if len(samples) > MAX_AUDIO_SECONDS * sr:
        raise TooLarge(f"audio too long: the limit is {MAX_AUDIO_SECONDS / 60:.0f} minutes")
    return samples, sr


def check_controls(data: dict) -> dict:
    controls = {}
    for key, value in data.items():
        if key not in CONTROL_TYPES:
            raise InputError(f"unknown control {key!r}; use {', '.join(CONTROL_TYPES)}")
        kind = CONTROL_TYPES[key]
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise InputError(f"control {key} must be a finite number")
            controls[key] = float(value)
        elif kind is int and isinstance(value, int) and not isinstance(value, bool):
            controls[key] = value
        elif kind is str and isinstance(value, str) and len(value) < 40:
            controls[key] = value
        elif kind is list and isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
            controls[key] = (float(value[0]), float(value[1]))
        else:
            raise InputError(f"bad value for control {key}: {str(value)[:40]!r}")
    return controls


def create_app(config: ServeConfig | None = None, make_engine: Callable = default_engine) -> Starlette:
    """The web app for ``config``; ``make_engine(avatar_path, size)`` starts a live engine (tests pass a fake)."""
    config = config or ServeConfig()
    store = AvatarStore(config.avatars_dir)
    config.avatars_dir.mkdir(parents=True, exist_ok=True)
    config.jobs_dir.mkdir(parents=True, exist_ok=True)
    jobs = JobManager(config.jobs_dir, store, config.create_frames, config.create_iterations)
    sessions = SessionManager(config.session_limit(), config.size, config.jobs_dir / "sessions",
                              config.idle_timeout, make_engine)
    hub = RtcHub(loopback_only=config.loopback)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    async def info(request: Request) -> Response:
        return JSONResponse({"version": __version__, "sessions": len(sessions.sessions),
                             "max_sessions": sessions.limit, "size": config.size, "presets": list(PRESETS),
                             "limits": {"photo_bytes": MAX_PHOTO_BYTES, "photo_pixels": MAX_PHOTO_PIXELS,
                                        "audio_bytes": MAX_AUDIO_BYTES, "audio_seconds": MAX_AUDIO_SECONDS}})

    async def list_avatars(request: Request) -> Response:
        return JSONResponse({"avatars": store.list()})

    async def create_avatar(request: Request) -> Response:
        preset = request.query_params.get("preset", "demo")
        if preset not in PRESETS:
            raise InputError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
        name = request.query_params.get("name", "avatar")[:64]
        job_id, folder = jobs.new_folder()
        upload = folder / "photo.upload"
        try:
            await read_body(request, MAX_PHOTO_BYTES, "photo", into=upload)
            fmt = await asyncio.to_thread(check_photo, upload)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        photo = upload.rename(folder / f"photo.{fmt}")
        job = jobs.submit(job_id, name, preset, photo)
        return JSONResponse(job, status_code=202)

    async def list_jobs(request: Request) -> Response:
        return JSONResponse({"jobs": jobs.list()})

    async def get_job(request: Request) -> Response:
        return JSONResponse(jobs.get(request.path_params["job_id"]))

    async def job_preview(request: Request) -> Response:
        return FileResponse(jobs.preview(request.path_params["job_id"]), headers={"cache-control": "no-store"})

    async def cancel_job(request: Request) -> Response:
        return JSONResponse(jobs.cancel(request.path_params["job_id"]))

    async def start_session(request: Request) -> Response:
        data = await read_json(request)
        avatar_id = check_avatar_id(data.get("avatar"))
        path = store.path(avatar_id)
        client = await asyncio.to_thread(sessions.start, avatar_id, path)
        return JSONResponse({"id": client.id, "avatar": avatar_id, "size": config.size,
                             "sample_rate": client.sample_rate}, status_code=201)

    async def session_stats(request: Request) -> Response:
        client = sessions.get(request.path_params["session_id"])
        client.touch()
        return JSONResponse(client.stats())

    async def end_session(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        sessions.get(session_id)
        await hub.close_session(session_id)
        await asyncio.to_thread(sessions.end, session_id)
        shutil.rmtree(sessions.folder / session_id, ignore_errors=True)
        return JSONResponse({"ended": session_id})

    async def offer(request: Request) -> Response:
        client = sessions.get(request.path_params["session_id"])
        answer = await hub.answer(client, await read_json(request))
        return JSONResponse(answer)

    async def say(request: Request) -> Response:
        client = sessions.get(request.path_params["session_id"])
        text = (await read_json(request)).get("text")
        if not isinstance(text, str) or not text.strip():
            raise InputError("say needs {\"text\": \"...\"}")
        if len(text) > MAX_TEXT_CHARS:
            raise TooLarge(f"text too long: {len(text)} characters, the limit is {MAX_TEXT_CHARS}")
        seconds = await asyncio.to_thread(client.say, text)
        return JSONResponse({"queued_s": seconds})

    async def pcm(request: Request) -> Response:
        client = sessions.get(request.path_params["session_id"])
        rate = request.query_params.get("rate", "16000")
        if not rate.isdigit() or not 8000 <= int(rate) <= 96000:
            raise InputError("rate must be a sample rate in Hz between 8000 and 96000")
        body = await read_body(request, int(MAX_PCM_SECONDS * int(rate) * 2), "PCM chunk (10 s at most)")
        if len(body) % 2:
            raise InputError("PCM must be 16-bit little-endian mono samples (an even number of bytes)")
        client.push_audio(np.frombuffer(body, "<i2").astype(np.float32) / 32768.0, int(rate))
        return JSONResponse({"pushed_s": len(body) / 2 / int(rate)})

    async def play_audio(request: Request) -> Response:
        client = sessions.get(request.path_params["session_id"])
        client.folder.mkdir(parents=True, exist_ok=True)
        upload = client.folder / f"upload-{time.time_ns()}"
        try:
            await read_body(request, MAX_AUDIO_BYTES, "audio file", into=upload)
            samples, sr = await asyncio.to_thread(decode_audio, upload)
        finally:
            upload.unlink(missing_ok=True)
        return JSONResponse({"playing_s": client.play(samples, sr)})

    async def controls(request: Request) -> Response:
        client = sessions.get(request.path_params["session_id"])
        client.set_controls(**check_controls(await read_json(request)))
        return JSONResponse({"ok": True})

    async def interrupt(request: Request) -> Response:
        sessions.get(request.path_params["session_id"]).interrupt()
        return JSONResponse({"ok": True})

    async def timeline(request: Request) -> Response:
        client = sessions.get(request.path_params["session_id"])
        client.touch()
        return JSONResponse({"frames": [list(t) for t in list(client.timeline)]})

    async def recording(request: Request) -> Response:
        client = sessions.get(request.path_params["session_id"])
        client.folder.mkdir(parents=True, exist_ok=True)
        path = await asyncio.to_thread(client.recorder.write, client.folder / "said.mp4", client.sample_rate)
        return FileResponse(path, media_type="video/mp4", filename=f"{client.avatar_id}-said.mp4")

    async def session_socket(ws: WebSocket) -> None:
        try:
            client = sessions.get(ws.path_params["session_id"])
        except (NotFound, InputError) as exc:
            await ws.close(code=4404, reason=str(exc)[:120])
            return
        await ws.accept()
        client.connections += 1
        rate = 16000

        async def stats_loop() -> None:
            while True:
                await asyncio.sleep(1.0)
                await ws.send_json({"type": "stats", **client.stats()})

        ticker = asyncio.ensure_future(stats_loop())
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    if message.get("bytes") is not None:
                        data = message["bytes"]
                        if len(data) % 2 or len(data) > MAX_PCM_SECONDS * rate * 2:
                            raise InputError("binary messages are 16-bit mono PCM chunks of at most 10 s")
                        client.push_audio(np.frombuffer(data, "<i2").astype(np.float32) / 32768.0, rate)
                        continue
                    msg = json.loads(message.get("text") or "")
                    if not isinstance(msg, dict):
                        raise InputError("messages are JSON objects with a 'type'")
                    kind = msg.pop("type", None)
                    if kind == "audio_format":
                        if not isinstance(msg.get("rate"), int) or not 8000 <= msg["rate"] <= 96000:
                            raise InputError("audio_format needs an integer rate between 8000 and 96000")
                        rate = msg["rate"]
                    elif kind == "say":
                        text = msg.get("text")
                        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
                            raise InputError(f"say needs text of 1 to {MAX_TEXT_CHARS} characters")
                        seconds = await asyncio.to_thread(client.say, text)
                        await ws.send_json({"type": "queued", "seconds": seconds})
                    elif kind == "controls":
                        client.set_controls(**check_controls(msg))
                    elif kind == "interrupt":
                        client.interrupt()
                    else:
                        raise InputError("unknown message type; use audio_format, say, controls or interrupt")
                except (VasaError, ValueError, TypeError) as exc:
                    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    await ws.send_json({"type": "error", "error": text})
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            ticker.cancel()
            client.connections -= 1
            client.touch()

    async def on_vasa_error(request: Request, exc: Exception) -> Response:
        return error(400, str(exc))

    async def on_lookup(request: Request, exc: Exception) -> Response:
        return error(404, str(exc))

    async def on_busy(request: Request, exc: Exception) -> Response:
        return error(503, str(exc), **{"retry-after": "30"})

    async def on_too_large(request: Request, exc: Exception) -> Response:
        return error(413, str(exc))

    async def on_unsupported(request: Request, exc: Exception) -> Response:
        return error(415, str(exc))

    async def on_http(request: Request, exc: HTTPException) -> Response:
        return error(exc.status_code, exc.detail if isinstance(exc.detail, str) else "request refused")

    async def on_other(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error(500, f"internal error ({type(exc).__name__}); the server keeps running")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await hub.close()
        await asyncio.to_thread(sessions.close)
        await asyncio.to_thread(jobs.close)

    sid = "{session_id}"
    routes = [
        Route("/", index),
        Route("/api", info),
        Route("/api/avatars", list_avatars),
        Route("/api/avatars", create_avatar, methods=["POST"]),
        Route("/api/jobs", list_jobs),
        Route("/api/jobs/{job_id}", get_job),
        Route("/api/jobs/{job_id}/preview.jpg", job_preview),
        Route("/api/jobs/{job_id}/cancel", cancel_job, methods=["POST"]),
        Route("/api/sessions", start_session, methods=["POST"]),
        Route(f"/api/sessions/{sid}", session_stats),
        Route(f"/api/sessions/{sid}", end_session, methods=["DELETE"]),
        Route(f"/api/sessions/{sid}/offer", offer, methods=["POST"]),
        Route(f"/api/sessions/{sid}/say", say, methods=["POST"]),
        Route(f"/api/sessions/{sid}/pcm", pcm, methods=["POST"]),
        Route(f"/api/sessions/{sid}/audio", play_audio, methods=["POST"]),
        Route(f"/api/sessions/{sid}/controls", controls, methods=["POST"]),
        Route(f"/api/sessions/{sid}/interrupt", interrupt, methods=["POST"]),
        Route(f"/api/sessions/{sid}/timeline", timeline),
        Route(f"/api/sessions/{sid}/recording.mp4", recording),
        WebSocketRoute(f"/api/sessions/{sid}/ws", session_socket),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    handlers = {VasaError: on_vasa_error, NotFound: on_lookup, BusyError: on_busy, TooLarge: on_too_large,
                Unsupported: on_unsupported, HTTPException: on_http, Exception: on_other}
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    app.state.sessions, app.state.jobs, app.state.store, app.state.hub = sessions, jobs, store, hub
    if not config.loopback and not config.token:
        raise VasaError(f"listening on {config.host} needs a token: give --token or let 'vasa3d serve' make one")
    return Guard(app, token=config.token, loopback=config.loopback)  # type: ignore[return-value]
