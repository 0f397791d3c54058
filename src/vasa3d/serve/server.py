"""Run the web app on uvicorn: the address and token are printed once, then the server keeps quiet."""

from __future__ import annotations

import secrets

from vasa3d.serve.app import create_app
from vasa3d.serve.config import ServeConfig

__all__ = ["create_app", "serve"]


def serve(config: ServeConfig | None = None, log=print) -> None:
    """Serve until Ctrl-C.  Off loopback a token is required; one is made here if none was given."""
    import uvicorn

    config = config or ServeConfig()
    if not config.loopback and not config.token:
        config.token = secrets.token_urlsafe(24)
    app = create_app(config)
    shown = f"[{config.host}]" if ":" in config.host else config.host
    address = f"http://{'127.0.0.1' if config.host in ('0.0.0.0', '::') else shown}:{config.port}/"
    log(f"vasa3d serve: avatars in {config.avatars_dir}, jobs in {config.jobs_dir}, "
        f"at most {config.session_limit()} live sessions")
    if config.token:
        log(f"open {address}?token={config.token}")
        log("(the token is needed on every request; keep it secret, use HTTPS beyond your own network: docs/serve.md)")
    else:
        log(f"open {address}")
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False)
