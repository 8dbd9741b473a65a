"""agentmux's private tmux server: one per repository, on its own socket.

libtmux runs tmux commands on the server (imported on first use: it costs ~45 ms, which every
CLI call would pay otherwise). Two calls bypass it on purpose: starting
the server, which must happen with a cleaned environment and agentmux's own config file, and
loading paste buffers, which must carry arbitrary bytes on stdin (libtmux runs tmux in text mode).
tmux objects are always addressed by id (``$3``, ``@4``, ``%5``) or exact name (``=name``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from agentmux.core.errors import AgentmuxError
from agentmux.core.tmux.launch import DROPPED_ENV
from agentmux.core.tmux.process_tree import signal_tree, wait_for_exec

if TYPE_CHECKING:
    import libtmux

MIN_TMUX = (3, 2)
_FIELDS = (
    "session_id",
    "session_name",
    "window_id",
    "pane_id",
    "pane_pid",
    "pane_dead",
    "pane_dead_status",
    "pane_dead_signal",
    "pane_dead_time",
    "window_activity",
    "@agentmux_id",
    # Last: a path may hold a tab, and the last field takes the rest of the line.
    "pane_start_path",
)
# Sessions agentmux keeps for itself (the TUI's view); session names never start with "_".
HIDDEN_PREFIX = "_agentmux"
# tmux can mark a pane dead (its pty closed) a moment before it has reaped the process and knows
# the exit status; a pane dead for less than this long without a status is still settling.
STATUS_SETTLE_SECONDS = 5.0
#: The ``list-panes -F`` format whose lines :func:`parse_panes` reads.
PANE_FORMAT = "\t".join(f"#{{{name}}}" for name in _FIELDS)
# What a check of a pane's tag prints when the pane is not the agent's (see tagged_command).
NOT_TAGGED = "agentmux-not-tagged"
GONE_TEXT = "agentmux: that session is not running any more"
_TAG = re.compile(r"[0-9A-Za-z-]+")


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
    dead_time: float | None
    activity: float
    agentmux_id: str
    start_path: str = ""

    @property
    def status_pending(self) -> bool:
        """Dead, but tmux has not reported how the process ended yet."""
        return (
            self.dead
            and self.dead_status is None
            and self.dead_signal is None
            and self.dead_time is not None
            and time.time() - self.dead_time < STATUS_SETTLE_SECONDS
        )


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


#: What a tmux client says when the server it reached exits under it.
SERVER_GONE = b"server exited unexpectedly"


class TmuxServer:
    """A private tmux server on ``socket_path``."""

    def __init__(self, socket_path: Path) -> None:
        self.socket_path = socket_path
        self._server: libtmux.Server | None = None

    @property
    def server(self) -> libtmux.Server:
        """The libtmux handle on this server."""
        if self._server is None:
            self._server = _libtmux().Server(socket_path=str(self.socket_path))
        return self._server

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
        result = self.server.cmd(*args)
        if result.returncode != 0:
            detail = " ".join(result.stderr).strip() or f"exit {result.returncode}"
            raise AgentmuxError(f"tmux {args[0]} failed: {detail}.")
        return list(result.stdout)

    def is_running(self) -> bool:
        """Whether the server answers on its socket."""
        if not self.socket_path.exists():
            return False
        return self._raw(["list-sessions", "-F", "#{session_id}"], check=False).returncode == 0

    def new_session(
        self,
        name: str,
        *,
        cwd: Path,
        command: Sequence[str],
        agentmux_id: str,
        hooks: Mapping[str, str] | None = None,
        size: tuple[int, int] = (200, 50),
    ) -> PaneInfo:
        """Start a detached session whose one pane runs ``command`` (an argv) in ``cwd``.

        Starts the server if needed, with agentmux's own config (``remain-on-exit`` is set there,
        before any pane can exit) and a cleaned environment. The pane, not the session, is tagged
        with ``agentmux_id``: a window or split the user opens later is never taken for the agent.
        The tag is set by the same tmux invocation that makes the pane, so the server applies both
        even if agentmux is killed in between: an agent never runs untagged.
        """
        if command and command[-1].endswith(";"):
            raise ValueError("tmux would read a trailing ';' as a command separator")
        check_tag(agentmux_id)
        conf = resources.files("agentmux.core.tmux").joinpath("tmux.conf")
        args = ["-f", str(conf), "-S", str(self.socket_path)]
        # The session was made by this very command list: "=name:" is its one pane.
        own = f"={name}:"
        tail = [";", "set-option", "-p", "-t", own, "@agentmux_id", agentmux_id]
        tail += [";", "display-message", "-p", "-t", own, "#{pane_id}\t#{@agentmux_id}"]
        for event, hook in (hooks or {}).items():
            tail += [";", "set-hook", "-g", event, hook]
        argv = [
            "tmux",
            *args,
            "new-session",
            "-d",
            "-P",
            "-F",
            PANE_FORMAT,
            "-s",
            name,
            "-c",
            str(cwd),
            "-x",
            str(size[0]),
            "-y",
            str(size[1]),
            *command,
            *tail,
        ]
        proc = subprocess.run(argv, capture_output=True, env=clean_env(), check=False)
        if proc.returncode != 0 and SERVER_GONE in proc.stderr:
            # The server this client reached was exiting (killed, or its last session closing)
            # as it connected. If the session was made all the same, it is tagged: use it;
            # else the next client starts a server of its own.
            made = [p for p in self.panes() if p.agentmux_id == agentmux_id]
            if made:
                return made[0]
            proc = subprocess.run(argv, capture_output=True, env=clean_env(), check=False)
        lines = proc.stdout.decode(errors="replace").splitlines()
        if proc.returncode != 0 and not lines:
            detail = proc.stderr.decode(errors="replace").strip()
            raise AgentmuxError(f"tmux could not start session {name!r}: {detail}.")
        self.socket_path.chmod(0o600)
        info = _parse_pane(lines[0])
        if proc.returncode != 0 or lines[1:2] != [f"{info.pane_id}\t{agentmux_id}"]:
            # An untagged agent would run unseen: end the session that was just made.
            self.kill_session(info.session_id)
            detail = proc.stderr.decode(errors="replace").strip() or "its pane was not tagged"
            raise AgentmuxError(f"tmux could not start session {name!r}: {detail}.")
        return PaneInfo(**{**info.__dict__, "agentmux_id": agentmux_id})

    def panes(self) -> list[PaneInfo]:
        """Every pane on the server (empty when the server is not running)."""
        if not self.socket_path.exists():
            return []
        proc = self._raw(["list-panes", "-a", "-F", PANE_FORMAT], check=False)
        if proc.returncode != 0:
            return []
        return parse_panes(proc.stdout.decode(errors="replace").splitlines())

    def link_window(self, pane_id: str, agentmux_id: str, session: str) -> bool:
        """Show the window of the pane tagged ``agentmux_id`` in another session too (the TUI's
        view session)."""
        link = ["link-window", "-d", "-s", pane_id, "-t", f"={session}:"]
        return self.run_if_tagged(pane_id, agentmux_id, link)

    def size_window(self, pane_id: str, agentmux_id: str, width: int, height: int) -> bool:
        """Fix the window of the pane tagged ``agentmux_id`` at ``width`` x ``height``, whatever
        clients are attached."""
        return self.run_if_tagged(
            pane_id,
            agentmux_id,
            ["set-option", "-w", "-t", pane_id, "window-size", "manual"],
            ["resize-window", "-t", pane_id, "-x", str(width), "-y", str(height)],
        )

    def follow_client_size(self, pane_id: str, agentmux_id: str) -> bool:
        """Let the window of the pane tagged ``agentmux_id`` take the size of the client attached
        to it (a full-screen attach)."""
        follow = ["set-option", "-w", "-t", pane_id, "window-size", "latest"]
        return self.run_if_tagged(pane_id, agentmux_id, follow)

    def capture(self, pane_id: str) -> str:
        """The visible text of a pane, by id alone (tests only: agentmux reads an agent's screen
        with :meth:`capture_tagged`)."""
        return "\n".join(self.cmd("capture-pane", "-p", "-t", pane_id))

    def capture_tagged(self, pane_id: str, agentmux_id: str) -> str | None:
        """The visible text of the pane tagged ``agentmux_id``; None when ``pane_id`` is not it.

        The tag and the screen come from one tmux invocation, so from one server: a server
        restarted since ``pane_id`` was read (handing the id to another pane) cannot answer.
        """
        proc = self._raw(
            [
                "display-message", "-p", "-t", pane_id, "#{@agentmux_id}",
                ";", "capture-pane", "-p", "-t", pane_id,
            ],
            check=False,
        )  # fmt: skip
        tag, _, screen = proc.stdout.decode(errors="replace").partition("\n")
        if proc.returncode != 0 or tag != agentmux_id or not agentmux_id:
            return None
        return screen.removesuffix("\n")

    def run_if_tagged(self, pane_id: str, agentmux_id: str, *commands: Sequence[str]) -> bool:
        """Run tmux ``commands`` only if ``pane_id`` is the pane tagged ``agentmux_id``, checked
        inside the server in the same step; whether they ran (and succeeded)."""
        proc = self._raw(tagged_command(pane_id, agentmux_id, commands), check=False)
        said = proc.stdout.decode(errors="replace").strip()
        return proc.returncode == 0 and not said.endswith(NOT_TAGGED)

    def paste(
        self, pane_id: str, data: bytes, *, tag: str, submit: bool, submit_delay: float
    ) -> bool:
        """Type ``data`` into the pane tagged ``tag`` as a bracketed paste, then press Enter when
        ``submit``; False (nothing typed) when ``pane_id`` is not that pane."""
        if data:
            buffer = f"agentmux-{uuid.uuid4().hex[:12]}"
            self._raw(["load-buffer", "-b", buffer, "-"], stdin=data)
            paste = ["paste-buffer", "-p", "-d", "-b", buffer, "-t", pane_id]
            if not self.run_if_tagged(pane_id, tag, paste):
                self._raw(["delete-buffer", "-b", buffer], check=False)
                return False
        if submit:
            if submit_delay:
                time.sleep(submit_delay)
            return self.run_if_tagged(pane_id, tag, ["send-keys", "-t", pane_id, "Enter"])
        return True

    def send_keys(self, pane_id: str, *args: str) -> None:
        """``tmux send-keys -t PANE ARGS`` by id alone (tests only: agentmux types into an agent
        with :meth:`send_keys_tagged`)."""
        self._raw(["send-keys", "-t", pane_id, *args], check=False)

    def send_keys_tagged(self, pane_id: str, agentmux_id: str, *args: str) -> bool:
        """``send-keys`` into the pane tagged ``agentmux_id`` only; whether it was that pane."""
        return self.run_if_tagged(pane_id, agentmux_id, ["send-keys", "-t", pane_id, *args])

    def tag_untagged(self, pane_id: str, agentmux_id: str) -> bool:
        """Tag a pane that has no tag (an orphan being adopted); False if it has one already."""
        check_tag(agentmux_id)
        return self.run_if_tagged(
            pane_id, "", ["set-option", "-p", "-t", pane_id, "@agentmux_id", agentmux_id]
        )

    def kill_window(self, window_id: str) -> None:
        """Kill one window in every session it is linked into."""
        self._raw(["kill-window", "-t", window_id], check=False)

    def kill_session(self, session_id: str) -> None:
        """Kill a session and its windows, wherever else they are linked (processes get SIGHUP)."""
        listed = self._raw(["list-windows", "-t", session_id, "-F", "#{window_id}"], check=False)
        for window_id in listed.stdout.decode().split():
            self.kill_window(window_id)
        self._raw(["kill-session", "-t", session_id], check=False)

    def kill_agent_session(self, pane: PaneInfo) -> None:
        """Kill the session of a tagged agent pane, and its window wherever else it is linked
        (the TUI's view), only while tmux confirms the pane is still tagged so."""
        self.run_if_tagged(
            pane.pane_id,
            pane.agentmux_id,
            ["kill-session", "-t", pane.session_id],
            ["kill-window", "-t", pane.pane_id],
        )

    def attach_argv(self, session_id: str) -> list[str]:
        """argv of a full-screen ``tmux attach`` to a session (by the id a listing of tags just
        gave; :meth:`attach_tagged_argv` has tmux check the tag as it attaches)."""
        return ["tmux", "-S", str(self.socket_path), "attach-session", "-t", session_id]

    def attach_tagged_argv(self, pane: PaneInfo) -> list[str]:
        """argv of a full-screen ``tmux attach`` to a tagged pane's session, checked by tmux as it
        attaches: a pane id another server handed out again is refused."""
        attach = ["attach-session", "-t", pane.session_id]
        guarded = tagged_command(pane.pane_id, pane.agentmux_id, [attach], GONE_TEXT)
        return ["tmux", "-S", str(self.socket_path), *guarded]

    def kill_server(self) -> None:
        """Stop the whole server (tests and ``doctor`` use it; never called on user data)."""
        self._raw(["kill-server"], check=False)


def _libtmux() -> ModuleType:
    """Import libtmux, whatever ``sys.stdout`` is at the time.

    libtmux reads ``sys.stdout.encoding`` when it is first imported, and inside the TUI
    ``sys.stdout`` is Textual's capture object, which has no encoding.
    """
    if "libtmux" in sys.modules:
        return sys.modules["libtmux"]
    swapped, sys.stdout = sys.stdout, sys.__stdout__ or sys.stdout
    try:
        import libtmux  # noqa: PLC0415 - deferred, see the module docstring
    finally:
        sys.stdout = swapped
    return libtmux


def tmux_string(text: str) -> str:
    """``text`` as one double-quoted word of tmux's command syntax."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    # tmux expands a leading "~" to the home directory even inside double quotes.
    return '"' + escaped.replace("~", "\\~") + '"'


def check_tag(agentmux_id: str) -> None:
    """Refuse a tag that could change the meaning of a tmux format (tags are UUIDs)."""
    if not _TAG.fullmatch(agentmux_id):
        raise ValueError(f"not an agentmux id: {agentmux_id!r}")


def tagged_command(
    pane_id: str, agentmux_id: str, commands: Sequence[Sequence[str]], otherwise: str = NOT_TAGGED
) -> list[str]:
    """tmux arguments that run ``commands`` only if ``pane_id`` is tagged ``agentmux_id`` (an
    empty tag: only if it is untagged), else print ``otherwise``.

    The check and the commands run in one step inside the server: a pane id is never reused by
    one server, but a restarted server hands the same ids out again, so an id alone is never
    trusted to name an agent.
    """
    if agentmux_id:
        check_tag(agentmux_id)
    body = " ; ".join(" ".join(tmux_string(arg) for arg in command) for command in commands)
    test = f"#{{==:#{{@agentmux_id}},{agentmux_id}}}"
    otherwise_command = f"display-message -p {tmux_string(otherwise)}"
    return ["if-shell", "-F", "-t", pane_id, test, body, otherwise_command]


def tmux_quote(text: str) -> str:
    """``text`` as one word for a tmux command that expands formats (``#`` stays literal)."""
    return tmux_string(text.replace("#", "##"))


def parse_panes(lines: Iterable[str]) -> list[PaneInfo]:
    """The panes of a ``list-panes -a -F PANE_FORMAT``, each once."""
    # A window linked into agentmux's hidden view session is listed once per session: keep
    # the entry of the agent's own session, or the view's when it is the only one left.
    by_pane: dict[str, PaneInfo] = {}
    for line in lines:
        pane = _parse_pane(line)
        if pane.pane_id not in by_pane or not pane.session_name.startswith(HIDDEN_PREFIX):
            by_pane[pane.pane_id] = pane
    return list(by_pane.values())


def _parse_pane(line: str) -> PaneInfo:
    parts = line.split("\t", len(_FIELDS) - 1)
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
        dead_time=float(values["pane_dead_time"]) if values["pane_dead_time"].isdigit() else None,
        activity=float(values["window_activity"] or 0),
        agentmux_id=values["@agentmux_id"],
        start_path=values["pane_start_path"],
    )


def terminate_tree(pid: int, is_dead: Callable[[], bool], grace: float = 5.0) -> None:
    """End the agent under a pane: SIGTERM (repeated) to the wrapper's descendants, then SIGKILL.

    The wrapper itself is spared the SIGTERM so it can record the agent's exit status; the SIGKILL
    phase, after ``grace`` seconds, takes everything. A process still being tmux's freshly forked
    child is waited for first: a signal in that instant leaves tmux with no exit status.
    """
    wait_for_exec(pid, grace)
    for sig, limit in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            signal_tree(pid, sig, spare_root=sig == signal.SIGTERM)
            pause = time.monotonic() + 0.5
            while time.monotonic() < pause:
                if is_dead():
                    return
                time.sleep(0.02)
