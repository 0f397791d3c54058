"""The server's door: the token, the Host check, ids that can never be paths.

Every HTTP request and WebSocket goes through :class:`Guard` before any route
runs.  With a token (always on a non-loopback address) a request must carry it
as ``Authorization: Bearer TOKEN``, as ``?token=TOKEN`` or in the cookie the
page gets when it is opened with ``?token=``; without it the answer is 401,
whatever address the request comes from.  On loopback the Host header must
name this machine (``localhost``, ``127.0.0.1``, ``[::1]``), so a web page
elsewhere cannot reach the server through DNS rebinding.
"""

from __future__ import annotations

import hmac
import json
import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from vasa3d.errors import InputError

COOKIE = "vasa3d_token"
AVATAR_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
SERVER_ID = re.compile(r"^[0-9a-f]{16}$")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]", "::1"}


def check_avatar_id(value: object) -> str:
    """An avatar id is a file stem of letters, digits, ``-`` and ``_``: never a path."""
    if not isinstance(value, str) or not AVATAR_ID.match(value):
        shown = value if isinstance(value, str) and len(value) < 80 else type(value).__name__
        raise InputError(f"bad avatar id {shown!r}: ids are letters, digits, '-' and '_' (see GET /api/avatars)")
    return value


def check_server_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not SERVER_ID.match(value):
        raise InputError(f"bad {what} id: use the id the server gave")
    return value


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware: the token and the Host check, answered with one-line JSON errors."""

    def __init__(self, app, token: str = "", loopback: bool = True) -> None:
        self.app, self.token, self.loopback = app, token, loopback

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.loopback and _host_name(headers.get("host", "")) not in LOCAL_HOSTS:
            return await _deny(scope, send, 403, "this server answers only to localhost, 127.0.0.1 or [::1]")
        if not self.token:
            return await self.app(scope, receive, send)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given_query = (query.get("token") or [""])[0]
        auth = headers.get("authorization", "")
        given = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not given and "cookie" in headers:
            cookie = SimpleCookie()
            try:
                cookie.load(headers["cookie"])
            except Exception:  # a malformed cookie header is just no token
                cookie = SimpleCookie()
            given = cookie[COOKIE].value if COOKIE in cookie else ""
        given = given or given_query
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            return await _deny(scope, send, 401, "a valid token is needed: open the address printed by "
                                                 "'vasa3d serve' (with ?token=...) or send 'Authorization: Bearer TOKEN'")
        if scope["type"] == "http" and given_query and scope["path"] == "/":
            send = _with_cookie(send, self.token)
        return await self.app(scope, receive, send)


def _with_cookie(send, token: str):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
            message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
        await send(message)

    return wrapped


async def _deny(scope, send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if scope["type"] == "websocket":
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 4000 + status, "reason": message[:120]})
        return
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
