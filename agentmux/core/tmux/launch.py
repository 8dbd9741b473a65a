"""The command a session's pane runs: the agent, inside a tiny ``sh`` wrapper.

The wrapper:

- loads the environment agentmux was called with from a private file (0600, deleted once read):
  the tmux server keeps the environment of whoever started it, so without this a changed PATH,
  virtualenv or API key would silently not reach the second session; the file keeps values out
  of process listings, where ``tmux new-session -e`` would show them;
- drops the variables that break nested agents and runs the agent;
- records the agent's exit status in a file, then starts agentmux's queue tick in the background.
  tmux's own record of a pane's exit is not reliable enough: it can mark a pane dead before it has
  reaped the process (tmux PR #4841), and under load tmux 3.3 sometimes never reports the status
  or fires ``pane-died``.

It is always run as ``sh -c``, never through the user's login shell (fish, tcsh, nushell). It costs
about a megabyte per session.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

# Variables a nested agent must not inherit: CLAUDECODE makes `claude` refuse to start, and TMUX
# would point the agent's own tmux use at agentmux's private server. tmux sets TMUX in every pane
# itself, so they are dropped inside the pane, by `env -u`.
DROPPED_ENV = ("CLAUDECODE", "TMUX", "TMUX_PANE")
# Per-process shell state that must not be carried over.
_SKIPPED_ENV = frozenset({"PWD", "OLDPWD", "SHLVL", "_", *DROPPED_ENV})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_SIGNAL = 64


def write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Write ``env`` as ``export`` lines the wrapper sources; private to the user."""
    lines = [
        f"export {key}={shlex.quote(value)}\n"
        for key, value in env.items()
        if _NAME.fullmatch(key) and key not in _SKIPPED_ENV and "\0" not in value
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as handle:
        handle.writelines(lines)


def pane_command(
    argv: Sequence[str], env_file: Path, status_file: Path, tick_script: Path
) -> list[str]:
    """argv for the pane: ``sh -c SCRIPT`` that runs the agent and records how it ended.

    ``trap : INT TERM`` keeps the wrapper alive through a Ctrl-C meant for the agent and through
    agentmux's own SIGTERM of it (a handler, unlike an ignored signal, is not inherited by the
    agent). SIGHUP is not trapped: when the tmux session is killed, the hang-up must reach the
    agent, and the tmux ``session-closed`` hook records the end instead.
    """
    dropped = " ".join(f"-u {name}" for name in DROPPED_ENV)
    agent = " ".join(shlex.quote(arg) for arg in argv)
    envf = shlex.quote(str(env_file))
    status = shlex.quote(str(status_file))
    tmp = shlex.quote(f"{status_file}.tmp")
    script = (
        "trap : INT TERM; "
        f"if [ -f {envf} ]; then . {envf}; rm -f {envf}; fi; "
        f"env {dropped} {agent}; "
        "code=$?; "
        f"printf '%s\\n' \"$code\" > {tmp} && mv {tmp} {status}; "
        "trap '' HUP; "
        f"sh {shlex.quote(str(tick_script))} </dev/null >/dev/null 2>&1 & "
        'exit "$code"'
    )
    return ["sh", "-c", script]


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
