"""The cockpit's web server: textual-serve's, with a secret token checked before anything runs.

textual-serve's :class:`~textual_serve.server.Server` serves a page that runs xterm.js, and
starts the TUI (``agentmux --web``) for each websocket a page opens, talking to it over its
standard input and output. It has no authentication, and its routes are built inside
``_make_app``: :class:`CockpitServer` subclasses it to put a middleware in front of every route
(the page, its static files, the websocket, downloads) that answers 401 to a request without the
token, before a handler runs and so before any process starts. Subclassing is the one hook it
offers: the routes, the page's handler and the start-up are methods of that class.

The token reaches the server once in the URL the user opens (``/?token=...``); that page sets it
as an HttpOnly, SameSite=Strict cookie, which the page's own requests (the scripts, the
websocket) then carry. It is compared in constant time, and never logged: aiohttp's access log
is off, and every log record the process writes has the token blanked out.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
import psutil
from aiohttp import web
from textual_serve.server import Server

from agentmux.core.errors import AgentmuxError
from agentmux.web.token import same_token

COOKIE = "agentmux_token"
TEMPLATES = Path(__file__).parent / "templates"
UNAUTHORIZED = (
    "agentmux: this page needs the token: open the URL `agentmux serve` printed "
    "(http://HOST:PORT/?token=...).\n"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger("agentmux.web")


class Redact(logging.Filter):
    """Blank the token out of every log record (whatever a library puts in a message)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, its text without the token."""
        text = record.getMessage()
        if self.token in text:
            record.msg, record.args = text.replace(self.token, "<token>"), None
        if record.exc_info and self.token in logging.Formatter().formatException(record.exc_info):
            record.exc_info, record.exc_text = None, None  # a traceback naming it: dropped
        return True


class CockpitServer(Server):
    """textual-serve's server, every request checked against ``token`` first."""

    def __init__(self, command: str, *, host: str, port: int, token: str, title: str) -> None:
        super().__init__(command, host=host, port=port, title=title, templates_path=TEMPLATES)
        self.token = token
        self.bound_port = port

    # --- textual-serve's hooks ------------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        """textual-serve's routes, behind the token check (the first middleware)."""
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    def initialize_logging(self) -> None:
        """Warnings and errors to stderr, the token blanked out (textual-serve's own set-up
        logs at INFO through rich)."""
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("agentmux serve: %(message)s"))
        handler.addFilter(Redact(self.token))
        root = logging.getLogger()
        root.handlers = [handler]
        root.setLevel(logging.WARNING)

    async def on_startup(self, app: web.Application) -> None:
        """Nothing: ``agentmux serve`` prints the URL itself (textual-serve prints a logo)."""

    async def on_shutdown(self, app: web.Application) -> None:
        """End the TUIs that are still running (each page's), not their agents: a TUI quits
        and leaves its agents running."""
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.Error):
                child.terminate()

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page; its websocket and static URLs on the host and port the browser used (an
        ssh tunnel's local port, ``localhost`` or ``127.0.0.1``), so its cookie goes with them."""
        scheme = "wss" if request.secure else "ws"
        try:
            font_size = int(request.query.get("fontsize", "16"))
        except ValueError:
            font_size = 16
        return {
            "font_size": font_size,
            "app_websocket_url": f"{scheme}://{request.host}/ws",
            "config": {"static": {"url": "/static/"}},
            "application": {"name": self.title},
        }

    # --- the token ----------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """401 for a request without the token (before its handler runs); the page opened
        with the token in its URL sets the cookie the page's own requests carry."""
        given = request.query.get("token")
        in_url = given is not None
        if given is None:
            given = request.cookies.get(COOKIE)
        if not same_token(given, self.token):
            return web.Response(status=401, text=UNAUTHORIZED)
        if request.path == "/ws" and not _same_origin(request):
            # A page of another site holding the token still may not drive the cockpit.
            return web.Response(status=403, text="agentmux: a page of another origin.\n")
        response = await handler(request)
        if not response.prepared:
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["Cache-Control"] = "no-store"
            if in_url and request.path == "/":
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
        return response

    # --- running ------------------------------------------------------------------------------

    def run(self, listening: Callable[[int], None]) -> None:
        """Serve until SIGINT or SIGTERM; ``listening(port)`` once the port is bound (so a
        port in use is one sentence before anything is printed)."""
        self.initialize_logging()
        asyncio.run(self._run(listening))

    async def _run(self, listening: Callable[[int], None]) -> None:
        app = await self._make_app()
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            reason = exc.strerror or str(exc)
            hint = " (another program uses it; pick another with --port)" if _in_use(exc) else ""
            raise AgentmuxError(
                f"cannot listen on {self.host} port {self.port}: {reason}{hint}."
            ) from exc
        self.bound_port = int(runner.addresses[0][1])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        listening(self.bound_port)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


def _in_use(exc: OSError) -> bool:
    return exc.errno == errno.EADDRINUSE


def _same_origin(request: web.Request) -> bool:
    """Whether a websocket's ``Origin`` is the page's own (browsers always send one)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser: the token alone decides
    return urlsplit(origin).netloc == request.host
