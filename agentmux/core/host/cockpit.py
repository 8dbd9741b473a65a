"""Every pane in the cockpit, wherever its agent runs: this machine's mirror and one per host.

The TUI drives one :class:`CockpitMirror` as it would one
:class:`~agentmux.core.tmux.mirror.Mirror`: each call goes to the mirror of the session's host,
this machine's (:meth:`Host.mirror`) or a host's over its ssh master
(:class:`~agentmux.core.host.remote.panes.RemoteMirror`, made when the first session there is
shown). A host's mirror lists that host's panes over its own control connection; every pane is
still matched by its ``@agentmux_id`` tag, never by id alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping

from agentmux.core.host.remote.panes import RemoteMirror
from agentmux.core.host.ssh import SshConnection
from agentmux.core.records import LOCAL_HOST, SessionRecord
from agentmux.core.tmux.control import Screen
from agentmux.core.tmux.mirror import PaneMirror
from agentmux.core.tmux.server import PaneInfo

#: ``on_state(host, state)``: a mirror's connection went ``connected``, ``disconnected`` or (a
#: host) ``needs-login``.
HostStateSink = Callable[[str, str], None]
#: The hosts with sessions to show: host -> its ssh connection and its agentmux's tmux socket.
HostsToShow = Callable[[], Mapping[str, tuple[SshConnection, str]]]


class CockpitMirror:
    """The panes of one repository's sessions, this machine's (``local``) and other hosts'
    (``hosts()`` says which hosts have sessions, asked at each :meth:`show`)."""

    def __init__(
        self,
        local: PaneMirror,
        hosts: HostsToShow,
        on_screen: Callable[[Screen], None],
        on_state: HostStateSink,
    ) -> None:
        self._hosts = hosts
        self._on_screen = on_screen
        self._on_state = on_state
        self.local = local
        self.hosts: dict[str, RemoteMirror] = {}
        self._lock = threading.Lock()
        self._started = False
        self._focused: SessionRecord | None = None

    def start(self) -> None:
        """Start mirroring this machine's panes (a host's start when its first session shows)."""
        self._started = True
        self.local.start()

    def stop(self) -> None:
        """Disconnect from every tmux; every agent keeps running."""
        self._started = False
        with self._lock:
            mirrors = list(self.hosts.values())
        for mirror in [self.local, *mirrors]:
            mirror.stop()

    def problem(self, host: str) -> str | None:
        """Why host ``host``'s panes are not shown (its last ssh failure), if they are not."""
        mirror = self.hosts.get(host)
        return mirror.problem if mirror is not None else None

    def retry(self, host: str) -> None:
        """Log in to ``host`` again after it needed a person."""
        mirror = self.hosts.get(host)
        if mirror is not None:
            mirror.retry()

    def show(self, panes: Mapping[str, PaneInfo]) -> None:
        """Mirror this machine's ``panes`` (session id -> pane), then each host's, listed over
        its own connection (in a worker thread: a host's listing is a round trip)."""
        self.local.show(panes)
        if not self._started:
            return
        for host, (connection, socket) in self._hosts().items():
            mirror = self._mirror_of(host, connection, socket)
            if mirror.state in {"connected", "connecting"}:
                mirror.refresh_panes()
        if self._focused is not None:
            # The pane may have been unknown when it was focused (a host's panes are listed
            # after its connection is up): the fast rate follows it once it is known.
            self.focus(self._focused)

    def _mirror_of(self, host: str, connection: SshConnection, socket: str) -> RemoteMirror:
        with self._lock:
            mirror = self.hosts.get(host)
            if mirror is not None and mirror.socket == socket:
                return mirror
            if mirror is not None:
                mirror.stop()  # the host's agentmux moved its server: follow it
            mirror = RemoteMirror(
                connection,
                socket,
                self._on_screen,
                lambda state, host=host: self._on_state(host, state),  # type: ignore[misc]
            )
            self.hosts[host] = mirror
        mirror.start()
        return mirror

    def _for(self, record: SessionRecord) -> PaneMirror | None:
        if record.host == LOCAL_HOST:
            return self.local
        return self.hosts.get(record.host)

    def has_pane(self, record: SessionRecord) -> bool:
        """Whether the session had a pane tagged with its id when last shown."""
        mirror = self._for(record)
        return mirror is not None and mirror.has_pane(record)

    def last_output(self, record: SessionRecord) -> float | None:
        """``time.monotonic()`` when the session's agent last printed, as seen live."""
        mirror = self._for(record)
        return None if mirror is None else mirror.last_output(record)

    def focus(self, record: SessionRecord | None) -> None:
        """Refresh this session's pane at the fast rate (and no other host's)."""
        self._focused = record
        for mirror in [self.local, *self.hosts.values()]:
            mirror.focus(record if record is not None and self._for(record) is mirror else None)

    def resize(self, record: SessionRecord, width: int, height: int) -> None:
        """Keep the agent's window exactly at its cell's size."""
        mirror = self._for(record)
        if mirror is not None:
            mirror.resize(record, width, height)

    def send_key(self, record: SessionRecord, key: str, character: str | None) -> bool:
        """Type one key into the session's agent; False when nothing was typed."""
        mirror = self._for(record)
        return mirror is not None and mirror.send_key(record, key, character)

    def attach(self, record: SessionRecord) -> int | None:
        """Attach full-screen until the user detaches; the exit status, or None."""
        mirror = self._for(record)
        return None if mirror is None else mirror.attach(record)
