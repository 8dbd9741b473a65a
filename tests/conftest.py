"""Shared fixtures: an isolated home for agentmux, real git repositories, a real private tmux."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentmux.core.agents.profiles import demo_transcript_root
from agentmux.core.config.trust import digest, trust
from agentmux.core.sessions.manager import SessionManager
from agentmux.demo_agent.transcript import transcript_path
from tests.hygiene import SHIMS, new_socket_dir, remove_socket_dir, sweep_mine, sweep_stale

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
}


def pytest_configure(config: pytest.Config) -> None:
    """Put failing ``claude`` and ``codex`` shims first on PATH before test modules are imported.

    Every subprocess inherits them (agentmux, tmux servers, panes): what a test sees never
    depends on the agent CLIs this machine has installed.
    """
    os.environ["PATH"] = os.pathsep.join((str(SHIMS), os.environ.get("PATH", os.defpath)))


def pytest_sessionstart(session: pytest.Session) -> None:
    """Remove the tmux socket directories that killed or older runs left in /tmp."""
    sweep_stale()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove any socket directory of this run that came back after its test's teardown."""
    sweep_mine()


@dataclass
class Home:
    """Where one test's agentmux keeps its things."""

    root: Path
    sockets: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment an agentmux subprocess runs with."""
        env = dict(os.environ)
        env.update(extra)
        return env


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    """Isolate every test: its own XDG dirs and its own tmux socket dir (kept short)."""
    sockets = new_socket_dir()
    root = tmp_path / "home"
    for var, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
    ):
        (root / sub).mkdir(parents=True)
        monkeypatch.setenv(var, str(root / sub))
    monkeypatch.setenv("AGENTMUX_SOCKET_DIR", str(sockets))
    monkeypatch.setenv("AGENTMUX_DEMO_FAST", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(root / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.delenv("TMUX_PANE", raising=False)
    yield Home(root, sockets)
    remove_socket_dir(sockets)


def git(cwd: Path, *args: str) -> str:
    """Run git and return stdout (test helper)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A real git repository on branch ``main`` with one commit."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "--quiet", "--initial-branch=main")
    (root / "README.md").write_text("hello\n")
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('app')\n")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "initial")
    return root


def write_config(repo: Path, text: str) -> None:
    """Write the repository's agentmux.toml and commit it, keeping the main tree clean."""
    (repo / "agentmux.toml").write_text(text)
    git(repo, "add", "agentmux.toml")
    git(repo, "commit", "--quiet", "-m", "configure agentmux")
    # The test wrote it, as a user writes their own: trusted (a cloned one is not; test_trust.py).
    trust(repo / "agentmux.toml", digest((repo / "agentmux.toml").read_bytes()))


@dataclass
class CliResult:
    """A finished agentmux process."""

    code: int
    out: str
    err: str


def run_cli(cwd: Path, *args: str, stdin: bytes | None = None, timeout: float = 60) -> CliResult:
    """Run the real ``agentmux`` CLI in a subprocess."""
    proc = subprocess.run(
        [sys.executable, "-m", "agentmux", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    result = CliResult(
        proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )
    assert "Traceback" not in result.err, result.err
    return result


@pytest.fixture
def cli(repo: Path) -> Callable[..., CliResult]:
    """``cli("ls", "--json")`` runs agentmux in the test repository."""

    def run(*args: str, stdin: bytes | None = None) -> CliResult:
        return run_cli(repo, *args, stdin=stdin)

    return run


@pytest.fixture
def manager(repo: Path) -> Iterator[SessionManager]:
    """A SessionManager on the test repository."""
    mgr = SessionManager.open(repo)
    yield mgr
    mgr.close()


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 15.0,
    interval: float = 0.1,
    what: str = "condition",
) -> None:
    """Poll ``predicate`` until truthy, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def demo_transcript(mgr: SessionManager, name: str) -> list[dict[str, Any]]:
    """The records of a demo session's transcript (empty before it writes one)."""
    record = mgr.get(name)
    path = transcript_path(demo_transcript_root(), record.worktree, record.agent_session_id)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def demo_prompts(mgr: SessionManager, name: str) -> list[str]:
    """The prompts a demo session's transcript records, in order."""
    found = []
    for entry in demo_transcript(mgr, name):
        content = entry.get("message", {}).get("content") if entry.get("type") == "user" else None
        if isinstance(content, str):
            found.append(content)
    return found


def screen(mgr: SessionManager, name: str) -> str:
    """The visible text of a session's pane."""
    record = mgr.get(name)
    assert record.tmux_pane_id is not None
    text = mgr.tmux.capture_tagged(record.tmux_pane_id, record.id)
    assert text is not None, f"{name}'s pane is not its own any more"
    return text
