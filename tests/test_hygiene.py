"""The rules every test runs under: failing agent CLI shims on PATH, no socket dirs left in /tmp."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import psutil

from agentmux.core.sessions.manager import SessionManager
from tests.conftest import Home, run_cli, screen, wait_for
from tests.hygiene import SHIMS, remove_socket_dir, stragglers, sweep_stale


def test_claude_and_codex_on_path_are_the_failing_shims(repo: Path) -> None:
    for name in ("claude", "codex"):
        assert shutil.which(name) == str(SHIMS / name)
        done = subprocess.run([name, "--version"], capture_output=True, text=True, check=False)
        assert done.returncode == 127
        assert done.stderr == f"not the real {name}: tests must use the pinned npm CLI\n"
    # Subprocesses see the shims too: agentmux itself finds the shim, not an installed claude.
    doctor = run_cli(repo, "doctor")
    assert f"ok   agent claude: {SHIMS / 'claude'}" in doctor.out.splitlines()


def test_a_tests_socket_dir_does_not_come_back(home: Home, manager: SessionManager) -> None:
    """The queue ticks that a stopped or killed agent starts reopen the repository, which creates
    the socket directory again; the teardown ends them and leaves nothing in /tmp."""
    for name in ("stopped", "running"):
        manager.create(agent="demo", name=name)
    for name in ("stopped", "running"):
        wait_for(lambda n=name: "demo ❯" in screen(manager, n), what=f"{name} ready")  # type: ignore[misc]
    manager.stop("stopped")  # its wrapper starts a tick as the agent ends
    remove_socket_dir(home.sockets)  # "running" is killed with its server: more ticks
    wait_for(lambda: not stragglers(home.sockets), timeout=30, what="the ticks to end")
    assert not home.sockets.exists()


def _server(sock: Path) -> None:
    subprocess.run(["tmux", "-S", str(sock), "new-session", "-d", "sleep 600"], check=True)


def _server_pid(sock: Path) -> int:
    out = subprocess.run(
        ["tmux", "-S", str(sock), "display-message", "-p", "#{pid}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(out)


def _ended(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _running(sock: Path) -> bool:
    done = subprocess.run(["tmux", "-S", str(sock), "ls"], capture_output=True, check=False)
    return done.returncode == 0


def test_sweep_removes_what_dead_runs_left_and_nothing_else(home: Home) -> None:
    root = home.sockets  # a stand-in for /tmp, short enough for socket paths
    gone = subprocess.Popen(["true"])
    gone.wait()
    long_ago = time.time() - 3600

    def made(name: str, *, server: bool = False, old: bool = False) -> Path:
        path = root / name
        path.mkdir()
        if server:
            _server(path / "s.sock")
        if old:
            os.utime(path, (long_ago, long_ago))
        return path

    orphan = made(f"amx-{gone.pid}-abcdefgh", server=True)  # its run was killed
    reused = made(f"amx-{os.getppid()}-abcdefgh", old=True)  # the pid now names a newer process
    running = made(f"amx-{os.getppid()}-running0")  # a run still going (our parent)
    stale = made("amx-stale001", old=True)  # an older conftest's, abandoned
    live = made("amx-live0001", server=True, old=True)  # an older conftest's, still in use
    fresh = made("amx-fresh001")  # an older conftest's, perhaps about to be used
    other = made("amx-bench-tui-abcdefgh", old=True)  # not a test's socket directory
    orphan_server = _server_pid(orphan / "s.sock")
    try:
        removed = sweep_stale(root)
        assert sorted(removed) == sorted([orphan, reused, stale])
        wait_for(lambda: _ended(orphan_server), timeout=5, what="the orphan's tmux server to end")
        assert all(p.exists() for p in (running, live, fresh, other))
        assert _running(live / "s.sock")
    finally:
        subprocess.run(["tmux", "-S", str(live / "s.sock"), "kill-server"], check=False)
        if not _ended(orphan_server):
            psutil.Process(orphan_server).kill()
