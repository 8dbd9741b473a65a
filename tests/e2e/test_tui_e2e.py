"""The real `agentmux` TUI in an outer tmux (the user's terminal): keys in, screen out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git, screen, wait_for

pytestmark = pytest.mark.slow


class Terminal:
    """An outer tmux session standing in for the user's terminal."""

    def __init__(self, socket: Path, cwd: Path) -> None:
        self.socket = socket
        self.cwd = cwd

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", str(self.socket), *args], capture_output=True, text=True, check=False
        ).stdout

    def start(self, command: str) -> None:
        env = [
            arg
            for key in (
                "XDG_DATA_HOME",
                "XDG_CONFIG_HOME",
                "XDG_STATE_HOME",
                "AGENTMUX_SOCKET_DIR",
                "AGENTMUX_DEMO_FAST",
                "GIT_CONFIG_GLOBAL",
                "GIT_AUTHOR_NAME",
                "GIT_AUTHOR_EMAIL",
                "GIT_COMMITTER_NAME",
                "GIT_COMMITTER_EMAIL",
            )
            for arg in ("-e", f"{key}={os.environ.get(key, '')}")
        ]
        subprocess.run(
            [
                "tmux",
                "-f",
                "/dev/null",
                "-S",
                str(self.socket),
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "45",
                "-c",
                str(self.cwd),
                *env,
                "-e",
                "TERM=xterm-256color",
                "sh",
                "-c",
                command,
            ],
            check=True,
        )

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def text(self) -> str:
        return self.tmux("capture-pane", "-p")


def test_tui_end_to_end(repo: Path, manager: SessionManager) -> None:
    for name in ("alpha", "beta", "gamma"):
        manager.create(agent="demo", name=name)
    for name in ("alpha", "beta", "gamma"):
        wait_for(lambda n=name: "demo ❯" in screen(manager, n), what=f"{name} ready")  # type: ignore[misc]
    term = Terminal(Path(os.environ["AGENTMUX_SOCKET_DIR"]) / "outer.sock", repo)
    agentmux = f"{sys.executable} -m agentmux"
    term.start(f"{agentmux}; echo AGENTMUX-EXIT=$?; sleep 600")
    wait_for(lambda: "3 gamma" in term.text(), what="the grid with three panes")
    for name in ("1 alpha", "2 beta", "3 gamma"):
        assert name in term.text()

    # Focus pane 2 and type into its agent in insert mode.
    term.keys("2")
    term.keys("i")
    term.keys("-l", "write typed.txt from the outer terminal")
    term.keys("Enter")
    beta = Path(manager.get("beta").worktree)
    wait_for((beta / "typed.txt").exists, what="insert-mode typing reaching the agent")
    wait_for(lambda: "Wrote typed.txt" in term.text(), what="the agent's answer on screen")
    term.keys("C-]")

    # Broadcast reaches every pane.
    term.keys("b")
    wait_for(lambda: "Broadcast" in term.text(), what="the broadcast form")
    term.keys("-l", "write everyone.txt hi")
    term.keys("C-s")
    for name in ("alpha", "beta", "gamma"):
        path = Path(manager.get(name).worktree) / "everyone.txt"
        wait_for(path.exists, what=f"broadcast reaching {name}")

    # Zoom shows one pane over the whole width.
    term.keys("3")
    term.keys("z")
    wait_for(lambda: "1 alpha" not in term.text() and "3 gamma" in term.text(), what="zoom")
    term.keys("z")
    wait_for(lambda: "1 alpha" in term.text(), what="unzoom")

    # Attach full-screen, detach, and come back to the grid as it was.
    term.keys("1")
    term.keys("a")
    wait_for(lambda: "[agentmux] alpha" in term.text(), what="full-screen attach")
    term.keys("C-b", "d")
    wait_for(lambda: "2 beta" in term.text(), what="back in the grid after detaching")

    # Quit leaves every agent running; re-opening finds the same sessions.
    term.keys("q")
    wait_for(lambda: "AGENTMUX-EXIT=0" in term.text(), what="a clean quit")
    assert [r.status for r in manager.reconcile()] == [Status.RUNNING] * 3
    term.tmux("kill-server")
    term = Terminal(term.socket.with_name("outer-again.sock"), repo)
    term.start(f"{agentmux}; sleep 600")
    wait_for(
        lambda: all(n in term.text() for n in ("1 alpha", "2 beta", "3 gamma")),
        what="the same sessions after re-opening",
    )
    term.keys("q")
    term.tmux("kill-server")


def test_tui_outside_a_repository_says_so(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "agentmux"], cwd=plain, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert "not inside a git repository" in proc.stderr


def test_tui_resume_offer_review_and_commit_end_to_end(repo: Path, manager: SessionManager) -> None:
    """After a reboot (agentmux's tmux server killed): the offer, `y`; then `v` and a real
    Shift+C commit the session's work from the review screen."""
    manager.create(agent="demo", name="alpha")
    wait_for(lambda: "demo ❯" in screen(manager, "alpha"), what="alpha ready")
    worktree = Path(manager.get("alpha").worktree)
    (worktree / "wip.txt").write_text("work in progress\n")
    before = git(repo, "rev-parse", "agentmux/alpha")
    manager.tmux.kill_server()
    term = Terminal(Path(os.environ["AGENTMUX_SOCKET_DIR"]) / "outer.sock", repo)
    term.start(f"{sys.executable} -m agentmux; echo AGENTMUX-EXIT=$?; sleep 600")
    wait_for(lambda: "1 session was lost" in term.text(), what="the offer to resume")
    term.keys("y")
    wait_for(lambda: "resumed alpha" in term.text() or "alpha restarted" in term.text())
    wait_for(lambda: manager.reconcile()[0].status is Status.RUNNING, what="alpha running")
    term.keys("v")
    wait_for(lambda: "Review alpha" in term.text(), what="the review screen")
    wait_for(lambda: "wip.txt" in term.text(), what="its file listed")
    term.keys("C")  # what a terminal sends for Shift+C
    wait_for(lambda: "committed 1 file(s) of alpha" in term.text(), what="the commit")
    assert git(repo, "rev-parse", "agentmux/alpha") != before
    term.keys("Escape")
    wait_for(lambda: "1 alpha" in term.text() and "Review alpha" not in term.text())
    term.keys("q")
    wait_for(lambda: "AGENTMUX-EXIT=0" in term.text(), what="a clean quit")
    term.tmux("kill-server")
