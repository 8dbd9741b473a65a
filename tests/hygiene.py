"""What a test run may see and what it leaves behind.

Two rules the whole suite runs under (set up by ``tests/conftest.py``):

- ``claude`` and ``codex`` on PATH are shims that fail: a test never depends on which agent CLIs
  this machine has installed. The real-CLI tests name the pinned npm CLIs by absolute path
  (``tests/npm_tools.py``).
- Each test's private tmux socket directory is ``/tmp/amx-<pytest pid>-XXXXXXXX``. Its tmux servers
  and the processes they started are gone when the test ends, and so is the directory. A run that
  was killed before its teardown leaves directories named after a dead process: the next run
  removes them, and the directories of older runs that hold no live socket.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

#: Where the socket directories live: Unix socket paths must stay short.
SOCKET_ROOT = Path("/tmp")
#: ``claude`` and ``codex`` that fail, put first on PATH for the whole run.
SHIMS = Path(__file__).parent / "shims"
#: A directory from an older conftest (no owner pid in the name) is swept once it is this old.
STALE_SECONDS = 600.0
_OWNED = re.compile(r"amx-(\d+)-[a-z0-9_]{8}")
_LEGACY = re.compile(r"amx-[a-z0-9_]{8}")
# A process started for a test's agentmux carries the test's socket directory in its environment.
_MARK = "AGENTMUX_SOCKET_DIR"


def new_socket_dir() -> Path:
    """A fresh socket directory for one test, named after this test process."""
    return Path(tempfile.mkdtemp(prefix=f"amx-{os.getpid()}-", dir=SOCKET_ROOT))


def remove_socket_dir(sockets: Path) -> None:
    """Stop everything a test started through ``sockets`` and remove the directory.

    The queue-tick script goes first: a pane's wrapper and the tmux ``session-closed`` hook run
    it when the server kills the agents, and it reopens the repository, which would create the
    directory again after it was removed (and could start queued agents on a new server). Ticks
    already running (a session stopped near the end of the test starts one) and anything else
    the test's tmux started are ended too: the test is over.
    """
    for script in sockets.glob("*.tick.sh"):
        script.unlink(missing_ok=True)
    for sock in sockets.glob("*.sock"):
        stop_server(sock)
    _end(stragglers(sockets))
    shutil.rmtree(sockets, ignore_errors=True)


def stop_server(sock: Path) -> None:
    """Kill the tmux server listening on ``sock``, if there is one."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            ["tmux", "-S", str(sock), "kill-server"], capture_output=True, timeout=10, check=False
        )


def stragglers(sockets: Path) -> list[psutil.Process]:
    """Processes started for the agentmux of ``sockets``, except this process and its children.

    This process's children are left alone: a worker pool started during one test serves the
    next ones too.
    """
    me = psutil.Process()
    ours = {me.pid, *(child.pid for child in me.children(recursive=True))}
    found = []
    for proc in psutil.process_iter():
        if proc.pid in ours:
            continue
        try:
            if proc.uids().real == os.getuid() and proc.environ().get(_MARK) == str(sockets):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _end(procs: list[psutil.Process]) -> None:
    """Terminate ``procs``; kill those still there after two seconds."""
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    deadline = time.monotonic() + 2.0
    while (alive := [p for p in procs if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.02)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def _running(proc: psutil.Process) -> bool:
    """Whether ``proc`` still runs: a zombie has ended (init here may be slow to reap it)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def has_live_socket(directory: Path) -> bool:
    """Whether something (a tmux server) accepts connections on a socket in ``directory``."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return False
    for entry in entries:
        try:
            if not stat.S_ISSOCK(entry.lstat().st_mode):
                continue
        except OSError:
            continue
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(1.0)
            try:
                probe.connect(str(entry))
            except (ConnectionRefusedError, FileNotFoundError):
                continue
            except OSError:
                return True  # cannot tell: keep it
            return True
    return False


def _owner_alive(pid: int, modified: float) -> bool:
    """Whether the process that named a directory still runs (not a later one with its pid)."""
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return False
    # The owner made the directory, so it started before the directory last changed.
    return started <= modified + 1.0


def sweep_stale(root: Path = SOCKET_ROOT, now: float | None = None) -> list[Path]:
    """Remove socket directories that earlier runs left in ``root``; return them.

    A directory named after a test process that no longer runs is an orphan: its tmux servers
    are killed and it goes. One from an older conftest (no pid in its name) goes only when it is
    ours, older than :data:`STALE_SECONDS` and holds no live socket, since a run of that older
    code may still be using it. Directories of runs still going are never touched.
    """
    now = time.time() if now is None else now
    removed = []
    for entry in sorted(root.glob("amx-*")):
        try:
            info = entry.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            continue
        owned = _OWNED.fullmatch(entry.name)
        if owned:
            pid = int(owned[1])
            if pid == os.getpid() or _owner_alive(pid, info.st_mtime):
                continue
            remove_socket_dir(entry)
        elif _LEGACY.fullmatch(entry.name):
            if now - info.st_mtime < STALE_SECONDS or has_live_socket(entry):
                continue
            shutil.rmtree(entry, ignore_errors=True)
        else:
            continue
        if not entry.exists():
            removed.append(entry)
    return removed


def sweep_mine(root: Path = SOCKET_ROOT) -> list[Path]:
    """At the end of a run, remove every socket directory named after this process."""
    mine = sorted(root.glob(f"amx-{os.getpid()}-*"))
    for entry in mine:
        remove_socket_dir(entry)
    return [entry for entry in mine if not entry.exists()]
