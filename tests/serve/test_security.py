"""The server's door (issue 12): token off loopback, upload caps, ids that are never paths, the session limit,
malformed WebRTC offers; each refused with one clear line while the server keeps serving."""

from __future__ import annotations

import io
import json
import os
import threading
import urllib.request

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from vasa3d.serve import ServeConfig, create_app

from .conftest import Server, fake_engine

TOKEN = "test-token-123"


def _files(root):
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


@pytest.fixture
def local(avatars_dir):
    server = Server(create_app(ServeConfig(avatars=str(avatars_dir), max_sessions=2), make_engine=fake_engine))
    yield server
    server.stop()


@pytest.fixture
def public(avatars_dir):
    """An app configured for a non-loopback address (token required); the test still binds 127.0.0.1 only."""
    app = create_app(ServeConfig(avatars=str(avatars_dir), host="0.0.0.0", token=TOKEN, max_sessions=2),
                     make_engine=fake_engine)
    server = Server(app)
    yield server
    server.stop()


ENDPOINTS = [("GET", "/"), ("GET", "/static/app.js"), ("GET", "/api"), ("GET", "/api/avatars"),
             ("POST", "/api/avatars?preset=demo"), ("GET", "/api/jobs"), ("GET", "/api/jobs/0123456789abcdef"),
             ("POST", "/api/jobs/0123456789abcdef/cancel"), ("POST", "/api/sessions"),
             ("GET", "/api/sessions/0123456789abcdef"), ("DELETE", "/api/sessions/0123456789abcdef"),
             ("POST", "/api/sessions/0123456789abcdef/offer"), ("POST", "/api/sessions/0123456789abcdef/say"),
             ("POST", "/api/sessions/0123456789abcdef/pcm"), ("POST", "/api/sessions/0123456789abcdef/audio"),
             ("POST", "/api/sessions/0123456789abcdef/controls"),
             ("POST", "/api/sessions/0123456789abcdef/interrupt"),
             ("GET", "/api/sessions/0123456789abcdef/timeline"),
             ("GET", "/api/sessions/0123456789abcdef/recording.mp4"), ("GET", "/no/such/page")]


def test_every_endpoint_needs_the_token_off_loopback(public):
    for method, path in ENDPOINTS:
        body = b"{}" if method == "POST" else None
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "vasa3d_token=wrong"}):
            status, reply = public.request(method, path, body, headers)
            assert status == 401, (method, path, headers, status)
            assert "token" in reply["error"] and "\n" not in reply["error"]
        status, _ = public.request(method, path + ("&" if "?" in path else "?") + "token=nope", body)
        assert status == 401
    # with the token: no longer 401 (the fake ids give 404 and so on)
    for method, path in ENDPOINTS:
        status, _ = public.request(method, path, b"{}" if method == "POST" else None,
                                   {"Authorization": f"Bearer {TOKEN}"})
        assert status != 401, (method, path)


def test_token_in_the_address_sets_a_cookie_for_the_page(public):
    req = urllib.request.Request(f"{public.base}/?token={TOKEN}")
    with urllib.request.urlopen(req, timeout=10) as r:
        cookie = r.headers["set-cookie"]
        assert r.status == 200 and b"<video" in r.read()
    assert cookie.startswith(f"vasa3d_token={TOKEN}") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    status, _ = public.request("GET", "/static/app.js", headers={"Cookie": f"vasa3d_token={TOKEN}"})
    assert status == 200


def test_websocket_needs_the_token(public):
    import websockets.sync.client as wsc
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as info:
        wsc.connect(f"ws://127.0.0.1:{public.port}/api/sessions/0123456789abcdef/ws", open_timeout=10)
    assert info.value.response.status_code == 401


def test_serve_makes_and_prints_a_token_off_loopback(avatars_dir, monkeypatch):
    import uvicorn

    from vasa3d.serve import serve

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    lines = []
    config = ServeConfig(avatars=str(avatars_dir), host="0.0.0.0", port=8123)
    serve(config, log=lines.append)
    assert len(config.token) >= 24 and any(f"?token={config.token}" in line for line in lines)
    assert seen["host"] == "0.0.0.0" and seen["app"].token == config.token
    lines.clear()
    serve(ServeConfig(avatars=str(avatars_dir)), log=lines.append)
    assert seen["app"].token == "" and not any("token=" in line for line in lines)


