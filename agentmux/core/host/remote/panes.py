"""Live panes of another machine's agents: tmux control mode through the host's ssh master.

The host runs agentmux with its own private tmux server. A :class:`RemoteMirror` attaches one
control client to that server (``tmux -C attach-session``, run on the host as a channel of the
one multiplexed ssh connection) and drives it with the same reader and scheduler as a local
:class:`~agentmux.core.tmux.mirror.Mirror`: output only marks a pane dirty, its screen is captured
over the connection (``pause-after`` flow control, one pause per capture), and everything else
(listing the panes with their tags, linking windows into the view session, sizing them, typing)
is a command on that same connection, never an ssh channel per command. Only a full-screen attach
is a channel of its own, with a terminal.

Every pane is acted on as the pane tagged ``@agentmux_id`` with the session's id: a restarted tmux
server on the host hands out the same pane ids again. The tag is read over the connection the
action takes, which only ever reaches one server (see
:meth:`~agentmux.core.tmux.control.ControlClient.run_tagged`); a screen whose tag is not the one
expected is dropped.

When the ssh master or the connection goes down, the client makes the master again
(:meth:`SshConnection.open`) and reconnects, with backoff, reporting ``disconnected`` then
``connected``. A login that needs a person (or a host key to accept) is reported once, as
``needs-login``, and not tried again until :meth:`RemoteMirror.retry`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import PurePosixPath

from agentmux.core.host.ssh import SshConnection, SshError, SshFault
from agentmux.core.records import SessionRecord
from agentmux.core.tmux.control import ControlClient, Screen
from agentmux.core.tmux.control_endpoint import TmuxEndpoint, UnreachableError
from agentmux.core.tmux.mirror import key_args
from agentmux.core.tmux.server import (
    GONE_TEXT,
    PANE_FORMAT,
    PaneInfo,
    clean_env,
    parse_panes,
    tagged_command,
)

#: The hidden session a viewer over ssh links the host's agent windows into: not the host's own
#: TUI's, so neither of them links a window twice or unlinks the other's.
REMOTE_VIEW = "_agentmux_view_ssh"
#: What the mirror reports when logging in needs a person; it waits for :meth:`retry` then.
NEEDS_LOGIN = "needs-login"
_PERSON_FAULTS = (SshFault.NEEDS_PERSON, SshFault.HOST_KEY)


class RemoteMirror:
    """Live screens of one host's agent panes, and the controls the TUI applies to them.

    ``connection`` is the host's ssh connection; ``socket`` the path, on the host, of its
    agentmux tmux server's socket. The public methods are those of
    :class:`~agentmux.core.tmux.mirror.PaneMirror`.
    """

    def __init__(
        self,
        connection: SshConnection,
        socket: str,
        on_screen: Callable[[Screen], None],
        on_state: Callable[[str], None],
        *,
        focus_fps: float = 30.0,
        background_fps: float = 4.0,
    ) -> None:
        self.connection = connection
        self.socket = socket
        #: The last ssh failure, as one sentence; None once connected.
        self.problem: str | None = None
        self.state = "connecting"
        self._on_state = on_state
        # -N: a viewer never starts the host's tmux server (the host's agentmux starts it, with
        # its own config); with no server there is nothing to see, and it keeps trying.
        endpoint = TmuxEndpoint(self._tmux_argv, self._ready, ("-N",))
        self.client = ControlClient(
            PurePosixPath(socket),
            on_screen,
            self._state_changed,
            focus_fps=focus_fps,
            background_fps=background_fps,
            endpoint=endpoint,
            view=REMOTE_VIEW,
        )
        self._linked: set[tuple[str, str]] = set()
        self._panes: dict[str, PaneInfo] = {}
        self._watched: dict[str, str] = {}
        self._focused: SessionRecord | None = None

    # --- the connection -----------------------------------------------------------------------

    def _tmux_argv(self, args: Sequence[str]) -> list[str]:
        """tmux with ``args`` on the host's server, as a channel of the master."""
        # -u: a command run over ssh has no locale (ssh passes none), and a client tmux takes
        # for a non-UTF-8 one gets format output with tabs and other controls turned to "_".
        return self.connection.command.remote(["tmux", "-u", "-S", self.socket, *args])

    def _ready(self) -> None:
        """Before each connection attempt: the master is up (made again if it is not)."""
        try:
            self.connection.open()
        except SshError as exc:
            self.problem = exc.message
            if exc.fault in _PERSON_FAULTS:
                raise UnreachableError(NEEDS_LOGIN, hold=True, reason=exc.message) from exc
            raise UnreachableError("disconnected", reason=exc.message) from exc

    def _state_changed(self, state: str) -> None:
        if state == "connected":
            self.problem = None
            self._linked.clear()  # a new connection: the view may be new, or another server's
        self.state = state
        self._on_state(state)

    def start(self) -> None:
        """Connect to the host's tmux and start mirroring."""
        self.client.start()

    def stop(self) -> None:
        """Disconnect; the host's agents keep running."""
        self.client.stop()

    def retry(self) -> None:
        """Try logging in again after ``needs-login`` (the user logged in by hand, or added the
        key to their agent)."""
        self.connection.reset()
        self.client.retry()

    # --- panes ----------------------------------------------------------------------------------

    def list_panes(self) -> dict[str, PaneInfo] | None:
        """The host's agent panes by the session id tagged on each, listed over the control
        connection; None when it is down (unknown, not empty)."""
        lines = self.client.request(["list-panes", "-a", "-F", PANE_FORMAT])
        if lines is None:
            return None
        return {pane.agentmux_id: pane for pane in parse_panes(lines) if pane.agentmux_id}

    def refresh_panes(self) -> dict[str, PaneInfo] | None:
        """List the host's agent panes (:meth:`list_panes`) and mirror them (:meth:`show`)."""
        panes = self.list_panes()
        if panes is not None:
            self.show(panes)
        return panes

    def show(self, panes: Mapping[str, PaneInfo]) -> None:
        """Know these sessions' panes (session id -> its pane, as a listing of tags found it) and
        mirror the live ones; their windows are linked into the view session, each once.

        Costs nothing when the set of live panes has not changed.
        """
        if self.state == "connecting":
            self.client.connected.wait(5)
        self._panes = dict(panes)
        live = {sid: pane for sid, pane in panes.items() if not pane.dead}
        todo = [(sid, p) for sid, p in live.items() if (p.pane_id, sid) not in self._linked]
        if todo:
            # A window linked by an earlier viewer is there already; linked again it would show
            # twice in the view.
            shown = self.client.request(["list-panes", "-s", "-t", f"={REMOTE_VIEW}", "-F", "#D"])
            for session_id, pane in todo:
                key = (pane.pane_id, session_id)
                link = ["link-window", "-d", "-s", pane.pane_id, "-t", f"={REMOTE_VIEW}:"]
                if pane.pane_id in (shown or []):
                    if self.client.verify(pane.pane_id, session_id):
                        self._linked.add(key)
                elif self.client.run_tagged(pane.pane_id, session_id, [link]):
                    self._linked.add(key)
        watched = {pane.pane_id: session_id for session_id, pane in live.items()}
        if watched != self._watched:
            self._watched = watched
            self.client.watch(watched)
        focused = None if self._focused is None else self._pane(self._focused)
        if focused is not None and self.client.focused != focused.pane_id:
            self.client.focus(focused.pane_id)  # focused before its pane was known here

    def _pane(self, record: SessionRecord) -> PaneInfo | None:
        return self._panes.get(record.id)

    def has_pane(self, record: SessionRecord) -> bool:
        """Whether the session had a pane tagged with its id when last shown."""
        return self._pane(record) is not None

    def last_output(self, record: SessionRecord) -> float | None:
        """``time.monotonic()`` when the session's agent last printed, as seen live, if it has."""
        pane = self._pane(record)
        return None if pane is None else self.client.last_output(pane.pane_id)

    def focus(self, record: SessionRecord | None) -> None:
        """Refresh this session's pane at the fast rate (from when it is known, if it is not
        yet)."""
        self._focused = record
        pane = None if record is None else self._pane(record)
        self.client.focus(None if pane is None else pane.pane_id)

    def resize(self, record: SessionRecord, width: int, height: int) -> None:
        """Keep the agent's window exactly at its cell's size (tag-checked)."""
        pane = self._pane(record)
        if pane is None or width <= 0 or height <= 0:
            return
        manual = ["set-option", "-w", "-t", pane.pane_id, "window-size", "manual"]
        size = ["resize-window", "-t", pane.pane_id, "-x", str(width), "-y", str(height)]
        if self.client.run_tagged(pane.pane_id, record.id, [manual, size]):
            self.client.refresh(pane.pane_id)

    def send_key(self, record: SessionRecord, key: str, character: str | None) -> bool:
        """Type one key into the session's agent over the control connection; False when nothing
        was typed (no pane tagged with its id, or the connection is down).

        Queued without waiting once the connection has read the pane's tag (its first screen
        does); before that, the tag is read first (a round trip to the host)."""
        pane = self._pane(record)
        if pane is None:
            return False
        args = key_args(key, character)
        if args is None:
            return True  # a key tmux has no name for: nothing to type
        if self.client.send_keys(pane.pane_id, record.id, args):
            return True
        return self.client.verify(pane.pane_id, record.id, timeout=2.0) and (
            self.client.send_keys(pane.pane_id, record.id, args)
        )

    def attach_argv(self, pane: PaneInfo, session_id: str) -> list[str]:
        """argv of an interactive ``ssh -t`` through the master that attaches to the session of
        the pane tagged ``session_id`` full-screen, checked by the host's tmux as it attaches."""
        attach = ["attach-session", "-t", pane.session_id]
        guarded = tagged_command(pane.pane_id, session_id, [attach], GONE_TEXT)
        argv = self.connection.command.remote(["tmux", "-S", self.socket, *guarded])
        # remote() ends with "-T", "--", the destination and the command: this one needs a
        # terminal.
        if argv[-4] != "-T":
            raise ValueError("unexpected ssh command line")
        argv[-4] = "-t"
        return argv

    def attach(self, record: SessionRecord) -> int | None:
        """Attach full-screen in this terminal (over ssh) until the user detaches; the exit
        status, or None when the session has no pane to attach to or the host is out of reach.

        Meanwhile the window follows the terminal's size; the caller sizes it back afterwards.
        """
        pane = self._pane(record)
        if pane is None:
            return None
        follow = ["set-option", "-w", "-t", pane.pane_id, "window-size", "latest"]
        if not self.client.run_tagged(pane.pane_id, record.id, [follow]):
            return None
        try:
            self.connection.open()
        except SshError:
            return None
        argv = self.attach_argv(pane, record.id)
        return subprocess.run(argv, check=False, env=clean_env()).returncode
