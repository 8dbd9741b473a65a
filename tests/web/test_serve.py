"""``agentmux serve`` without a browser: the token on every route, the token file, bad input."""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from agentmux.commands.serve import is_loopback, port_number, url_host
from agentmux.core.errors import AgentmuxError
from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.web.token import make_token, read_token_file, same_token
from tests.conftest import CliResult
from tests.web.served import WEBSOCKET, Served, start_serve, status_of


@pytest.fixture
def serve(repo: Path) -> Iterator[Callable[..., Served]]:
    """``serve(*args)`` starts ``agentmux serve`` in the test repository; stopped afterwards."""
    started: list[Served] = []

    def start(*args: str) -> Served:
        served = start_serve(repo, *args)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def test_every_route_needs_the_token_and_nothing_starts_without_it(
    serve: Callable[..., Served],
) -> None:
    served = serve()
    assert served.url.startswith("http://127.0.0.1:")
    assert len(served.token) >= 40
    base, token = served.base, served.token
    wrong = make_token()
    for url in (base, f"{base}?token={wrong}", f"{base}?token=", f"{base}static/js/textual.js"):
        assert status_of(url) == 401, url
    for url in (f"{base}ws", f"{base}ws?token={wrong}", f"{base}ws?width=80&height=24"):
        assert status_of(url, WEBSOCKET) == 401, url
    assert status_of(f"{base}ws", {**WEBSOCKET, "Cookie": f"agentmux_token={wrong}"}) == 401
    assert status_of(f"{base}download/x") == 401
    time.sleep(0.3)
    assert served.tuis() == []  # no TUI was started for any of them
    # With it: the page, then its files with the cookie the page set.
    assert status_of(served.url) == 200
    cookie = {"Cookie": f"agentmux_token={token}"}
    assert status_of(f"{base}static/js/textual.js", cookie) == 200
    # The token from a page of another origin: refused too, nothing started.
    evil = {**WEBSOCKET, **cookie, "Origin": "http://evil.example"}
    assert status_of(f"{base}ws", evil) == 403
    assert served.tuis() == []
    out, err = served.stop()
    # The token was printed once, in the URL, and never logged.
    assert out.count(token) == 1
    assert token not in err
    assert wrong not in err


def test_a_token_file_is_used_and_not_printed(repo: Path, serve: Callable[..., Served]) -> None:
    token = make_token()
    path = repo.parent / "token"
    path.write_text(f"{token}\n")
    served = serve("--token-file", str(path))
    assert served.token == ""
    assert status_of(served.base) == 401
    assert status_of(f"{served.base}?token={make_token()}") == 401
    assert status_of(f"{served.base}?token={token}") == 200
    out, err = served.stop()
    assert token not in out + err
    assert str(path) in err


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (b"", "is empty"),
        (b"two words but long enough\n", "at least 16"),
    ],
)
def test_a_bad_token_file_is_one_sentence(
    repo: Path, cli: Callable[..., CliResult], content: bytes, said: str
) -> None:
    path = repo.parent / "token"
    path.write_bytes(content)
    result = cli("serve", "--port", "0", "--token-file", str(path))
    assert result.code != 0
    assert said in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert result.out == ""


def test_an_unreadable_token_file_is_one_sentence(
    repo: Path, cli: Callable[..., CliResult]
) -> None:
    for path in (repo.parent / "missing", repo.parent):  # absent; a directory
        result = cli("serve", "--port", "0", "--token-file", str(path))
        assert result.code != 0
        assert f"cannot read the token file {path}" in result.err
        assert len(result.err.strip().splitlines()) == 1


def test_a_port_in_use_is_one_sentence(cli: Callable[..., CliResult]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port))
    assert result.code != 0
    assert f"cannot listen on 127.0.0.1 port {port}" in result.err
    assert "another program uses it" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert result.out == ""


def test_bad_ports_and_a_repository_missing_are_refused(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    result = cli("serve", "--port", "65536")
    assert result.code == 2
    assert "is not a port number" in result.err
    for bad in ("-1", "http", "65536"):
        with pytest.raises(argparse.ArgumentTypeError):
            port_number(bad)
    assert port_number("0") == 0
    from tests.conftest import run_cli

    outside = tmp_path / "nowhere"
    outside.mkdir()
    result = run_cli(outside, "serve", "--port", "0")
    assert result.code != 0
    assert "git" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_binding_beyond_loopback_warns(serve: Callable[..., Served]) -> None:
    served = serve("--bind", "0.0.0.0")
    assert status_of(served.url.replace(served.base.split("/")[2], f"127.0.0.1:{port(served)}"))
    _out, err = served.stop()
    assert "warning: listening on 0.0.0.0, reachable from other machines" in err
    assert "ssh -L" in err


def port(served: Served) -> int:
    return int(served.base.rstrip("/").rsplit(":", 1)[1])


def test_addresses() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.0.0.2")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.5")
    assert not is_loopback("example.org")
    assert url_host("::1") == "[::1]"
    assert url_host("127.0.0.1") == "127.0.0.1"


def test_tokens() -> None:
    token = make_token()
    assert same_token(token, token)
    assert not same_token(None, token)
    assert not same_token("", token)
    assert not same_token(token[:-1], token)
    assert not same_token("é" * 10, token)
    assert make_token() != token


def test_read_token_file(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_text("  abcdefghijklmnop-_.~XYZ  \n")
    assert read_token_file(path) == "abcdefghijklmnop-_.~XYZ"
    for bad, said in (
        (b"abc", "at least 16"),
        ("n\u00f6t-ascii-but-long-enough".encode(), "at least 16"),
        (b"  \n", "is empty"),
    ):
        path.write_bytes(bad)
        with pytest.raises(AgentmuxError, match=said):
            read_token_file(path)


@pytest.mark.slow
async def test_a_tabs_tui_ends_when_the_server_is_killed(
    serve: Callable[..., Served], manager: SessionManager
) -> None:
    """``kill -9`` of the server leaves no TUI behind (nobody could reach it); agents go on."""
    manager.create(agent="demo", name="solo", deliver=False)
    served = serve()
    cookie = {"Cookie": f"agentmux_token={served.token}"}
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(f"{served.base}ws?width=100&height=30", headers=cookie) as ws,
    ):
        seen = b""
        while b"solo" not in seen:  # the TUI is up: its grid shows the session
            message = await asyncio.wait_for(ws.receive(), timeout=15)
            if message.type == aiohttp.WSMsgType.BINARY:
                seen += message.data
        (tui,) = served.tuis()
        assert "--web" in tui.cmdline()
        served.proc.kill()
        served.proc.wait()
        _gone, alive = psutil.wait_procs([tui], timeout=10)
        assert alive == [] or alive[0].status() == psutil.STATUS_ZOMBIE
    assert manager.reconcile()[0].status is Status.RUNNING
