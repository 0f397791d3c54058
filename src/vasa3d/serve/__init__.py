"""The web app: ``vasa3d serve`` (one page, live talking over WebRTC, an HTTP + WebSocket API, creation jobs).

See docs/serve.md.  :func:`create_app` builds the ASGI app; :func:`serve` runs it on uvicorn.
"""

from vasa3d.serve.config import ServeConfig
from vasa3d.serve.server import create_app, serve

__all__ = ["ServeConfig", "create_app", "serve"]
