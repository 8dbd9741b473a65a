"""A pane's processes: waiting for a pane's program to start, and signalling its whole tree.

psutil is imported where a process is looked at: most agentmux commands never do, and loading
it is a measurable part of a command's start-up.
"""

from __future__ import annotations

import contextlib
import signal
import time


def wait_for_exec(pid: int, timeout: float) -> None:
    """Wait up to ``timeout`` seconds until process ``pid`` is no longer tmux's fork (it has
    exec'd the pane's program), or is gone."""
    import psutil  # noqa: PLC0415 - loaded only where a process is looked at

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if not psutil.Process(pid).name().startswith("tmux"):
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.01)


def signal_tree(pid: int, sig: signal.Signals, *, spare_root: bool) -> None:
    """Send ``sig`` to process ``pid`` and all its descendants (only the descendants, when
    ``spare_root`` and it has any)."""
    import psutil  # noqa: PLC0415 - loaded only where a process is looked at

    try:
        root = psutil.Process(pid)
        children = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return
    procs = children if spare_root and children else [root, *children]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            proc.send_signal(sig)
