"""What the TUI needs from tmux, behind one object: live screens, sizes, keys, full-screen attach.

The UI layer never calls tmux; it drives a :class:`PaneMirror`: a :class:`Mirror` of this
machine's agents, or a host's (:class:`agentmux.core.host.remote.panes.RemoteMirror`). Calls that
talk to tmux block for a few milliseconds (over ssh, a round trip more) and belong on a worker
thread, except :meth:`PaneMirror.send_key`, which only queues the key once the pane's tag has
been read; screens arrive through the ``on_screen`` callback from the mirror's own threads.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from agentmux.core.records import SessionRecord
from agentmux.core.tmux.control import VIEW_SESSION, ControlClient, Screen
from agentmux.core.tmux.server import PaneInfo, TmuxServer, clean_env

# Textual key names -> tmux key names, for keys typed in insert mode.
_KEYS = {
    "enter": "Enter",
    "escape": "Escape",
    "tab": "Tab",
    "shift+tab": "BTab",
    "backspace": "BSpace",
    "delete": "DC",
    "insert": "IC",
    "home": "Home",
    "end": "End",
    "pageup": "PPage",
    "pagedown": "NPage",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "space": "Space",
}


def tmux_key(key: str) -> str | None:
    """The tmux name of a Textual key (``ctrl+c`` -> ``C-c``), or None if it has none."""
    if key in _KEYS:
        return _KEYS[key]
    parts = key.split("+")
    base = parts[-1]
    mods = parts[:-1]
    name = _KEYS.get(base, base if len(base) == 1 else None)
    if name is None and base.startswith("f") and base[1:].isdigit():
        name = base.upper()
    if name is None:
        return None
    prefix = "".join({"ctrl": "C-", "alt": "M-", "shift": "S-"}.get(m, "") for m in mods)
    return prefix + name


def key_args(key: str, character: str | None) -> list[str] | None:
    """The ``send-keys`` arguments that type one Textual key (a printable character literally);
    None for a key tmux has no name for."""
    name = tmux_key(key)
    literal = bool(character and len(character) == 1 and character.isprintable())
    if literal and "+" not in key:
        return ["-l", character or ""]
    if name is not None:
        return [name]
    return None


class PaneMirror(Protocol):
    """What the TUI drives to show and type into agents' panes, wherever they run."""

    def start(self) -> None:
        """Connect and start mirroring."""

    def stop(self) -> None:
        """Disconnect; agents keep running."""

    def show(self, panes: Mapping[str, PaneInfo]) -> None:
        """Know these sessions' panes (session id -> its pane) and mirror the live ones."""

    def has_pane(self, record: SessionRecord) -> bool:
        """Whether the session had a pane tagged with its id when last shown."""

    def last_output(self, record: SessionRecord) -> float | None:
        """``time.monotonic()`` when the session's agent last printed, as seen live."""

    def focus(self, record: SessionRecord | None) -> None:
        """Refresh this session's pane at the fast rate."""

    def resize(self, record: SessionRecord, width: int, height: int) -> None:
        """Keep the agent's window exactly at its cell's size."""

    def send_key(self, record: SessionRecord, key: str, character: str | None) -> bool:
        """Type one key into the session's agent; False when nothing was typed."""

    def attach(self, record: SessionRecord) -> int | None:
        """Attach full-screen until the user detaches; the exit status, or None."""


class Mirror:
    """Live screens of agent panes, and the controls the TUI applies to them.

    It acts on a session's pane only as the pane tagged with the session's id: the panes it is
    given come from a listing that read their tags, and every action is checked again by tmux
    (or over the control connection that read the tag), so a pane id a restarted tmux server
    handed to another agent is never written to, sized or shown as the session's.
    """

    def __init__(
        self,
        socket_path: Path,
        on_screen: Callable[[Screen], None],
        on_state: Callable[[str], None],
    ) -> None:
        self.tmux = TmuxServer(socket_path)
        self._on_state = on_state
        self.client = ControlClient(socket_path, on_screen, self._state_changed)
        self._linked: set[tuple[str, str]] = set()
        self._panes: dict[str, PaneInfo] = {}
        self._watched: dict[str, str] = {}

    def start(self) -> None:
        """Connect to tmux and start mirroring."""
        self.client.start()

    def stop(self) -> None:
        """Disconnect; agents keep running."""
        self.client.stop()

    def _state_changed(self, state: str) -> None:
        if state == "connected":
            self._linked.clear()  # a new server (or view session) has none of them linked
        self._on_state(state)

    def show(self, panes: Mapping[str, PaneInfo]) -> None:
        """Know these sessions' panes (session id -> its pane, as a listing of tags found it) and
        mirror the live ones; their windows are linked into the view session.

        Costs nothing when the set of live panes has not changed.
        """
        self.client.connected.wait(5)
        self._panes = dict(panes)
        live = {sid: pane for sid, pane in panes.items() if not pane.dead}
        for session_id, pane in live.items():
            key = (pane.pane_id, session_id)
            if key not in self._linked and self.tmux.link_window(
                pane.pane_id, session_id, VIEW_SESSION
            ):
                self._linked.add(key)
        watched = {pane.pane_id: session_id for session_id, pane in live.items()}
        if watched != self._watched:
            self._watched = watched
            self.client.watch(watched)

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
        """Refresh this session's pane at the fast rate."""
        pane = None if record is None else self._pane(record)
        self.client.focus(None if pane is None else pane.pane_id)

    def resize(self, record: SessionRecord, width: int, height: int) -> None:
        """Keep the agent's window exactly at its cell's size."""
        pane = self._pane(record)
        if (
            pane is not None
            and width > 0
            and height > 0
            and self.tmux.size_window(pane.pane_id, record.id, width, height)
        ):
            self.client.refresh(pane.pane_id)

    def send_key(self, record: SessionRecord, key: str, character: str | None) -> bool:
        """Type one key into the session's agent: over the control connection, or directly
        (checked by tmux) when that has not read the pane's tag; False when nothing was typed
        (the session has no pane tagged with its id)."""
        pane = self._pane(record)
        if pane is None:
            return False
        args = key_args(key, character)
        if args is None:
            return True  # a key tmux has no name for: nothing to type
        if self.client.connected.is_set() and self.client.send_keys(pane.pane_id, record.id, args):
            return True
        return self.tmux.send_keys_tagged(pane.pane_id, record.id, *args)

    def attach(self, record: SessionRecord) -> int | None:
        """Attach full-screen in this terminal until the user detaches; the exit status, or
        None when the session has no pane to attach to.

        Meanwhile the window follows the terminal's size; the caller sizes it back afterwards.
        """
        pane = self._pane(record)
        if pane is None or not self.tmux.follow_client_size(pane.pane_id, record.id):
            return None
        argv = self.tmux.attach_tagged_argv(pane)
        return subprocess.run(argv, check=False, env=clean_env()).returncode
