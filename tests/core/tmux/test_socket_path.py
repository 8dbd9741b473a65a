"""The tmux socket path: kept only once a session started on it, checked before anything is made,
and the one `doctor` looks at (the real CLI, real tmux, real git)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Home, git, run_cli


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short directory under /tmp (a socket path must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="amx-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def ls(repo: Path) -> list[dict[str, object]]:
    result = run_cli(repo, "ls", "--json")
    assert result.code == 0, result.err
    rows: list[dict[str, object]] = json.loads(result.out)
    return rows


def test_a_socket_path_too_long_is_one_sentence_before_anything_and_is_not_kept(
    repo: Path, home: Home, monkeypatch: pytest.MonkeyPatch, short_dir: Path
) -> None:
    long_dir = short_dir / ("d" * 100)
    monkeypatch.setenv("AGENTMUX_SOCKET_DIR", str(long_dir))
    result = run_cli(repo, "new", "--agent", "demo", "--name", "first", "hello")
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("agentmux: the tmux socket path "), lines
    assert "longer than the 107" in lines[0] and "AGENTMUX_SOCKET_DIR" in lines[0]
    assert not long_dir.exists(), "nothing created for it"
    assert "agentmux/first" not in git(repo, "branch", "--list", "agentmux/*")
    # With a usable directory the next run works: the failed path was never kept.
    monkeypatch.setenv("AGENTMUX_SOCKET_DIR", str(home.sockets))
    assert ls(repo) == []
    made = run_cli(repo, "new", "--agent", "demo", "--name", "first", "hello")
    assert made.code == 0, made.err
    assert [row["status"] for row in ls(repo)] == ["running"]
    assert list(home.sockets.glob("*.sock"))


def test_the_socket_is_kept_only_after_a_session_started_on_it(
    repo: Path, home: Home, monkeypatch: pytest.MonkeyPatch, short_dir: Path
) -> None:
    early = short_dir
    monkeypatch.setenv("AGENTMUX_SOCKET_DIR", str(early))
    assert ls(repo) == []  # a first use that starts nothing
    monkeypatch.setenv("AGENTMUX_SOCKET_DIR", str(home.sockets))
    made = run_cli(repo, "new", "--agent", "demo", "--name", "here")
    assert made.code == 0, made.err
    assert list(home.sockets.glob("*.sock")) and not list(early.glob("*.sock"))
    # From now on that socket is the repository's, whatever the environment says.
    monkeypatch.setenv("AGENTMUX_SOCKET_DIR", str(early))
    assert [row["status"] for row in ls(repo)] == ["running"]


def test_doctor_checks_the_socket_in_use(
    repo: Path, home: Home, monkeypatch: pytest.MonkeyPatch, short_dir: Path
) -> None:
    made = run_cli(repo, "new", "--agent", "demo", "--name", "seen")
    assert made.code == 0, made.err
    (socket,) = home.sockets.glob("*.sock")
    monkeypatch.setenv("AGENTMUX_SOCKET_DIR", str(short_dir))  # a login where it would differ
    result = run_cli(repo, "doctor")
    line = next(x for x in result.out.splitlines() if "tmux server" in x)
    assert f"{socket}: running" in line, line


def test_doctor_fails_a_socket_path_too_long(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTMUX_SOCKET_DIR", "/tmp/" + "d" * 120)
    result = run_cli(repo, "doctor")
    line = next(x for x in result.out.splitlines() if "tmux server" in x)
    assert "FAIL" in line and "longer than the 107" in line, line
    assert result.code == 1
