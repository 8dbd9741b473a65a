"""``agentmux serve`` as the tests run it: a real server process on a free loopback port."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass
class Served:
    """A running ``agentmux serve`` and the URL it printed."""

    proc: subprocess.Popen[bytes]
    url: str

    @property
    def base(self) -> str:
        """The URL without its token."""
        return self.url.split("?", 1)[0]

    @property
    def token(self) -> str:
        """The token in the URL it printed."""
        return self.url.split("?token=", 1)[1] if "?token=" in self.url else ""

    def tuis(self) -> list[psutil.Process]:
        """The TUI processes it runs (one per open page)."""
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def stop(self) -> tuple[str, str]:
        """Stop it (SIGTERM, as Ctrl+C would); what it printed on stdout and stderr."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            out, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.url + "\n" + out.decode(errors="replace"), err.decode(errors="replace")


def start_serve(repo: Path, *args: str) -> Served:
    """Start ``agentmux serve --port 0 ARGS`` in ``repo``; return once it printed its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentmux", "serve", "--port", "0", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("http://"):
        proc.kill()
        _out, err = proc.communicate()
        raise AssertionError(f"agentmux serve printed no URL: {line!r} {err.decode()!r}")
    return Served(proc, line)


def status_of(url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status of a GET of ``url``."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with contextlib.closing(urllib.request.urlopen(request, timeout=10)) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


#: The headers of a websocket handshake (what a browser's page sends to /ws).
WEBSOCKET = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}
