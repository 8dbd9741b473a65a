"""Live processes whose working directory is inside a worktree, and ending them.

A worktree is never deleted under a running process: an agent agentmux lost track of (say, started
by a `new` killed before it tagged the pane), a server the agent left behind, or your own shell.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from agentmux.core.tmux.server import terminate_tree

_SHOWN = 3
_COMMAND_WIDTH = 60


@dataclass(frozen=True)
class Occupant:
    """A live process working inside a directory."""

    pid: int
    ppid: int
    command: str
    #: whether this user may signal it
    ours: bool

    def describe(self) -> str:
        """``pid (command)``."""
        return f"{self.pid} ({self.command})"


def describe(occupants: list[Occupant]) -> str:
    """A few occupants, named by pid and command."""
    shown = ", ".join(o.describe() for o in occupants[:_SHOWN])
    more = f" and {len(occupants) - _SHOWN} more" if len(occupants) > _SHOWN else ""
    return shown + more


def _spared() -> set[int]:
    """This process and its ancestors (a shell that runs `agentmux rm` from inside the worktree
    is where the user stands, not work that could be lost)."""
    import psutil  # noqa: PLC0415 - loaded only where a process is looked at

    spared = {os.getpid()}
    with contextlib.suppress(psutil.Error):
        spared.update(p.pid for p in psutil.Process().parents())
    return spared


def _descendants(pid: int | None) -> set[int]:
    import psutil  # noqa: PLC0415 - loaded only where a process is looked at

    if pid is None:
        return set()
    try:
        root = psutil.Process(pid)
        return {pid} | {child.pid for child in root.children(recursive=True)}
    except psutil.Error:
        return set()


def occupants(
    path: Path, *, besides: int | None = None, spare: Sequence[str] = ()
) -> list[Occupant]:
    """Live processes whose working directory is ``path`` or inside it (those this user can see),
    except this process, its ancestors, tmux itself, ``besides`` with its descendants, and
    processes whose command line holds one of ``spare`` (agentmux's own queue tick, which a
    closing tmux session starts there and which leaves for the repository at once)."""
    import psutil  # noqa: PLC0415 - loaded only where a process is looked at

    target = os.path.realpath(path)
    skip = _spared() | _descendants(besides)
    found: list[Occupant] = []
    uid, root = os.getuid(), os.geteuid() == 0
    for proc in psutil.process_iter(["pid", "ppid", "name", "cwd", "cmdline", "uids", "status"]):
        info = proc.info
        cwd = info.get("cwd")
        if not cwd or info["pid"] in skip or info.get("status") == psutil.STATUS_ZOMBIE:
            continue
        if (info.get("name") or "").startswith("tmux"):
            continue  # a tmux server or client never holds files there; ending it ends others
        real = os.path.realpath(cwd)
        if real != target and not real.startswith(target.rstrip(os.sep) + os.sep):
            continue
        words = info.get("cmdline") or [info.get("name") or "?"]
        command = " ".join(words)
        if any(text in command for text in spare):
            continue
        if len(command) > _COMMAND_WIDTH:
            command = command[: _COMMAND_WIDTH - 3] + "..."
        uids = info.get("uids")
        ours = root or (uids is not None and uids.real == uid)
        found.append(Occupant(info["pid"], info.get("ppid") or 0, command, ours))
    return sorted(found, key=lambda o: o.pid)


def _gone(pid: int) -> bool:
    import psutil  # noqa: PLC0415 - loaded only where a process is looked at

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def end_occupants(
    path: Path, found: list[Occupant], *, spare: Sequence[str] = ()
) -> list[Occupant]:
    """End ``found`` as an agent is ended (SIGTERM to each one's process tree, repeated; SIGKILL
    after 5 seconds); return the processes still inside ``path`` afterwards."""
    pids = {o.pid for o in found}
    for occupant in found:
        if occupant.ppid not in pids and occupant.ours:
            terminate_tree(occupant.pid, partial(_gone, occupant.pid))
    return occupants(path, spare=spare)
