"""What the TUI needs from tmux, behind one object: live screens, sizes, keys, full-screen attach.

The UI layer never calls tmux; it drives a :class:`Mirror`. Calls that talk to tmux block for a few
milliseconds and belong on a worker thread; screens arrive through the ``on_screen`` callback from
the mirror's own threads.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from agentmux.core.control import VIEW_SESSION, ControlClient, Screen
from agentmux.core.records import SessionRecord
from agentmux.core.tmux import TmuxServer, clean_env, tmux_string

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


class Mirror:
    """Live screens of agent panes, and the controls the TUI applies to them."""

    def __init__(
        self,
        socket_path: Path,
        on_screen: Callable[[Screen], None],
        on_state: Callable[[str], None],
    ) -> None:
        self.tmux = TmuxServer(socket_path)
        self._on_state = on_state
        self.client = ControlClient(socket_path, on_screen, self._state_changed)
        self._linked: set[str] = set()
        self._watched: list[str] = []

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

    def show(self, records: list[SessionRecord]) -> None:
        """Mirror these sessions' panes; windows not yet in the view session are linked into it.

        Costs nothing when the set of sessions has not changed.
        """
        self.client.connected.wait(5)
        for record in records:
            window = record.tmux_window_id
            if window and window not in self._linked:
                self.tmux.link_window(window, VIEW_SESSION)
                self._linked.add(window)
        watched = [r.tmux_pane_id for r in records if r.tmux_pane_id]
        if watched != self._watched:
            self._watched = watched
            self.client.watch(watched)

    def last_output(self, record: SessionRecord) -> float | None:
        """``time.monotonic()`` when the session's agent last printed, as seen live, if it has."""
        if record.tmux_pane_id is None:
            return None
        return self.client.last_output(record.tmux_pane_id)

    def focus(self, pane_id: str | None) -> None:
        """Refresh this pane at the fast rate."""
        self.client.focus(pane_id)

    def resize(self, record: SessionRecord, width: int, height: int) -> None:
        """Keep the agent's window exactly at its cell's size."""
        if record.tmux_window_id and width > 0 and height > 0:
            self.tmux.size_window(record.tmux_window_id, width, height)
            if record.tmux_pane_id:
                self.client.refresh(record.tmux_pane_id)

    def send_key(self, pane_id: str, key: str, character: str | None) -> None:
        """Type one key into a pane: over the control connection, or directly while it is down."""
        name = tmux_key(key)
        literal = bool(character and len(character) == 1 and character.isprintable())
        if literal and "+" not in key:
            args = ["-l", character or ""]
        elif name is not None:
            args = [name]
        else:
            return
        if self.client.connected.is_set():
            words = " ".join(tmux_string(arg) for arg in args)
            sent = self.client.send(f"send-keys -t {pane_id} {words}")
            if sent.done() and sent.exception() is None:
                return
            if not sent.done():
                return
        self.tmux.send_keys(pane_id, *args)

    def attach(self, record: SessionRecord) -> int:
        """Attach full-screen in this terminal until the user detaches; the exit status.

        Meanwhile the window follows the terminal's size; the caller sizes it back afterwards.
        """
        if record.tmux_window_id:
            self.tmux.follow_client_size(record.tmux_window_id)
        argv = self.tmux.attach_argv(str(record.tmux_session_id))
        return subprocess.run(argv, check=False, env=clean_env()).returncode
