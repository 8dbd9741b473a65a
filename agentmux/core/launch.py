"""The command a session's pane runs: the agent, inside a tiny shell wrapper.

The wrapper records the agent's exit status in a file and then starts agentmux's queue tick.
tmux's own record of a pane's exit is not reliable enough for that: it can mark a pane dead
before it has reaped the process (tmux PR #4841), and under load tmux 3.3 sometimes never reports
the status or fires ``pane-died`` at all. A shell costs about a megabyte per session.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

# Variables a nested agent must not inherit: CLAUDECODE makes `claude` refuse to start, and TMUX
# would point the agent's own tmux use at agentmux's private server. tmux sets TMUX in every pane,
# so they are dropped inside the pane, by `env -u`.
DROPPED_ENV = ("CLAUDECODE", "TMUX", "TMUX_PANE")
MAX_SIGNAL = 64


def pane_command(
    argv: Sequence[str], env: Mapping[str, str], status_file: Path, tick_script: Path
) -> str:
    """A ``sh -c`` script: run the agent, record its exit status, kick the queue, exit alike.

    ``trap : INT TERM`` keeps the wrapper alive through a Ctrl-C meant for the agent (a handler,
    unlike an ignored signal, is not inherited by the agent).
    """
    dropped = " ".join(f"-u {name}" for name in DROPPED_ENV)
    assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
    agent = " ".join(shlex.quote(arg) for arg in argv)
    status = shlex.quote(str(status_file))
    tmp = shlex.quote(f"{status_file}.tmp")
    return (
        "trap : INT TERM; "
        f"env {dropped} {assignments} {agent}; "
        "code=$?; "
        f"printf '%s\\n' \"$code\" > {tmp} && mv {tmp} {status}; "
        "trap '' HUP; "
        f"sh {shlex.quote(str(tick_script))} </dev/null >/dev/null 2>&1 & "
        'exit "$code"'
    )


def read_exit(status_file: Path) -> tuple[int, int | None] | None:
    """``(exit status, signal or None)`` recorded by the wrapper, or None if the agent runs on.

    A shell reports death by signal N as status 128+N; that is decoded into the signal.
    """
    try:
        text = status_file.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    code = int(text)
    signal = code - 128 if 128 < code <= 128 + MAX_SIGNAL else None
    return code, signal
