"""The HTTP plumbing shared by the fake APIs: a threaded server on 127.0.0.1 and a request log.

A fake API subclasses :class:`FakeServer` and implements :meth:`FakeServer.respond`, which turns one
incoming request into a reply (plain JSON or a server-sent-event stream) plus the facts to log about
it. The server writes the reply, streams SSE as HTTP/1.1 chunks (with optional pauses between
events, so a client can interrupt a slow reply) and records every request in :attr:`requests`.
"""

from __future__ import annotations

import gzip
import itertools
import json
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass(frozen=True)
class Incoming:
    """One request as the fake API sees it."""

    method: str
    path: str
    headers: Mapping[str, str]
    raw: bytes
    body: Any

    @property
    def route(self) -> str:
        """The path without its query string."""
        return self.path.split("?", 1)[0]


@dataclass(frozen=True)
class JsonReply:
    """A complete JSON (or empty) response."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SseEvent:
    """One server-sent event; ``delay`` seconds pass before it is written."""

    event: str | None
    data: Any
    delay: float = 0.0


@dataclass(frozen=True)
class SseReply:
    """A streamed ``text/event-stream`` response."""

    events: Sequence[SseEvent]
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


Reply = JsonReply | SseReply


@dataclass
class LoggedRequest:
    """What the server saw and answered, for computing expected totals independently.

    ``usage`` is the usage the reply reported (in the fake API's own field names) and is set only
    for a reply that carries a model response; ``completed`` turns true once the whole reply was
    written, so a stream the client abandoned stays false.
    """

    index: int
    time: float
    method: str
    path: str
    kind: str
    side: bool
    model: str | None
    status: int
    stream: bool
    response_id: str | None = None
    usage: dict[str, int] | None = None
    step: int | None = None
    agent: str | None = None
    error_type: str | None = None
    completed: bool = False
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body: Any = field(default=None, repr=False)

    @property
    def succeeded(self) -> bool:
        """A model response that reached the client whole."""
        return self.status == 200 and self.usage is not None and self.completed

    def summary(self) -> dict[str, Any]:
        """The JSON-friendly facts of this entry (no headers or body)."""
        return {
            "index": self.index,
            "method": self.method,
            "path": self.path,
            "kind": self.kind,
            "side": self.side,
            "model": self.model,
            "status": self.status,
            "stream": self.stream,
            "response_id": self.response_id,
            "usage": self.usage,
            "step": self.step,
            "agent": self.agent,
            "error_type": self.error_type,
            "completed": self.completed,
        }


@dataclass(frozen=True)
class Note:
    """The facts :meth:`FakeServer.respond` reports about the request it answered."""

    kind: str
    side: bool = False
    model: str | None = None
    stream: bool = False
    response_id: str | None = None
    usage: dict[str, int] | None = None
    step: int | None = None
    agent: str | None = None
    error_type: str | None = None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            raw = b"".join(parts)
        else:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
        encoding = self.headers.get("content-encoding", "").lower()
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        return raw

    def _serve(self) -> None:
        owner = self.server.owner
        raw = self._read_body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {key.lower(): value for key, value in self.headers.items()}
        incoming = Incoming(self.command, self.path, headers, raw, body)
        reply, note = owner.respond(incoming)
        entry = owner._log(incoming, reply, note)
        try:
            if isinstance(reply, SseReply):
                self._write_sse(reply, owner)
            else:
                self._write_json(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            return
        entry.completed = True

    def _write_json(self, reply: JsonReply) -> None:
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("content-type", "application/json")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()

    def _write_sse(self, reply: SseReply, owner: FakeServer) -> None:
        self.send_response(reply.status)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in reply.events:
            if event.delay and owner._stopping.wait(event.delay):
                raise BrokenPipeError("server stopping")
            lines = [] if event.event is None else [f"event: {event.event}"]
            lines.append("data: " + json.dumps(event.data, separators=(",", ":")))
            chunk = ("\n".join(lines) + "\n\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: FakeServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class FakeServer:
    """A fake HTTP API on 127.0.0.1 (ephemeral port), served by a thread; a context manager.

    Subclasses implement :meth:`respond`. Every request is appended to :attr:`requests`.
    """

    def __init__(self, tag: str | None = None) -> None:
        #: Part of every id this server makes up, so ids stay unique across servers (a session
        #: resumed against a second server must not see a first server's message ids again).
        self.tag = tag if tag is not None else uuid.uuid4().hex[:8]
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._log_entries: list[LoggedRequest] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    def respond(self, request: Incoming) -> tuple[Reply, Note]:
        """Answer one request; called on the request's own thread."""
        raise NotImplementedError

    def next_id(self) -> str:
        """A fresh id suffix: ``<tag><counter>``, e.g. ``3f9a0c1d0007``."""
        return f"{self.tag}{next(self._counter):04d}"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the server (still answered after it stopped)."""
        if self._url is None:
            raise RuntimeError("the fake server has not been started")
        return self._url

    @property
    def requests(self) -> list[LoggedRequest]:
        """A snapshot of the request log, oldest first."""
        with self._lock:
            return list(self._log_entries)

    def start(self) -> Self:
        """Bind and serve in a daemon thread."""
        self._stopping.clear()
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self._url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; streams still paused between events are cut short."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def wait_for(self, predicate: Callable[[list[LoggedRequest]], bool], timeout: float) -> bool:
        """Poll the request log until ``predicate(requests)`` holds or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.requests):
                return True
            time.sleep(0.05)
        return predicate(self.requests)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _log(self, incoming: Incoming, reply: Reply, note: Note) -> LoggedRequest:
        with self._lock:
            entry = LoggedRequest(
                index=len(self._log_entries),
                time=time.time(),
                method=incoming.method,
                path=incoming.path,
                kind=note.kind,
                side=note.side,
                model=note.model,
                status=reply.status,
                stream=note.stream,
                response_id=note.response_id,
                usage=note.usage,
                step=note.step,
                agent=note.agent,
                error_type=note.error_type,
                headers=dict(incoming.headers),
                body=incoming.body,
            )
            self._log_entries.append(entry)
            return entry
