"""The agentmux TUI: up to nine live agent panes, keyboard-driven, fed by core events.

This module is the shell: screens, bindings, lifecycle, and the wiring of the app's parts. The
app is the one receiver of every message and the one owner of every action (Textual routes them
here); each handler and action hands its work, in one line, to the part that owns it, so a reader
finds the logic by the part's name and Textual's routing stays where Textual looks for it:

- ``grid`` (:mod:`~agentmux.ui.panes`): sessions reconciled, screens drawn, layout, focus, zoom,
  selection, attach, insert mode and its keys;
- ``attention`` (:mod:`~agentmux.ui.attention`): who waits for you, and the bell;
- ``metrics_view`` (:mod:`~agentmux.ui.metrics_view`): spend, budgets, the cost panel;
- ``conflicts_view`` (:mod:`~agentmux.ui.conflicts_view`): the radar, the conflict panel;
- ``session_actions`` (:mod:`~agentmux.ui.session_actions`): new, broadcast, stop, remove, review;
- ``merge_flow`` (:mod:`~agentmux.ui.merge_flow`) and ``resume_flow``
  (:mod:`~agentmux.ui.resume_flow`): merging and resuming sessions.

A part is a plain class holding its own state, given the app (to notify, push screens, post
messages and run workers) and the parts it reads. Its thread workers call the core and only post
messages; no widget is touched off the event loop. The live feeds (reconcile, state watch, radar,
metrics, transcript watch) are started here as ``@work`` methods over the parts' code, so a test's
app can replace them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.attention import Attention
from agentmux.ui.client_mode import READ_ONLY_NOTICE, ClientMode, exit_with_server
from agentmux.ui.conflicts_view import ConflictsView
from agentmux.ui.cost_screen import CostScreen
from agentmux.ui.main_screen import (
    LEAVE_INSERT,
    LEAVE_INSERT_LABEL,
    PALETTE,
    MainScreen,
    help_rows,
    refused_action,
    top_screen,
)
from agentmux.ui.merge_flow import MergeFlow, MergeLanded, MergePlanned
from agentmux.ui.messages import (
    ConflictsUpdated,
    ConnectionChanged,
    CoreFailed,
    MetricsUpdated,
    OutputUpdated,
    Progress,
    SessionsRefreshed,
    StateChanged,
    TranscriptsChanged,
)
from agentmux.ui.metrics_view import MetricsView
from agentmux.ui.modals import HelpScreen
from agentmux.ui.pane_view import PaneView
from agentmux.ui.panes import REMOTE_EVERY_SECONDS, PaneGrid
from agentmux.ui.resume_flow import ResumeFlow, SessionsResumed, lost_names
from agentmux.ui.session_actions import SessionActions
from agentmux.ui.size_rule import SizeRule
from agentmux.ui.state_watch import watch_state
from agentmux.ui.themes import DEFAULT_THEME, FALLBACK_VARIABLES, load_themes, use_themes

__all__ = ["LEAVE_INSERT", "AgentmuxApp"]

#: How often the metrics are refreshed while the cost panel is open (seconds).
PANEL_METRICS_SECONDS = 2.0


class AgentmuxApp(App[None]):
    """Nine live agent panes over one repository."""

    TITLE = "agentmux"
    CSS = """
    #grid { grid-gutter: 0; height: 1fr; }
    #empty { height: 1fr; content-align: center middle; text-align: center; }
    #overflow { height: auto; color: $text-muted; padding: 0 1; }
    #mode { dock: top; height: 1; padding: 0 1; background: $warning; color: $background; }
    .-hidden { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(LEAVE_INSERT, "leave_insert", f"leave insert ({LEAVE_INSERT_LABEL})", priority=True)
    ]

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Show a notification; its text is literal (it carries paths, names and git's words,
        which Textual would read as markup), unless a caller asks for markup."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def __init__(
        self,
        manager: SessionManager,
        *,
        theme: str | None = None,
        refresh_seconds: float = 15.0,
        mirror: bool = True,
        radar: bool = True,
        metrics_seconds: float = 10.0,
        web: bool = False,
        read_only: bool = False,
    ) -> None:
        # Textual asks for the theme variable defaults while it initialises: have them first.
        self._themes = load_themes()
        shipped = self._themes.themes.get(DEFAULT_THEME)
        self._variable_defaults = {**FALLBACK_VARIABLES, **(shipped.variables if shipped else {})}
        super().__init__()
        self.manager = manager
        #: In a browser (``agentmux serve``), read-only: what this cockpit may do.
        self.client_mode = ClientMode(web=web, read_only=read_only)
        manager.read_only = manager.read_only or read_only  # the core refuses changes too
        self.size_rule = SizeRule(Path(f"{manager.host.socket}.sizes"), passive=read_only)
        self.refresh_seconds = refresh_seconds
        self.metrics_seconds = metrics_seconds
        self._metrics_at = time.monotonic()
        self._radar_wanted = radar
        self._stop_watching = threading.Event()
        self.attention = Attention(self, manager)
        self.grid = PaneGrid(
            self, manager, self.attention, mirror=mirror, refresh=self.refresh_sessions
        )
        self.grid.sets_sizes = self.size_rule.sets_sizes
        self.metrics_view = MetricsView(self, manager, self.grid, self.attention)
        self.conflicts_view = ConflictsView(self, manager, self.grid)
        self.session_actions = SessionActions(self, manager, self.grid)
        self.merge_flow = MergeFlow(self, manager, self.session_actions.remove_now)
        self.resume_flow = ResumeFlow(self, manager)
        self.theme_problems = use_themes(self, self._themes, theme)

    # --- lifecycle ------------------------------------------------------------------------------

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """agentmux's own theme variables, for themes that do not set them (Textual's own)."""
        return dict(self._variable_defaults)

    def on_mount(self) -> None:
        """Show the grid, start mirroring and the periodic reconcile."""
        read_only = self.client_mode.read_only
        self.push_screen(MainScreen(self._grid_mounted, READ_ONLY_NOTICE if read_only else ""))
        self.size_rule.claim()  # a cockpit that opens is the latest one used
        if self.client_mode.web:
            exit_with_server(self)
        self.set_interval(1.0, self._take_free_sizes)
        for problem in self.theme_problems:
            self.notify(problem, severity="warning", timeout=8)
        if notice := self.manager.config.trust_notice:  # what `agentmux new` says on stderr
            self.notify(notice, severity="warning", timeout=15, markup=False)
        self.grid.start()
        self.refresh_sessions()
        # Changes arrive as events (the state directory is watched); the poll is a backstop.
        self.set_interval(self.refresh_seconds, self.refresh_sessions)
        self.set_interval(REMOTE_EVERY_SECONDS, self._ask_hosts)
        self.set_interval(1.0, self.grid.relabel)
        self._watch_state()
        if self._radar_wanted:
            self._start_radar()
        self.set_interval(PANEL_METRICS_SECONDS, self._metrics_due)
        self._watch_transcripts()

    def on_unmount(self) -> None:
        """Disconnect; every agent keeps running."""
        self._stop_watching.set()
        self.size_rule.release()
        self.grid.stop()
        self.conflicts_view.stop()

    def _grid_mounted(self) -> None:
        """Lay out whatever sessions arrived before the grid existed."""
        if self.grid.latest is not None:
            self.on_sessions_refreshed(self.grid.latest)

    # --- the live feeds: workers over the parts' code (a test's app replaces them) ------------

    @work(thread=True, exclusive=True, group="reconcile")
    def refresh_sessions(self) -> None:
        """Reconcile with tmux off the event loop; post what is true now."""
        self.grid.reconcile(self.conflicts_view.set_records)

    @work(thread=True, exclusive=True, group="hosts")
    def _ask_hosts(self) -> None:
        self.grid.ask_hosts()

    @work(thread=True, group="watch")
    def _watch_state(self) -> None:
        watch_state(self, self.manager.home, self._stop_watching)

    @work(thread=True, group="radar")
    def _start_radar(self) -> None:
        self.conflicts_view.start()

    def _metrics_due(self) -> None:
        """The metrics backstop (transcript writes refresh them at once): every
        ``metrics_seconds``, and every couple of seconds while the cost panel, whose times grow
        as you look, is open."""
        panel = isinstance(top_screen(self), CostScreen)
        if panel or time.monotonic() - self._metrics_at >= self.metrics_seconds:
            self._refresh_metrics()

    @work(thread=True, exclusive=True, group="metrics")
    def _refresh_metrics(self) -> None:
        self._metrics_at = time.monotonic()
        self.metrics_view.refresh()

    @work(thread=True, group="watch-transcripts")
    def _watch_transcripts(self) -> None:
        self.metrics_view.watch_transcripts(self._stop_watching)

    # --- messages -------------------------------------------------------------------------------

    def on_sessions_refreshed(self, message: SessionsRefreshed) -> None:
        """Lay out the panes for the current sessions and tell about changes."""
        if self.grid.take(message):
            self._refresh_metrics()  # spend in the titles at once, not after the first interval
        if self.client_mode.allows("resume"):
            self.call_later(self.resume_flow.offer_once, message.sessions)  # after the layout
        self.grid.lay_out(message)

    def on_output_updated(self, _message: OutputUpdated) -> None:
        """Panes' screens changed: the grid draws them."""
        self.grid.output_updated()

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        """The tmux connection went up or down."""
        self.grid.connection_changed(message.state, message.host)

    def on_state_changed(self, _message: StateChanged) -> None:
        """Another process (or an agent's wrapper) changed the state: reconcile now."""
        self.refresh_sessions()

    def on_transcripts_changed(self, _message: TranscriptsChanged) -> None:
        """Read what the agents just wrote."""
        self._refresh_metrics()

    def on_metrics_updated(self, message: MetricsUpdated) -> None:
        """Spend in each pane's title; budget warnings and stops said once."""
        self.metrics_view.updated(message)

    def on_conflicts_updated(self, message: ConflictsUpdated) -> None:
        """Mark panes, tell about new conflicts, refresh an open conflict panel."""
        self.conflicts_view.updated(message)

    def on_sessions_resumed(self, message: SessionsResumed) -> None:
        """Each session's outcome, in the core's words."""
        self.resume_flow.resumed(message)

    def on_merge_planned(self, message: MergePlanned) -> None:
        """Offer to commit work in progress first, else show the plan (lands only on yes)."""
        self.merge_flow.planned(message)

    def on_merge_landed(self, message: MergeLanded) -> None:
        """Say what landed; offer to remove the merged sessions."""
        self.merge_flow.landed(message)

    def on_progress(self, message: Progress) -> None:
        """Show how a long operation is going."""
        self.notify(message.text, timeout=3)

    def on_core_failed(self, message: CoreFailed) -> None:
        """Show a core failure's one sentence."""
        self.notify(message.reason, severity="error", timeout=8)

    # --- which cockpit sizes the agents' windows (agentmux.ui.size_rule) --------------------------

    def _used(self) -> None:
        """The user acts in this cockpit: it sets the agents' window sizes from now on."""
        if self.size_rule.claim():
            self.grid.resize_all()

    def _take_free_sizes(self) -> None:
        if self.size_rule.claim_if_free():
            self.grid.resize_all()

    @on(events.AppFocus)
    @on(events.MouseDown)
    @on(events.Resize)
    def _activity(self) -> None:
        self._used()

    @on(PaneView.Resized)
    def _pane_resized(self, message: PaneView.Resized) -> None:
        self.grid.pane_resized(message)

    @on(PaneView.Clicked)
    def _pane_clicked(self, message: PaneView.Clicked) -> None:
        self.grid.pane_clicked(message)

    def on_key(self, event: events.Key) -> None:
        """In insert mode every key goes to the focused agent."""
        self._used()
        self.grid.key(event)
        refused = refused_action(event.key) if isinstance(self.screen, MainScreen) else None
        if refused and not self.client_mode.allows(refused):
            self.notify(self.client_mode.why_not(refused), severity="warning", timeout=3)

    def on_paste(self, event: events.Paste) -> None:
        """A paste in insert mode arrives in the agent as one bracketed paste."""
        self.grid.paste(event)

    # --- actions (bound on MainScreen) ----------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The leave-insert chord exists (and shows in the footer) only in insert mode."""
        if not self.client_mode.allows(action):
            return False  # hidden from the footer, never run
        if action == "leave_insert":
            return self.grid.insert_mode
        # In insert mode every other key (Ctrl+P and Ctrl+Q included) belongs to the agent.
        return not self.grid.insert_mode

    def action_focus_pane(self, number: int) -> None:
        """Focus pane ``number`` if there is one."""
        self.grid.focus_pane(number)

    def action_cycle(self, step: int) -> None:
        """Focus the next or previous pane."""
        self.grid.cycle(step)

    def action_insert(self) -> None:
        """Type into the focused agent."""
        self.grid.set_insert(True)

    def action_leave_insert(self) -> None:
        """The escape chord."""
        self.grid.leave_insert()

    def action_zoom(self) -> None:
        """Zoom in or out."""
        self.grid.zoom()

    def action_select(self) -> None:
        """Select or unselect the focused pane."""
        self.grid.select()

    def action_oldest_waiting(self) -> None:
        """Jump to the session waiting for you the longest, else the one quiet the longest."""
        self.grid.oldest_waiting()

    def action_attach(self) -> None:
        """Hand the terminal to a full-screen tmux attach; come back as we were."""
        self.grid.attach()

    def action_new(self) -> None:
        """The new-session form."""
        self.session_actions.new()

    def action_broadcast(self) -> None:
        """The broadcast form."""
        self.session_actions.broadcast()

    def action_stop(self) -> None:
        """Ask, then stop the focused agent."""
        self.session_actions.stop()

    def action_remove(self) -> None:
        """Ask, then remove the focused session (the core refuses to lose work)."""
        self.session_actions.remove()

    def action_review(self) -> None:
        """Review the focused session: its changed files and their diffs; commit, merge."""
        self.session_actions.review(self.merge_flow.start)

    def action_resume(self) -> None:
        """Resume the focused session: its agent continues its conversation."""
        if pane := self.grid.focused_pane():
            self.resume_flow.resume([pane.record.name])

    def action_resume_lost(self) -> None:
        """Resume every lost session."""
        self.resume_flow.resume(lost_names(list(self.grid.views.values())))

    def action_merge(self) -> None:
        """Plan a merge of every session off the loop; the plan is shown before anything lands."""
        self.merge_flow.start(None)

    def action_conflicts(self) -> None:
        """Open the conflict panel, on the focused session's conflict if it has one."""
        self.conflicts_view.open_panel()

    def action_cost_panel(self) -> None:
        """Open the cost panel."""
        self.metrics_view.open_panel()

    def action_help(self) -> None:
        """List every key (those this cockpit offers)."""
        self.push_screen(HelpScreen(help_rows(self.client_mode.allows)))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette offers every action."""
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):  # the screen the palette was opened on
            return
        for title, help_text, action in PALETTE:
            if self.client_mode.allows(action):
                yield SystemCommand(title, help_text, getattr(self, f"action_{action}"))
