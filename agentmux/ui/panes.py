"""The grid of live panes: the session list reconciled with tmux, each pane's screen from the
mirror, the layout (1 to 9 cells, zoom, the overflow line), which pane is focused or selected,
full-screen attach, and insert mode, where every key goes to the focused agent.

:class:`PaneGrid` is one of the app's parts (the pattern is in :mod:`agentmux.ui.app`): the app
hands it the session list, the screens, the connection's state, the panes' events, keys and
pastes. Its reconcile runs in a worker thread and only posts messages; the mirror's callbacks
(from the mirror's thread) only keep the latest screens and post.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial

from textual import events
from textual.app import App
from textual.containers import Grid
from textual.widgets import Static

from agentmux.core.errors import AgentmuxError
from agentmux.core.host import Screen as PaneScreen
from agentmux.core.records import LOCAL_HOST, SessionRecord, Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.attention import Attention
from agentmux.ui.host_links import HostLinks
from agentmux.ui.layout import MAX_VISIBLE, grid_shape
from agentmux.ui.main_screen import LEAVE_INSERT, LEAVE_INSERT_LABEL, MainScreen, top_screen
from agentmux.ui.messages import (
    ConnectionChanged,
    CoreFailed,
    OutputUpdated,
    SessionsRefreshed,
)
from agentmux.ui.messages import SessionView as View
from agentmux.ui.pane_view import PaneView

#: How often the grid asks other hosts how their sessions are (their panes are live regardless).
REMOTE_EVERY_SECONDS = 5.0


class PaneGrid:
    """The panes of the sessions on screen, and the keys that go to them."""

    def __init__(
        self,
        app: App[None],
        manager: SessionManager,
        attention: Attention,
        *,
        mirror: bool,
        refresh: Callable[[], object],
    ) -> None:
        """``refresh`` reconciles again (the app's worker)."""
        self.app = app
        self.manager = manager
        self.attention = attention
        self._refresh = refresh
        #: Session id -> its pane, in grid order.
        self.panes: dict[str, PaneView] = {}
        #: Session id -> what the UI shows about it (every session, on the grid or not).
        self.views: dict[str, View] = {}
        self.selected: set[str] = set()
        self.current: PaneView | None = None
        self.insert_mode = False
        self.insert_target: PaneView | None = None
        self.zoomed = False
        self.connection = "connecting"
        self.last_status: dict[str, Status] = {}
        self.latest: SessionsRefreshed | None = None
        self._focused_once = False
        self._overflow_text = ""
        self._activity: dict[str, float] = {}  # session id -> monotonic time of last output
        self._screens: dict[str, PaneScreen] = {}
        self._screens_lock = threading.Lock()
        self._attached = False
        # Pastes on their way to an agent (typed from a worker), and keys typed meanwhile, held
        # so they reach the agent after the paste: an Enter must not overtake the text it submits.
        self._pastes = 0
        self._after_paste: list[tuple[PaneView, str, str | None]] = []
        self.mirror = manager.cockpit_mirror(self._on_screen, self._on_state) if mirror else None
        self.hosts = HostLinks(app, self._host_problem, refresh)
        self.sets_sizes: Callable[[], bool] = lambda: True  # see agentmux.ui.size_rule

    def start(self) -> None:
        """Start mirroring the agents' screens (nothing without a mirror)."""
        if self.mirror is not None:
            self.mirror.start()

    def stop(self) -> None:
        """Disconnect from tmux; every agent keeps running."""
        if self.mirror is not None:
            self.mirror.stop()

    # --- the mirror's thread ----------------------------------------------------------------

    def _on_screen(self, screen: PaneScreen) -> None:
        """From the mirror's thread: keep the latest screen per pane, post once per batch.

        While the TUI is suspended (a full-screen attach) nothing is queued at all.
        """
        if self._attached:
            return
        with self._screens_lock:
            first = not self._screens
            # Keyed by the session whose tag the pane had when captured, never by pane id.
            self._screens[screen.agentmux_id] = screen
        if first:
            self.app.post_message(OutputUpdated(screen))

    def _on_state(self, host: str, state: str) -> None:
        self.app.post_message(ConnectionChanged(state, host))

    def _host_problem(self, host: str) -> str | None:
        return self.mirror.problem(host) if self.mirror is not None else None

    # --- workers (no widgets touched here) ---------------------------------------------------

    def ask_hosts(self) -> None:
        """In a worker thread: ask the hosts how their sessions are when the last answer is
        older than ``REMOTE_EVERY_SECONDS`` (an answer that changed something is a state change,
        which reconciles the grid)."""
        self.manager.remote.recent(REMOTE_EVERY_SECONDS)

    def reconcile(self, records_seen: Callable[[list[SessionRecord]], None]) -> None:
        """In a worker thread: reconcile with tmux; post what is true now. ``records_seen`` gets
        the records first (the conflict radar follows them)."""
        try:
            records = self.manager.reconcile(drain=not self.manager.read_only)
            records += self.manager.remote.recent(REMOTE_EVERY_SECONDS)
            panes = self.manager.last_panes
            now = time.monotonic()
            for record in records:
                idle = self.manager.idle_seconds(record, panes)
                if idle is None:
                    self._activity.pop(record.id, None)
                else:
                    self._activity[record.id] = now - idle
        except AgentmuxError as exc:
            self.app.post_message(CoreFailed(exc.message))
            return
        if self.mirror is not None:
            self.mirror.show(panes)
        records_seen(records)
        views = [View(r, self.quiet(r), self.attention.is_waiting(r.id)) for r in records]
        self.app.post_message(SessionsRefreshed(views))

    def quiet(self, record: SessionRecord) -> float | None:
        """Seconds since the agent last printed: tmux's record, updated live by the mirror."""
        last = self._activity.get(record.id)
        if self.mirror is not None:
            live = self.mirror.last_output(record)
            if live is not None and (last is None or live > last):
                last = live
        return None if last is None else max(0.0, time.monotonic() - last)

    def _resize(self, pane: PaneView, width: int, height: int) -> None:
        if not self.sets_sizes():
            return  # another cockpit was used last: it sizes the windows
        work = partial(self._resize_in_thread, pane, width, height)
        self.app.run_worker(work, thread=True, group="resize")

    def _resize_in_thread(self, pane: PaneView, width: int, height: int) -> None:
        if self.mirror is not None:
            self.mirror.resize(pane.record, width, height)

    def _paste(self, name: str, data: bytes) -> None:
        """A paste in insert mode: typed into the agent as one bracketed paste, not submitted;
        keys typed before it lands wait for it."""
        self._pastes += 1

        def work() -> None:
            try:
                self._paste_in_thread(name, data)
            finally:
                with contextlib.suppress(RuntimeError):  # the app has stopped meanwhile
                    self.app.call_from_thread(self._pasted)

        self.app.run_worker(work, thread=True, group="core")

    def _pasted(self) -> None:
        """A paste landed: type the keys that waited for it, in order."""
        self._pastes -= 1
        if self._pastes == 0:
            waiting, self._after_paste = self._after_paste, []
            for pane, key, character in waiting:
                self._type(pane, key, character)

    def _paste_in_thread(self, name: str, data: bytes) -> None:
        try:
            self.manager.send(name, data, submit=False)
        except Exception as exc:  # a worker error must not take the TUI down
            self.app.post_message(CoreFailed(f"paste: {exc}"))

    # --- messages ------------------------------------------------------------------------------

    def take(self, message: SessionsRefreshed) -> bool:
        """Tell about status changes and keep the list; True for the first list."""
        if message is not self.latest:
            self._announce(message.sessions)
        first = self.latest is None
        self.latest = message
        self.views = {v.record.id: v for v in message.sessions}
        return first

    def lay_out(self, message: SessionsRefreshed) -> None:
        """Lay out the panes for the current sessions (once the grid exists)."""
        screen = top_screen(self.app)
        parts = ("#grid", "#empty", "#overflow")
        if not isinstance(screen, MainScreen) or not all(screen.query(p) for p in parts):
            # Not composed yet (MainScreen.on_mount applies it), or being torn down at exit.
            return
        visible = message.sessions[:MAX_VISIBLE]
        grid = screen.query_one("#grid", Grid)
        wanted = {v.record.id for v in visible}
        for session_id in [s for s in self.panes if s not in wanted]:
            gone = self.panes.pop(session_id)
            if gone is self.insert_target:
                self.set_insert(False)
                self.app.notify(f"{gone.record.name} left the grid; insert mode ended")
            if gone is self.current:
                self.current = None
            gone.remove()
        for number, view in enumerate(visible, start=1):
            pane = self.panes.get(view.record.id)
            if pane is None:
                pane = PaneView(view, number)
                self.panes[view.record.id] = pane
                grid.mount(pane)
            pane.update_view(view, number, self.manager.config.idle_seconds)
            pane.set_class(view.record.id in self.selected, "-selected")
        target = self.insert_target
        if target is not None and target.record.status is not Status.RUNNING:
            self._refuse_keys(target)  # it went lost (or ended) while typing into it
        screen.query_one("#empty").set_class(bool(visible), "-hidden")
        grid.set_class(not visible, "-hidden")
        extra = message.sessions[MAX_VISIBLE:]
        overflow_text = (
            "also: " + ", ".join(f"{v.record.name} ({v.record.status})" for v in extra)
            if extra
            else ""
        )
        if overflow_text != self._overflow_text:
            self._overflow_text = overflow_text
            screen.query_one("#overflow", Static).update(overflow_text)
        self.apply_layout()
        if visible and not self._focused_once:
            # Once only: a later refresh must never take the focus from where the user put it.
            self._focused_once = True
            self.focus_pane(1)

    def _announce(self, sessions: Iterable[View]) -> None:
        for view in sessions:
            record = view.record
            before = self.last_status.get(record.id)
            self.last_status[record.id] = record.status
            if before is None or before == record.status:
                continue
            if record.status is Status.EXITED and record.exit_status not in (0, None):
                self.app.notify(
                    f"{record.name} exited with status {record.exit_status}",
                    severity="error",
                    timeout=10,
                )
                self.attention.signal(f"agentmux: {record.name} needs you")
            elif record.status is Status.LOST:
                self.app.notify(
                    f"{record.name} was lost: its tmux session is gone (r resumes it)",
                    severity="error",
                    timeout=10,
                )
                self.attention.signal(f"agentmux: {record.name} needs you")
            elif record.status is Status.RUNNING and before is Status.QUEUED:
                self.app.notify(f"{record.name} left the queue and started")

    def apply_layout(self) -> None:
        """Grid size for the number of panes; only the focused one while zoomed."""
        screen = top_screen(self.app)
        if not isinstance(screen, MainScreen):
            return
        grid = screen.query_one("#grid", Grid)
        focused = self.focused_pane()
        panes = list(self.panes.values())
        zoomed = self.zoomed and focused is not None
        for pane in panes:
            shown = not zoomed or pane is focused
            if pane.display != shown:
                pane.display = shown
        columns, rows = grid_shape(1 if zoomed else len(panes))
        if (grid.styles.grid_size_columns, grid.styles.grid_size_rows) != (columns, rows):
            grid.styles.grid_size_columns = columns
            grid.styles.grid_size_rows = rows

    def output_updated(self) -> None:
        """Screens changed: draw them, and notice an agent that starts waiting for you."""
        with self._screens_lock:
            screens, self._screens = self._screens, {}
        for pane in self.panes.values():
            screen = screens.get(pane.record.id)
            if screen is not None and pane.record.status is not Status.LOST:
                pane.update_screen(screen)
                if self.attention.check_screen(pane.record, screen.rows):
                    self.relabel()

    def relabel(self) -> None:
        """Working or idle, from the mirror's output times: no tmux call, no redraw if unchanged."""
        if self.mirror is None:
            return
        for number, pane in enumerate(self.panes.values(), start=1):
            record = pane.record
            view = View(record, self.quiet(record), self.attention.is_waiting(record.id))
            pane.update_view(view, number, self.manager.config.idle_seconds)
            self.views[record.id] = view

    def connection_changed(self, state: str, host: str = LOCAL_HOST) -> None:
        """A tmux connection (this machine's, or a host's) went up or down."""
        if host != LOCAL_HOST:
            self.hosts.changed(host, state)
            return
        if state == "disconnected" and self.connection == "connected":
            self.app.notify("lost the connection to tmux; reconnecting…", severity="error")
        elif state == "connected" and self.connection == "disconnected":
            self.app.notify("reconnected to tmux")
            self._refresh()  # the view session may be new: link the windows again
        self.connection = state

    def pane_resized(self, message: PaneView.Resized) -> None:
        """Keep the agent's tmux window at its cell's size."""
        pane = self.panes.get(message.record.id)
        if pane is not None:
            self._resize(pane, message.width, message.height)

    def pane_clicked(self, message: PaneView.Clicked) -> None:
        """A click focuses the pane (not while typing into another)."""
        if not self.insert_mode:
            self.select_pane(message.pane)

    # --- focus, zoom, selection, attach ----------------------------------------------------------

    def focused_pane(self) -> PaneView | None:
        """The current pane (known at once; Textual applies a focus change a moment later)."""
        if self.current is not None and self.current.record.id in self.panes:
            return self.current
        return None

    def select_pane(self, pane: PaneView) -> None:
        """Make ``pane`` the current one: keys, zoom and actions apply to it from now on."""
        self.current = pane
        pane.focus()
        for each in self.panes.values():
            each.set_class(each is pane, "-focused")
        if self.mirror is not None:
            self.mirror.focus(pane.record)
        if self.zoomed:
            self.apply_layout()

    def focus_pane(self, number: int) -> None:
        """Focus pane ``number`` if there is one."""
        panes = list(self.panes.values())
        if 1 <= number <= len(panes):
            self.select_pane(panes[number - 1])

    def cycle(self, step: int) -> None:
        """Focus the next or previous pane."""
        panes = list(self.panes.values())
        if not panes:
            return
        current = self.focused_pane()
        index = panes.index(current) if current in panes else -1
        self.focus_pane((index + step) % len(panes) + 1)

    def zoom(self) -> None:
        """Zoom in or out."""
        self.zoomed = not self.zoomed and self.focused_pane() is not None
        self.apply_layout()

    def select(self) -> None:
        """Select or unselect the focused pane."""
        pane = self.focused_pane()
        if pane is None:
            return
        self.selected ^= {pane.record.id}
        pane.set_class(pane.record.id in self.selected, "-selected")

    def oldest_waiting(self) -> None:
        """Jump to the session waiting for you the longest, else the one quiet the longest."""
        since = self.attention.waiting_since
        waiting = [(at, sid) for sid, at in since.items() if sid in self.panes]
        if waiting:
            self.select_pane(self.panes[min(waiting)[1]])
            return
        idle = [
            (v.idle_seconds or 0.0, sid)
            for sid, v in self.views.items()
            if v.idle_seconds is not None and sid in self.panes
        ]
        if idle:
            self.select_pane(self.panes[max(idle)[1]])

    def attach(self) -> None:
        """Hand the terminal to a full-screen tmux attach; come back as we were."""
        pane = self.focused_pane()
        if pane is None or self.mirror is None:
            return
        if not self.mirror.has_pane(pane.record):
            self.app.notify(
                f"{pane.record.name} has no tmux session to attach to", severity="warning"
            )
            return
        self._attached = True
        try:
            with self.app.suspend():
                self.mirror.attach(pane.record)
        finally:
            self._attached = False
        self.resize_all()

    def resize_all(self) -> None:
        """Size every agent's window to its cell again."""
        for each in self.panes.values():
            self._resize(each, each.size.width, each.size.height)

    # --- insert mode ---------------------------------------------------------------------------

    def set_insert(self, on: bool) -> None:
        """Enter or leave insert mode."""
        pane = self.focused_pane()
        if on and (pane is None or pane.record.status is not Status.RUNNING):
            self.app.notify("focus a running session first")
            return
        self.insert_mode = on
        self.insert_target = pane if on else None
        for each in self.panes.values():
            each.set_class(on and each is pane, "-insert")
            each.show_cursor = on and each is pane
            each.refresh()
        if on:
            self.app.notify(
                f"insert mode: keys go to the agent; {LEAVE_INSERT_LABEL} leaves", timeout=3
            )
        self.app.screen.refresh_bindings()

    def leave_insert(self) -> None:
        """Leave insert mode (if in it)."""
        if self.insert_mode:
            self.set_insert(False)

    def key(self, event: events.Key) -> None:
        """In insert mode every key goes to the focused agent."""
        pane = self.insert_target
        if not self.insert_mode or pane is None or self.mirror is None:
            return
        if not isinstance(self.app.screen, MainScreen):
            return  # a dialog on top has the keys
        if event.key == LEAVE_INSERT:
            return
        event.stop()
        event.prevent_default()
        if self._pastes:
            self._after_paste.append((pane, event.key, event.character))
        else:
            self._type(pane, event.key, event.character)

    def _type(self, pane: PaneView, key: str, character: str | None) -> None:
        """Type one key into the pane's agent, or say it reaches nothing."""
        record = pane.record
        if self.mirror is None or pane is not self.insert_target:
            return  # insert mode ended (or moved) while the key waited for a paste
        if record.status is not Status.RUNNING or not self.mirror.send_key(record, key, character):
            self._refuse_keys(pane)

    def _refuse_keys(self, pane: PaneView) -> None:
        """Keys for a session that is not running reach nothing: say so, and stop typing."""
        record = pane.record
        state = "lost" if record.status is Status.LOST else "not running"
        self.set_insert(False)
        self.app.notify(
            f"{record.name} is {state}: nothing typed reaches it; insert mode ended",
            severity="warning",
        )

    def paste(self, event: events.Paste) -> None:
        """A paste in insert mode arrives in the agent as one bracketed paste."""
        pane = self.insert_target
        if self.insert_mode and pane is not None:
            self._paste(pane.record.name, event.text.encode())
            event.stop()
