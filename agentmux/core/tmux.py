"""agentmux's private tmux server: one per repository, on its own socket.

libtmux drives the server (liveness, commands, ids). Two calls bypass it on purpose: starting
the server, which must happen with a cleaned environment and agentmux's own config file, and
loading paste buffers, which must carry arbitrary bytes on stdin (libtmux runs tmux in text mode).
tmux objects are always addressed by id (``$3``, ``@4``, ``%5``) or exact name (``=name``).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import libtmux
import psutil

from agentmux.core.errors import AgentmuxError

MIN_TMUX = (3, 2)
# Variables a nested agent must not inherit: CLAUDECODE makes `claude` refuse to start, and TMUX
# would point the agent's own tmux use at agentmux's private server.
DROPPED_ENV = ("CLAUDECODE", "TMUX", "TMUX_PANE")
_FIELDS = (
    "session_id",
    "session_name",
    "window_id",
    "pane_id",
    "pane_pid",
    "pane_dead",
    "pane_dead_status",
    "pane_dead_signal",
    "window_activity",
    "@agentmux_id",
)
_FORMAT = "\t".join(f"#{{{name}}}" for name in _FIELDS)


@dataclass(frozen=True)
class PaneInfo:
    """What agentmux needs to know about one session's pane."""

    session_id: str
    session_name: str
    window_id: str
    pane_id: str
    pane_pid: int | None
    dead: bool
    dead_status: int | None
    dead_signal: int | None
    activity: float
    agentmux_id: str


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip().lstrip("-").isdigit() else None


def tmux_version() -> tuple[int, int]:
    """The installed tmux version, e.g. ``(3, 3)``; a clear error when tmux is missing."""
    if shutil.which("tmux") is None:
        raise AgentmuxError(
            "tmux is not installed or not on PATH; agentmux needs tmux 3.2 or newer."
        )
    out = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"(\d+)\.(\d+)", out)
    if not match:
        raise AgentmuxError(f"cannot tell the tmux version from {out.strip()!r}.")
    return (int(match.group(1)), int(match.group(2)))


def require_tmux() -> tuple[int, int]:
    """Check tmux is installed and new enough; return its version."""
    version = tmux_version()
    if version < MIN_TMUX:
        raise AgentmuxError(
            f"tmux {version[0]}.{version[1]} is too old: agentmux needs tmux 3.2 or newer."
        )
    return version


def clean_env() -> dict[str, str]:
    """This process's environment without the variables that break nested agents."""
    return {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}