def test_loopback_server_refuses_foreign_host_names(local):
    status, reply = local.request("GET", "/api/avatars", headers={"Host": "attacker.example:8000"})
    assert status == 403 and "localhost" in reply["error"]
    assert local.request("GET", "/api/avatars", headers={"Host": f"localhost:{local.port}"})[0] == 200


def _headers_only(port, path, length):
    """POST with a Content-Length of ``length`` and no body: the server must answer from the headers alone."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("POST", path)
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    response = conn.getresponse()
    reply = json.loads(response.read())
    conn.close()
    return response.status, reply


def _png(width, height):
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(buf, format="PNG")
    return buf.getvalue()


def test_uploads_are_capped_and_checked_before_any_work(local, tmp_path):
    before = _files(tmp_path)
    # over 20 MB by Content-Length: refused before the body is sent at all
    status, reply = _headers_only(local.port, "/api/avatars?preset=demo", 20 * 1024 * 1024 + 1)
    assert status == 413 and "photo too large" in reply["error"]
    # 48 megapixels in a small PNG: refused from the header, never decoded
    status, reply = local.request("POST", "/api/avatars?preset=demo", _png(8000, 6000))
    assert status == 413 and "48 megapixels" in reply["error"]
    status, reply = local.request("POST", "/api/avatars?preset=demo", b"%PDF-1.4 not a photo" * 100)
    assert status == 415 and "not an image" in reply["error"]
    status, reply = local.request("POST", "/api/avatars?preset=huge", _png(64, 64))
    assert status == 400 and "unknown preset" in reply["error"]
    assert local.request("GET", "/api/jobs")[1]["jobs"] == []
    # the refused uploads left nothing behind (the jobs folder itself existed before)
    assert _files(tmp_path) == before


def test_audio_uploads_are_capped(local, tmp_path):
    _, session = local.request("POST", "/api/sessions", {"avatar": "tiny"})
    sid = session["id"]
    buf = io.BytesIO()
    sf.write(buf, np.zeros(8000 * 601, np.int16), 8000, format="WAV", subtype="PCM_16")
    status, reply = local.request("POST", f"/api/sessions/{sid}/audio", buf.getvalue())
    assert status == 413 and "10 minutes" in reply["error"]
    status, reply = local.request("POST", f"/api/sessions/{sid}/audio", b"hello, not audio" * 64)
    assert status == 415
    status, reply = _headers_only(local.port, f"/api/sessions/{sid}/audio", 100 * 1024 * 1024 + 1)
    assert status == 413 and "audio file too large" in reply["error"]
    status, reply = _headers_only(local.port, f"/api/sessions/{sid}/pcm?rate=16000", 16000 * 2 * 11)
    assert status == 413
    status, reply = local.request("POST", f"/api/sessions/{sid}/say", {"text": "x" * 2001})
    assert status == 413
    assert not any(f.startswith(os.path.join("avatars", ".jobs", "sessions", sid, "upload"))
                   for f in _files(tmp_path))


@pytest.mark.parametrize("bad", ["../x", "/etc/passwd", "..", "a/b", "tiny.vasa3d", "", "x" * 65, "~root", 7, None])
def test_avatar_ids_are_never_paths(local, bad):
    status, reply = local.request("POST", "/api/sessions", {"avatar": bad})
    assert status == 400 and "bad avatar id" in reply["error"]


@pytest.mark.parametrize("path", ["/api/jobs/..%2F..%2Fetc", "/api/jobs/../../etc/passwd", "/api/jobs/%2Fetc%2Fpasswd",
                                  "/api/sessions/..%2Fx", "/api/jobs/0123456789ABCDEF", "/static/..%2F..%2Fapp.py",
                                  "/static/../app.py"])
def test_path_like_job_and_session_ids(local, path):
    status, reply = local.request("GET", path)
    assert status in (400, 404), (path, status)
    assert isinstance(reply, dict) and "\n" not in reply.get("error", "")
    assert local.request("GET", "/api")[0] == 200


def test_unknown_avatar_is_a_clear_404(local):
    status, reply = local.request("POST", "/api/sessions", {"avatar": "nobody"})
    assert status == 404 and "no avatar 'nobody'" in reply["error"]


def test_a_flood_of_session_starts_gets_busy_replies(local):
    results = []

    def start():
        results.append(local.request("POST", "/api/sessions", {"avatar": "tiny"}))

    threads = [threading.Thread(target=start) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    admitted = [r for s, r in results if s == 201]
    busy = [r for s, r in results if s == 503]
    assert len(admitted) == 2 and len(busy) == 10
    assert all(r["error"].startswith("busy: all 2 live sessions are in use") for r in busy)
    # the admitted ones keep working, and ending one frees its slot
    assert local.request("GET", f"/api/sessions/{admitted[0]['id']}")[0] == 200
    assert local.request("DELETE", f"/api/sessions/{admitted[0]['id']}")[0] == 200
    assert local.request("POST", "/api/sessions", {"avatar": "tiny"})[0] == 201


@pytest.mark.parametrize("offer", [
    b"not json", b"[1, 2]", {"type": "answer", "sdp": "v=0"}, {"type": "offer"}, {"type": "offer", "sdp": 5},
    {"type": "offer", "sdp": "hello"}, {"type": "offer", "sdp": "v=0\r\nm=nonsense"},
    {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 30000},
])
def test_malformed_webrtc_offers(local, offer):
    _, session = local.request("POST", "/api/sessions", {"avatar": "tiny"})
    status, reply = local.request("POST", f"/api/sessions/{session['id']}/offer", offer,
                                  {"Content-Type": "application/json"})
    assert status in (400, 413), status
    assert "\n" not in reply["error"] and ("offer" in reply["error"] or "JSON" in reply["error"])
    # the session and the server are still there
    assert local.request("GET", f"/api/sessions/{session['id']}")[0] == 200
    assert local.request("GET", "/api/avatars")[0] == 200


def test_bad_controls_and_websocket_messages_get_one_line(local):
    import websockets.sync.client as wsc

    _, session = local.request("POST", "/api/sessions", {"avatar": "tiny"})
    sid = session["id"]
    for body in ({"yaw": "left"}, {"volume": 3}, {"gaze": [1]}, {"emotion": "weird"}, {"yaw": True}):
        status, reply = local.request("POST", f"/api/sessions/{sid}/controls", body)
        assert status == 400 and "\n" not in reply["error"], body
    with wsc.connect(f"ws://127.0.0.1:{local.port}/api/sessions/{sid}/ws", open_timeout=10) as ws:
        for message in ("{", json.dumps({"type": "fly"}), json.dumps({"type": "say", "text": ""}), b"\0"):
            ws.send(message)
            while True:
                reply = json.loads(ws.recv(timeout=10))
                if reply["type"] == "error":
                    break
            assert "\n" not in reply["error"]
        ws.send(json.dumps({"type": "say", "text": "hello"}))
        while (reply := json.loads(ws.recv(timeout=10)))["type"] != "queued":
            pass
        assert reply["seconds"] > 0
        ws.send(np.zeros(1600, "<i2").tobytes())  # PCM is taken
        ws.send(json.dumps({"type": "interrupt"}))
    assert local.request("GET", f"/api/sessions/{sid}")[0] == 200


def test_nothing_is_written_outside_the_avatar_and_job_folders(avatars_dir, tmp_path):
    """A whole session of requests (good and bad) writes only under AVATARS/ (which holds .jobs/)."""
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        server = Server(create_app(ServeConfig(avatars=str(avatars_dir), max_sessions=2), make_engine=fake_engine))
        _, session = server.request("POST", "/api/sessions", {"avatar": "tiny"})
        sid = session["id"]
        server.request("POST", f"/api/sessions/{sid}/say", {"text": "hi"})
        buf = io.BytesIO()
        sf.write(buf, 0.1 * np.sin(np.arange(16000) / 5.0), 16000, format="WAV")
        assert server.request("POST", f"/api/sessions/{sid}/audio", buf.getvalue())[0] == 200
        import time

        time.sleep(1.5)
        status, mp4 = server.request("GET", f"/api/sessions/{sid}/recording.mp4")
        assert status == 200 and mp4[4:8] == b"ftyp"
        for bad in ("../x", "/tmp/x"):
            server.request("POST", "/api/sessions", {"avatar": bad})
        server.request("POST", "/api/avatars?preset=demo&name=../../evil", b"not an image")
        server.request("DELETE", f"/api/sessions/{sid}")
        server.stop()
    finally:
        os.chdir(cwd)
    outside = [f for f in _files(tmp_path) if not f.startswith("avatars" + os.sep)]
    assert outside == []
