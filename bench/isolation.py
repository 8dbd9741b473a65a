"""A benchmark's own agentmux home: XDG dirs, a short tmux socket dir, a git identity."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def isolate(scratch: Path) -> Path:
    """Point this process (and what it starts) at dirs under ``scratch``; return the socket dir."""
    sockets = Path(tempfile.mkdtemp(prefix="amxb-", dir="/tmp"))  # socket paths must stay short
    os.environ.update(IDENTITY)
    for var, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
    ):
        os.environ[var] = str(scratch / sub)
    os.environ["AGENTMUX_SOCKET_DIR"] = str(sockets)
    clean_up_on_sigterm()
    return sockets


def clean_up_on_sigterm() -> None:
    """Make SIGTERM end this bench as SIGINT does: through its ``finally`` clean-up."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def kill_servers(sockets: Path) -> None:
    """Stop every tmux server a benchmark started."""
    for sock in sockets.glob("*.sock"):
        subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True, check=False)


def started_for(sockets: Path) -> list[psutil.Process]:
    """Processes other than this one started for the agentmux of ``sockets`` (its TUIs, agents,
    hooks, the terminals the TUI bench runs them in): they carry the socket dir in their
    environment."""
    found = []
    for proc in psutil.process_iter():
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get("AGENTMUX_SOCKET_DIR") == str(sockets):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def running(proc: psutil.Process) -> bool:
    """Whether ``proc`` still runs: a zombie has ended (init here may be slow to reap it)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait up to ``timeout`` seconds for ``procs`` to end; return those still running."""
    deadline = time.monotonic() + timeout
    while (alive := [p for p in procs if running(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def end(procs: list[psutil.Process]) -> None:
    """Terminate ``procs``; kill those still there after two seconds."""
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    for proc in wait_for(procs, 2.0):
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def settle(sockets: Path, timeout: float = 10.0) -> None:
    """Wait for what the servers of ``sockets`` left running (the queue ticks that panes start
    as they end) to finish, so that the next thing timed does not share the cores with it; end
    whatever is still there after ``timeout``."""
    end(wait_for(started_for(sockets), timeout))


def clean_up(scratch: Path, sockets: Path) -> None:
    """Stop the benchmark's tmux servers and every process started for them, and delete
    everything it made, however the bench ended (an interrupted TUI bench used to leave its
    TUI and terminals running)."""
    # The queue ticks that ending panes start would make the socket directory again.
    for tick in sockets.glob("*.tick.sh"):
        tick.unlink(missing_ok=True)
    kill_servers(sockets)
    time.sleep(0.2)  # agents and hooks see their server go
    end(started_for(sockets))
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(sockets, ignore_errors=True)


def machine() -> str:
    """One line naming the machine the figures come from."""
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )


def scratch_repo(scratch: Path) -> tuple[Path, Path]:
    """Isolate this process under ``scratch`` and make a one-commit repository there; return the
    repository and the socket dir."""
    sockets = isolate(scratch)
    repo = scratch / "repo"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "README.md").write_text("bench\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "bench"], cwd=repo, check=True)
    return repo, sockets