def agent_command(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """The pane's command: the agent's argv behind ``env`` that drops and sets variables.

    tmux itself sets ``TMUX`` in every pane, so dropping it has to happen inside the pane.
    """
    dropped: list[str] = []
    for name in DROPPED_ENV:
        dropped += ["-u", name]
    return ["env", *dropped, *(f"{k}={v}" for k, v in env.items()), *argv]


class TmuxServer:
    """A private tmux server on ``socket_path``."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self._server = libtmux.Server(socket_path=str(socket_path))

    def _raw(
        self, args: Sequence[str], *, stdin: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(
            ["tmux", "-S", str(self.socket_path), *args],
            input=stdin,
            capture_output=True,
            env=clean_env(),
            check=False,
        )
        if check and proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"
            raise AgentmuxError(f"tmux {args[0]} failed: {detail}.")
        return proc

    def cmd(self, *args: str) -> list[str]:
        """Run a tmux command on this server through libtmux and return its stdout lines."""
        result = self._server.cmd(*args)
        if result.returncode != 0:
            detail = " ".join(result.stderr).strip() or f"exit {result.returncode}"
            raise AgentmuxError(f"tmux {args[0]} failed: {detail}.")
        return list(result.stdout)

    def is_running(self) -> bool:
        """Whether the server answers on its socket."""
        return self.socket_path.exists() and self._server.is_alive()

    def new_session(
        self,
        name: str,
        *,
        cwd: Path,
        argv: Sequence[str],
        env: Mapping[str, str],
        agentmux_id: str,
        hooks: Mapping[str, str] | None = None,
        size: tuple[int, int] = (200, 50),
    ) -> PaneInfo:
        """Start a detached session running ``argv`` in ``cwd``; start the server if needed.

        The server is started with agentmux's own config (``remain-on-exit`` is set there, before
        any pane can exit) and a cleaned environment.
        """
        conf = resources.files("agentmux.core").joinpath("tmux.conf")
        command = " ".join(shlex.quote(arg) for arg in agent_command(argv, env))
        args = ["-f", str(conf), "-S", str(self.socket_path)]
        tail: list[str] = []
        for event, hook in (hooks or {}).items():
            tail += [";", "set-hook", "-g", event, hook]
        proc = subprocess.run(
            [
                "tmux",
                *args,
                "new-session",
                "-d",
                "-P",
                "-F",
                _FORMAT,
                "-s",
                name,
                "-c",
                str(cwd),
                "-x",
                str(size[0]),
                "-y",
                str(size[1]),
                command,
                *tail,
            ],
            capture_output=True,
            env=clean_env(),
            check=False,
        )
        if proc.returncode != 0:
            detail = proc.stderr.decode(errors="replace").strip()
            raise AgentmuxError(f"tmux could not start session {name!r}: {detail}.")
        self.socket_path.chmod(0o600)
        info = _parse_pane(proc.stdout.decode(errors="replace").splitlines()[0])
        self.cmd("set-option", "-t", info.session_id, "@agentmux_id", agentmux_id)
        return PaneInfo(**{**info.__dict__, "agentmux_id": agentmux_id})

    def panes(self) -> list[PaneInfo]:
        """Every pane on the server (empty when the server is not running)."""
        if not self.socket_path.exists():
            return []
        proc = self._raw(["list-panes", "-a", "-F", _FORMAT], check=False)
        if proc.returncode != 0:
            return []
        return [_parse_pane(line) for line in proc.stdout.decode(errors="replace").splitlines()]

    def capture(self, pane_id: str) -> str:
        """The visible text of a pane."""
        return "\n".join(self.cmd("capture-pane", "-p", "-t", pane_id))

    def paste(self, pane_id: str, data: bytes, *, submit: bool, submit_delay: float) -> None:
        """Type ``data`` into a pane as a bracketed paste, then press Enter when ``submit``."""
        if data:
            buffer = f"agentmux-{uuid.uuid4().hex[:12]}"
            self._raw(["load-buffer", "-b", buffer, "-"], stdin=data)
            self._raw(["paste-buffer", "-p", "-d", "-b", buffer, "-t", pane_id])
        if submit:
            if submit_delay:
                time.sleep(submit_delay)
            self._raw(["send-keys", "-t", pane_id, "Enter"])

    def kill_session(self, session_id: str) -> None:
        """Kill a session (its processes get SIGHUP)."""
        self._raw(["kill-session", "-t", session_id], check=False)

    def attach_argv(self, session_id: str) -> list[str]:
        """argv of a full-screen ``tmux attach`` to a session."""
        return ["tmux", "-S", str(self.socket_path), "attach-session", "-t", session_id]

    def kill_server(self) -> None:
        """Stop the whole server (tests and ``doctor`` use it; never called on user data)."""
        self._raw(["kill-server"], check=False)


def _parse_pane(line: str) -> PaneInfo:
    parts = line.split("\t")
    parts += [""] * (len(_FIELDS) - len(parts))
    values = dict(zip(_FIELDS, parts, strict=True))
    return PaneInfo(
        session_id=values["session_id"],
        session_name=values["session_name"],
        window_id=values["window_id"],
        pane_id=values["pane_id"],
        pane_pid=_int_or_none(values["pane_pid"]),
        dead=values["pane_dead"] == "1",
        dead_status=_int_or_none(values["pane_dead_status"]),
        dead_signal=_int_or_none(values["pane_dead_signal"]),
        activity=float(values["window_activity"] or 0),
        agentmux_id=values["@agentmux_id"],
    )


def terminate_tree(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM a process and its descendants, then SIGKILL whatever is left after ``timeout``."""
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=timeout)
