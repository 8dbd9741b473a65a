"""The agentmux TUI: up to nine live agent panes, keyboard-driven, fed by core events.

All tmux and git work happens in thread workers or in the core's own threads; results come back as
messages (:mod:`agentmux.ui.messages`). Workers never touch widgets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import ClassVar

import watchfiles
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Grid
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Static

from agentmux.core.agents.attention import is_waiting
from agentmux.core.agents.profiles import all_profiles, resolve_profile
from agentmux.core.errors import AgentmuxError
from agentmux.core.git.conflicts import ConflictReport, Verdict
from agentmux.core.git.radar_watch import RadarWatcher, new_conflicts
from agentmux.core.metrics.budgets import level
from agentmux.core.metrics.collector import SessionMetrics
from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.tmux.control import Screen as PaneScreen
from agentmux.core.tmux.mirror import Mirror
from agentmux.ui.conflict_screen import ConflictScreen, HunksLoaded, HunksRequested
from agentmux.ui.cost_screen import CostScreen
from agentmux.ui.layout import MAX_VISIBLE, grid_shape
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
from agentmux.ui.messages import SessionView as View
from agentmux.ui.modals import (
    BroadcastRequest,
    BroadcastScreen,
    ConfirmScreen,
    HelpScreen,
    NewSessionRequest,
    NewSessionScreen,
)
from agentmux.ui.pane_view import PaneView
from agentmux.ui.resume_flow import ResumeFlow, SessionsResumed, lost_names
from agentmux.ui.review_screen import ReviewScreen
from agentmux.ui.themes import DEFAULT_THEME, FALLBACK_VARIABLES, load_themes

LEAVE_INSERT = "ctrl+right_square_bracket"
LEAVE_INSERT_LABEL = "Ctrl+]"
EMPTY_TEXT = (
    "[b]No sessions yet.[/b]\n\n"
    "Press [b]n[/b] to start an agent in its own worktree and branch,\n"
    "or run [b]agentmux demo[/b] to see demo agents at work.\n\n"
    "[b]?[/b] lists every key, [b]q[/b] quits (agents keep running)."
)


class MainScreen(Screen[None]):
    """The grid. Its bindings are off while insert mode sends every key to an agent."""

    # The actions live on the app, which also turns them all off in insert mode.
    BINDINGS: ClassVar[list[BindingType]] = [
        *(Binding(str(n), f"app.focus_pane({n})", f"pane {n}", show=False) for n in range(1, 10)),
        Binding("tab", "app.cycle(1)", "next pane", show=False),
        Binding("shift+tab", "app.cycle(-1)", "previous pane", show=False),
        Binding("i,enter", "app.insert", "type"),
        Binding("z", "app.zoom", "zoom"),
        Binding("space", "app.select", "select", show=False),
        Binding("a", "app.attach", "attach"),
        Binding("n", "app.new", "new"),
        Binding("b", "app.broadcast", "broadcast"),
        Binding("x", "app.stop", "stop", show=False),
        Binding("d", "app.remove", "remove", show=False),
        Binding("w", "app.oldest_waiting", "waiting longest", show=False),
        Binding("c", "app.conflicts", "conflicts"),
        Binding("v", "app.review", "review"),
        Binding("r", "app.resume", "resume", show=False),
        Binding("m", "app.merge", "merge"),
        Binding("dollar_sign", "app.cost_panel", "cost"),
        Binding("question_mark", "app.help", "help"),
        Binding("q", "app.quit", "quit"),
    ]

    def on_mount(self) -> None:
        """Lay out whatever sessions arrived before the grid existed."""
        if isinstance(self.app, AgentmuxApp) and self.app.latest is not None:
            self.app.on_sessions_refreshed(self.app.latest)

    def compose(self) -> ComposeResult:
        """Grid, empty-state text, overflow line, footer."""
        yield Static(EMPTY_TEXT, id="empty")
        yield Grid(id="grid")
        yield Static("", id="overflow")
        yield Footer()


def spend_text(m: SessionMetrics) -> str:
    """Tokens and dollars for a pane title: ``12.3k tok $0.0456`` (``$?`` when unknown)."""
    if m.usage is None:
        return ""
    tokens = m.usage.total.total
    shown = f"{tokens / 1000:.1f}k" if tokens >= 1000 else str(tokens)
    cost = m.cost_usd
    dollars = "$?" if cost is None else f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"
    budget = {"warn": " ⚠", "reached": " ⛔"}.get(level(m.budget_used) or "", "")
    return f"{shown} tok {dollars}{budget}"


def help_rows() -> list[tuple[str, str]]:
    """Every binding, for the help screen and the docs."""
    return [
        ("1-9", "focus that pane"),
        ("Tab / Shift+Tab", "next / previous pane (mouse click works too)"),
        ("i or Enter", f"insert mode: every key goes to the agent; {LEAVE_INSERT_LABEL} leaves"),
        ("z", "zoom the focused pane to full size, and back"),
        ("space", "select the pane for a broadcast"),
        ("a", "attach full-screen (detach with C-b d to come back)"),
        ("n", "new session(s): agent, name, base, prompt, count"),
        ("b", "broadcast a prompt: all, selected, or every idle session"),
        ("x", "stop the focused agent"),
        ("d", "remove the focused session (never loses work)"),
        ("w", "jump to the session waiting for you longest (else the one idle longest)"),
        ("c", "conflict panel: which sessions collide, the files, the hunks side by side"),
        ("v", "review the focused session: changed files, diffs; C commits, m merges it"),
        ("r", "resume the focused session (lost, exited or stopped): same conversation"),
        ("m", "merge: show the plan (order, what is left out), then land it all or nothing"),
        ("$", "cost panel: spend, tokens, turns, failures, queue wait; spend over time"),
        ("Ctrl+P", "command palette"),
        ("?", "this help"),
        ("q", "quit (agents keep running)"),
    ]


class AgentmuxApp(App[None]):
    """Nine live agent panes over one repository."""

    TITLE = "agentmux"
    CSS = """
    #grid { grid-gutter: 0; height: 1fr; }
    #empty { height: 1fr; content-align: center middle; text-align: center; }
    #overflow { height: auto; color: $text-muted; padding: 0 1; }
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
        refresh_seconds: float = 5.0,
        mirror: bool = True,
        radar: bool = True,
        metrics_seconds: float = 2.0,
    ) -> None:
        # Textual asks for the theme variable defaults while it initialises: have them first.
        self._themes = load_themes()
        shipped = self._themes.themes.get(DEFAULT_THEME)
        self._variable_defaults = {**FALLBACK_VARIABLES, **(shipped.variables if shipped else {})}
        super().__init__()
        self.manager = manager
        self.refresh_seconds = refresh_seconds
        self.insert_mode = False
        self.zoomed = False
        self.selected: set[str] = set()
        self.views: dict[str, View] = {}
        self.panes: dict[str, PaneView] = {}
        self.connection = "connecting"
        self.last_status: dict[str, Status] = {}
        self.latest: SessionsRefreshed | None = None
        self._focused_once = False
        self._overflow_text = ""
        self._activity: dict[str, float] = {}  # session id -> monotonic time of last output
        self.waiting_since: dict[str, float] = {}  # session id -> when it began waiting for you
        self._profiles = all_profiles(manager.config)
        self.current: PaneView | None = None
        self._stop_watching = threading.Event()
        self._screens: dict[str, PaneScreen] = {}
        self._screens_lock = threading.Lock()
        self._attached = False
        self.insert_target: PaneView | None = None
        self._radar_wanted = radar
        self.metrics_seconds = metrics_seconds
        self.radar: RadarWatcher | None = None
        self.conflicts: ConflictReport | None = None
        self.metrics: dict[str, SessionMetrics] = {}
        self._collector = manager.metrics_collector()
        self._budget_warned: set[str] = set()
        self.merge_flow = MergeFlow(
            self, manager, lambda name: self._run_core(f"remove {name}", "remove", name)
        )
        self.resume_flow = ResumeFlow(self, manager)
        self.mirror = (
            Mirror(manager.tmux.socket_path, self._on_screen, self._on_state) if mirror else None
        )
        found = self._themes
        for loaded in found.themes.values():
            self.register_theme(loaded)
        self.theme_problems = list(found.problems)
        wanted = theme or DEFAULT_THEME
        if wanted not in found.themes and wanted not in self.available_themes:
            self.theme_problems.append(f"no theme named {wanted!r}; using {DEFAULT_THEME}")
            wanted = DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted

    # --- lifecycle ------------------------------------------------------------------------------

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """agentmux's own theme variables, for themes that do not set them (Textual's own)."""
        return dict(self._variable_defaults)

    def on_mount(self) -> None:
        """Show the grid, start mirroring and the periodic reconcile."""
        self.push_screen(MainScreen())
        for problem in self.theme_problems:
            self.notify(problem, severity="warning", timeout=8)
        if notice := self.manager.config.trust_notice:  # what `agentmux new` says on stderr
            self.notify(notice, severity="warning", timeout=15, markup=False)
        if self.mirror is not None:
            self.mirror.start()
        self.refresh_sessions()
        # Changes arrive as events (the state directory is watched); the poll is a backstop.
        self.set_interval(self.refresh_seconds, self.refresh_sessions)
        self.set_interval(1.0, self._relabel)
        self._watch_state()
        if self._radar_wanted:
            self._start_radar()
        self.set_interval(self.metrics_seconds, self._refresh_metrics)
        self._watch_transcripts()

    def on_unmount(self) -> None:
        """Disconnect; every agent keeps running."""
        self._stop_watching.set()
        if self.mirror is not None:
            self.mirror.stop()
        if self.radar is not None:
            self.radar.stop()

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
            self.post_message(OutputUpdated(screen))

    def _on_state(self, state: str) -> None:
        self.post_message(ConnectionChanged(state))

    # --- workers (no widgets touched here) -------------------------------------------------------

    @work(thread=True, exclusive=True, group="reconcile")
    def refresh_sessions(self) -> None:
        """Reconcile with tmux off the event loop; post what is true now."""
        try:
            records = self.manager.reconcile()
            panes = self.manager.last_panes
            now = time.monotonic()
            for record in records:
                idle = self.manager.idle_seconds(record, panes)
                if idle is None:
                    self._activity.pop(record.id, None)
                else:
                    self._activity[record.id] = now - idle
        except AgentmuxError as exc:
            self.post_message(CoreFailed(exc.message))
            return
        if self.mirror is not None:
            self.mirror.show(panes)
        if self.radar is not None:
            self.radar.set_records(records)
        views = [View(r, self._quiet(r), r.id in self.waiting_since) for r in records]
        self.post_message(SessionsRefreshed(views))

    def _quiet(self, record: SessionRecord) -> float | None:
        """Seconds since the agent last printed: tmux's record, updated live by the mirror."""
        last = self._activity.get(record.id)
        if self.mirror is not None:
            live = self.mirror.last_output(record)
            if live is not None and (last is None or live > last):
                last = live
        return None if last is None else max(0.0, time.monotonic() - last)

    @work(thread=True, group="watch")
    def _watch_state(self) -> None:
        """Post StateChanged whenever agentmux's state directory changes (coalesced)."""
        for _changes in watchfiles.watch(
            self.manager.home,
            stop_event=self._stop_watching,
            debounce=150,
            step=100,
            rust_timeout=1000,
            raise_interrupt=False,
        ):
            self.post_message(StateChanged())

    def on_state_changed(self, _message: StateChanged) -> None:
        """Another process (or an agent's wrapper) changed the state: reconcile now."""
        self.refresh_sessions()

    @work(thread=True, group="radar")
    def _start_radar(self) -> None:
        """Start the conflict radar (its own thread); its reports come back as messages."""
        try:
            watcher = RadarWatcher(
                self.manager.conflict_radar(),
                self.manager.repo.common_dir,
                lambda report: self.post_message(ConflictsUpdated(report)),
            )
        except AgentmuxError as exc:
            self.post_message(CoreFailed(f"conflict radar: {exc.message}"))
            return
        if self.latest is not None:
            watcher.set_records([v.record for v in self.latest.sessions])
        watcher.start()
        self.radar = watcher

    @work(thread=True, exclusive=True, group="metrics")
    def _refresh_metrics(self) -> None:
        """Read what the agents' transcripts gained (incrementally) and enforce budgets."""
        latest = self.latest
        if latest is None:
            return
        try:
            self.manager.deliver_held_all()
            metrics = self.manager.metrics([v.record for v in latest.sessions], self._collector)
            stopped = self.manager.enforce_budgets(metrics)
        except AgentmuxError as exc:
            self.post_message(CoreFailed(f"metrics: {exc.message}"))
            return
        self.post_message(MetricsUpdated(metrics, stopped))

    @work(thread=True, group="watch-transcripts")
    def _watch_transcripts(self) -> None:
        """Post TranscriptsChanged when an agent writes to its transcript (coalesced); the 2 s
        refresh stays as the backstop for directories that do not exist yet."""
        records = self.manager.sessions()
        roots = [p for p in self._collector.transcript_roots(records) if p.is_dir()]
        if not roots:
            return
        for _changes in watchfiles.watch(
            *roots,
            stop_event=self._stop_watching,
            debounce=300,
            step=100,
            rust_timeout=1000,
            raise_interrupt=False,
        ):
            self.post_message(TranscriptsChanged())

    def on_transcripts_changed(self, _message: TranscriptsChanged) -> None:
        """Read what the agents just wrote."""
        self._refresh_metrics()

    def on_metrics_updated(self, message: MetricsUpdated) -> None:
        """Spend in each pane's title; budget warnings and stops said once."""
        self.metrics = {m.record.id: m for m in message.metrics}
        top = self._top_screen()
        if isinstance(top, CostScreen):
            top.update_metrics(message.metrics)
        for name in message.stopped:
            self.notify(
                f"{name} reached its budget: interrupted; no more prompts go to it",
                severity="error",
                timeout=15,
            )
        for m in message.metrics:
            self._follow_activity(m)
            pane = self.panes.get(m.record.id)
            if pane is not None:
                pane.set_tag("spend", spend_text(m))
            if level(m.budget_used) == "warn" and m.record.id not in self._budget_warned:
                self._budget_warned.add(m.record.id)
                self.notify(
                    f"{m.record.name} has spent 80% of its ${m.budget_usd} budget",
                    severity="warning",
                    timeout=10,
                )

    def _top_screen(self) -> Screen[object] | None:
        """The screen on top, or None while the app is starting or shutting down (a message
        from a worker can arrive then)."""
        return self.screen_stack[-1] if self.screen_stack else None

    def _follow_activity(self, m: SessionMetrics) -> None:
        """Waiting for you (a question, a failure), from the agent's own events when it reports
        them; an agent idle after a finished turn is idle, not marked."""
        act = m.activity
        sid = m.record.id
        if not act.known or act.needs_answer == (sid in self.waiting_since):
            return
        if act.needs_answer:
            self.waiting_since[sid] = time.monotonic() - (act.waiting_current or 0.0)
            self.notify(f"{m.record.name} is waiting for you", severity="warning", timeout=10)
            self._signal(f"agentmux: {m.record.name} is waiting for you")
        else:
            self.waiting_since.pop(sid, None)
        self._relabel()

    def on_conflicts_updated(self, message: ConflictsUpdated) -> None:
        """Mark panes, tell about new conflicts, refresh an open conflict panel."""
        report = message.report
        fresh = new_conflicts(self.conflicts, report) if self.conflicts is not None else []
        self.conflicts = report
        for a, b, path in fresh[:3]:
            self.notify(f"new conflict: {a} × {b} in {path}", severity="warning", timeout=10)
        for pane in self.panes.values():
            involved = report.involving(pane.record.name)
            if any(p.verdict is Verdict.CONFLICT for p in involved):
                pane.set_tag("conflict", "⚠ conflict")
            elif involved:
                pane.set_tag("conflict", "≈ overlap")
            else:
                pane.set_tag("conflict", "")
        top = self._top_screen()
        if isinstance(top, ConflictScreen):
            top.update_report(report)

    def on_hunks_requested(self, message: HunksRequested) -> None:
        """The conflict panel wants a pair's hunks: read them off the loop."""
        self._load_hunks(message)

    @work(thread=True, exclusive=True, group="hunks")
    def _load_hunks(self, message: HunksRequested) -> None:
        radar = self.radar
        if radar is None:
            return
        try:
            hunks = radar.radar.hunks(message.pair)
        except AgentmuxError as exc:
            self.post_message(CoreFailed(f"conflict hunks: {exc.message}"))
            return
        self.post_message(HunksLoaded(message.pair, hunks))

    def on_hunks_loaded(self, message: HunksLoaded) -> None:
        """Hand the hunks to the conflict panel if it is still open."""
        top = self._top_screen()
        if isinstance(top, ConflictScreen):
            top.show_hunks(message)

    def action_cost_panel(self) -> None:
        """Open the cost panel (fed by the same metrics refresh as the pane titles)."""
        self.push_screen(CostScreen(list(self.metrics.values()) if self.metrics else None))

    def action_conflicts(self) -> None:
        """Open the conflict panel, on the focused session's conflict if it has one."""
        pane = self.focused_pane()
        self.push_screen(ConflictScreen(self.conflicts, pane.record.name if pane else None))

    def action_review(self) -> None:
        """Review the focused session: its changed files and their diffs; commit, merge."""
        if pane := self.focused_pane():
            record = pane.record
            self.push_screen(
                ReviewScreen(self.manager, record.name, record.branch, self.merge_flow.start)
            )

    def action_resume(self) -> None:
        """Resume the focused session: its agent continues its conversation."""
        if pane := self.focused_pane():
            self.resume_flow.resume([pane.record.name])

    def action_resume_lost(self) -> None:
        """Resume every lost session."""
        self.resume_flow.resume(lost_names(list(self.views.values())))

    def on_sessions_resumed(self, message: SessionsResumed) -> None:
        """Each session's outcome, in the core's words."""
        self.resume_flow.resumed(message)

    def action_merge(self) -> None:
        """Plan a merge of every session off the loop; the plan is shown before anything lands."""
        self.merge_flow.start(None)

    def on_merge_planned(self, message: MergePlanned) -> None:
        """Offer to commit work in progress first, else show the plan (lands only on yes)."""
        self.merge_flow.planned(message)

    def on_merge_landed(self, message: MergeLanded) -> None:
        """Say what landed; offer to remove the merged sessions."""
        self.merge_flow.landed(message)

    def _relabel(self) -> None:
        """Working or idle, from the mirror's output times: no tmux call, no redraw if unchanged."""
        if self.mirror is None:
            return
        for number, pane in enumerate(self.panes.values(), start=1):
            view = View(pane.record, self._quiet(pane.record), pane.record.id in self.waiting_since)
            pane.update_view(view, number, self.manager.config.idle_seconds)
            self.views[pane.record.id] = view

    @work(thread=True, group="core")
    def _run_core(self, label: str, operation: str, *args: object) -> None:
        """Run one SessionManager operation in a thread; report its outcome."""
        try:
            getattr(self.manager, operation)(*args)
        except AgentmuxError as exc:
            self.post_message(CoreFailed(f"{label}: {exc.message}"))
        except Exception as exc:  # a worker error must not take the TUI down
            self.post_message(CoreFailed(f"{label} failed: {exc}"))
        self.post_message(StateChanged())

    @work(thread=True, group="core")
    def _paste(self, name: str, data: bytes) -> None:
        """A paste in insert mode: typed into the agent as one bracketed paste, not submitted."""
        try:
            self.manager.send(name, data, submit=False)
        except Exception as exc:  # a worker error must not take the TUI down
            self.post_message(CoreFailed(f"paste: {exc}"))

    @work(thread=True, group="core")
    def _create(self, request: NewSessionRequest) -> None:
        prompt = request.prompt.encode() if request.prompt else None
        made = []
        for n in range(1, request.count + 1):
            name = request.name if request.count == 1 or not request.name else f"{request.name}-{n}"
            self.post_message(Progress(f"starting session {n} of {request.count}…"))
            try:
                made.append(
                    self.manager.create(
                        agent=request.agent,
                        name=name,
                        prompt=prompt,
                        base=request.base,
                        deliver=False,
                    )
                )
            except AgentmuxError as exc:
                self.post_message(CoreFailed(f"new session: {exc.message}"))
                break
            self.post_message(StateChanged())
        for record in made:
            try:
                self.manager.deliver_prompt(record.id)
            except Exception as exc:  # a worker error must not take the TUI down
                self.post_message(CoreFailed(f"prompt for {record.name}: {exc}"))

    @work(thread=True, group="core")
    def _broadcast(self, request: BroadcastRequest, names: list[str]) -> None:
        try:
            to = ",".join(names) if request.to == "selected" else request.to
            reached = self.manager.broadcast(request.text.encode(), to)
        except AgentmuxError as exc:
            self.post_message(CoreFailed(f"broadcast: {exc.message}"))
            return
        self.post_message(Progress(f"sent to {len(reached)}: {', '.join(reached) or '-'}"))

    @work(thread=True, group="resize")
    def _resize(self, pane: PaneView, width: int, height: int) -> None:
        if self.mirror is not None:
            self.mirror.resize(pane.record, width, height)

    # --- messages -------------------------------------------------------------------------------

    def on_output_updated(self, _message: OutputUpdated) -> None:
        """A pane's screen changed: draw it, and notice an agent that starts waiting for you."""
        with self._screens_lock:
            screens, self._screens = self._screens, {}
        for pane in self.panes.values():
            screen = screens.get(pane.record.id)
            if screen is not None and pane.record.status is not Status.LOST:
                pane.update_screen(screen)
                self._check_waiting(pane, screen.rows)

    def _check_waiting(self, pane: PaneView, rows: tuple[str, ...]) -> None:
        record = pane.record
        known = self.metrics.get(record.id)
        if known is not None and known.activity.known:
            return  # the agent reports its own state through hooks: the screen is a fallback
        profile = self._profiles.get(record.agent)
        waiting = profile is not None and is_waiting(profile, rows)
        if waiting == (record.id in self.waiting_since):
            return
        if waiting:
            self.waiting_since[record.id] = time.monotonic()
            self.notify(f"{record.name} is waiting for you", severity="warning", timeout=10)
            self._signal(f"agentmux: {record.name} is waiting for you")
        else:
            self.waiting_since.pop(record.id, None)
        self._relabel()

    def _signal(self, text: str) -> None:
        """Get the user's attention the configured way: bell, or a desktop notification."""
        how = self.manager.config.attention
        if how == "bell":
            self.bell()
        elif how in ("osc9", "osc777") and self._driver is not None:
            clean = "".join(ch for ch in text if ch.isprintable() and ch != ";")
            # OSC 9 (iTerm2, WezTerm, Windows Terminal) and OSC 777 (urxvt, foot, kitty). Textual
            # has no public call for them; it writes its own OSC 52 the same way.
            sequence = (
                f"\x1b]9;{clean}\x07"
                if how == "osc9"
                else (f"\x1b]777;notify;agentmux;{clean}\x07")
            )
            self._driver.write(sequence)

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        """The tmux connection went up or down."""
        if message.state == "disconnected" and self.connection == "connected":
            self.notify("lost the connection to tmux; reconnecting…", severity="error")
        elif message.state == "connected" and self.connection == "disconnected":
            self.notify("reconnected to tmux")
            self.refresh_sessions()  # the view session may be new: link the windows again
        self.connection = message.state

    def on_progress(self, message: Progress) -> None:
        """Show how a long operation is going."""
        self.notify(message.text, timeout=3)

    def on_core_failed(self, message: CoreFailed) -> None:
        """Show a core failure's one sentence."""
        self.notify(message.reason, severity="error", timeout=8)

    def on_sessions_refreshed(self, message: SessionsRefreshed) -> None:
        """Lay out the panes for the current sessions and tell about changes."""
        if message is not self.latest:
            self._announce(message.sessions)
        first = self.latest is None
        self.latest = message
        if first:
            self._refresh_metrics()  # spend in the titles at once, not after the first interval
        self.views = {v.record.id: v for v in message.sessions}
        self.call_later(self.resume_flow.offer_once, message.sessions)  # after the layout
        screen = self.screen_stack[-1] if self.screen_stack else None
        if not isinstance(screen, MainScreen) or not screen.query("#grid"):
            return  # MainScreen.on_mount applies it
        visible = message.sessions[:MAX_VISIBLE]
        grid = screen.query_one("#grid", Grid)
        wanted = {v.record.id for v in visible}
        for session_id in [s for s in self.panes if s not in wanted]:
            gone = self.panes.pop(session_id)
            if gone is self.insert_target:
                self.set_insert(False)
                self.notify(f"{gone.record.name} left the grid; insert mode ended")
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
        self._apply_layout()
        if visible and not self._focused_once:
            # Once only: a later refresh must never take the focus from where the user put it.
            self._focused_once = True
            self.action_focus_pane(1)

    def _announce(self, sessions: Iterable[View]) -> None:
        for view in sessions:
            record = view.record
            before = self.last_status.get(record.id)
            self.last_status[record.id] = record.status
            if before is None or before == record.status:
                continue
            if record.status is Status.EXITED and record.exit_status not in (0, None):
                self.notify(
                    f"{record.name} exited with status {record.exit_status}",
                    severity="error",
                    timeout=10,
                )
                self._signal(f"agentmux: {record.name} needs you")
            elif record.status is Status.LOST:
                self.notify(
                    f"{record.name} was lost: its tmux session is gone (r resumes it)",
                    severity="error",
                    timeout=10,
                )
                self._signal(f"agentmux: {record.name} needs you")
            elif record.status is Status.RUNNING and before is Status.QUEUED:
                self.notify(f"{record.name} left the queue and started")

    def _apply_layout(self) -> None:
        screen = self.screen_stack[-1] if self.screen_stack else None
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

    @on(PaneView.Resized)
    def _pane_resized(self, message: PaneView.Resized) -> None:
        pane = self.panes.get(message.record.id)
        if pane is not None:
            self._resize(pane, message.width, message.height)

    @on(PaneView.Clicked)
    def _pane_clicked(self, message: PaneView.Clicked) -> None:
        if not self.insert_mode:
            self.select_pane(message.pane)

    # --- actions --------------------------------------------------------------------------------

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
            self._apply_layout()

    def action_focus_pane(self, number: int) -> None:
        """Focus pane ``number`` if there is one."""
        panes = list(self.panes.values())
        if 1 <= number <= len(panes):
            self.select_pane(panes[number - 1])

    def action_cycle(self, step: int) -> None:
        """Focus the next or previous pane."""
        panes = list(self.panes.values())
        if not panes:
            return
        current = self.focused_pane()
        index = panes.index(current) if current in panes else -1
        self.action_focus_pane((index + step) % len(panes) + 1)

    def set_insert(self, on: bool) -> None:
        """Enter or leave insert mode."""
        pane = self.focused_pane()
        if on and (pane is None or pane.record.status is not Status.RUNNING):
            self.notify("focus a running session first")
            return
        self.insert_mode = on
        self.insert_target = pane if on else None
        for each in self.panes.values():
            each.set_class(on and each is pane, "-insert")
            each.show_cursor = on and each is pane
            each.refresh()
        if on:
            self.notify(
                f"insert mode: keys go to the agent; {LEAVE_INSERT_LABEL} leaves", timeout=3
            )
        self.screen.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The leave-insert chord exists (and shows in the footer) only in insert mode."""
        if action == "leave_insert":
            return self.insert_mode
        # In insert mode every other key (Ctrl+P and Ctrl+Q included) belongs to the agent.
        return not self.insert_mode

    def action_insert(self) -> None:
        """Type into the focused agent."""
        self.set_insert(True)

    def action_help(self) -> None:
        """List every key."""
        self.push_screen(HelpScreen(help_rows()))

    def action_leave_insert(self) -> None:
        """The escape chord."""
        if self.insert_mode:
            self.set_insert(False)

    def on_key(self, event: events.Key) -> None:
        """In insert mode every key goes to the focused agent."""
        pane = self.insert_target
        if not self.insert_mode or pane is None or self.mirror is None:
            return
        if not isinstance(self.screen, MainScreen):
            return  # a dialog on top has the keys
        if event.key == LEAVE_INSERT:
            return
        event.stop()
        event.prevent_default()
        record = pane.record
        if record.status is not Status.RUNNING or not self.mirror.send_key(
            record, event.key, event.character
        ):
            self._refuse_keys(pane)

    def _refuse_keys(self, pane: PaneView) -> None:
        """Keys for a session that is not running reach nothing: say so, and stop typing."""
        record = pane.record
        state = "lost" if record.status is Status.LOST else "not running"
        self.set_insert(False)
        self.notify(
            f"{record.name} is {state}: nothing typed reaches it; insert mode ended",
            severity="warning",
        )

    def on_paste(self, event: events.Paste) -> None:
        """A paste in insert mode arrives in the agent as one bracketed paste."""
        pane = self.insert_target
        if self.insert_mode and pane is not None:
            self._paste(pane.record.name, event.text.encode())
            event.stop()

    def action_zoom(self) -> None:
        """Zoom in or out."""
        self.zoomed = not self.zoomed and self.focused_pane() is not None
        self._apply_layout()

    def action_select(self) -> None:
        """Select or unselect the focused pane."""
        pane = self.focused_pane()
        if pane is None:
            return
        self.selected ^= {pane.record.id}
        pane.set_class(pane.record.id in self.selected, "-selected")

    def action_new(self) -> None:
        """The new-session form."""
        profiles = sorted(all_profiles(self.manager.config))
        default = resolve_profile(self.manager.config, None).name

        def started(request: NewSessionRequest | None) -> None:
            if request is not None:
                self._create(request)

        self.push_screen(NewSessionScreen(profiles, default), started)

    def action_broadcast(self) -> None:
        """The broadcast form."""
        names = [v.record.name for v in self.views.values() if v.record.id in self.selected]

        def send(request: BroadcastRequest | None) -> None:
            if request is not None:
                self._broadcast(request, names)

        self.push_screen(BroadcastScreen(len(names)), send)

    def action_stop(self) -> None:
        """Ask, then stop the focused agent."""
        self._confirm_then("stop", "Stop the agent of [b]{name}[/b]?")

    def action_remove(self) -> None:
        """Ask, then remove the focused session (the core refuses to lose work)."""
        self._confirm_then(
            "remove",
            "Remove [b]{name}[/b]? Its worktree goes; its branch stays. A session with a running "
            "agent or unmerged work is refused (use `agentmux rm --force`).",
        )

    def _confirm_then(self, operation: str, question: str) -> None:
        """Ask ``question`` about the focused session; on yes, run the core ``operation``."""
        pane = self.focused_pane()
        if pane is None:
            return
        name = pane.record.name

        def answer(yes: bool | None) -> None:
            if yes:
                self._run_core(f"{operation} {name}", operation, name)

        self.push_screen(ConfirmScreen(question.format(name=name)), answer)

    def action_oldest_waiting(self) -> None:
        """Jump to the session waiting for you the longest, else the one quiet the longest."""
        waiting = [(since, sid) for sid, since in self.waiting_since.items() if sid in self.panes]
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

    def action_attach(self) -> None:
        """Hand the terminal to a full-screen tmux attach; come back as we were."""
        pane = self.focused_pane()
        if pane is None or self.mirror is None:
            return
        if not self.mirror.has_pane(pane.record):
            self.notify(f"{pane.record.name} has no tmux session to attach to", severity="warning")
            return
        self._attached = True
        try:
            with self.suspend():
                self.mirror.attach(pane.record)
        finally:
            self._attached = False
        for each in self.panes.values():
            self._resize(each, each.size.width, each.size.height)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette offers every action."""
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):  # the screen the palette was opened on
            return
        for title, help_text, callback in (
            ("New session", "start agents in new worktrees", self.action_new),
            ("Broadcast", "send one prompt to several sessions", self.action_broadcast),
            ("Zoom", "zoom the focused pane", self.action_zoom),
            ("Insert mode", "type into the focused agent", self.action_insert),
            ("Attach", "attach full-screen to the focused session", self.action_attach),
            ("Stop", "stop the focused agent", self.action_stop),
            ("Remove", "remove the focused session", self.action_remove),
            (
                "Waiting longest",
                "jump to the session waiting for you longest",
                self.action_oldest_waiting,
            ),
            ("Conflicts", "which sessions collide, down to the hunk", self.action_conflicts),
            ("Review", "the focused session's changed files and diffs", self.action_review),
            ("Resume session", "bring back the focused session's agent", self.action_resume),
            ("Resume all lost sessions", "after a reboot: every lost one", self.action_resume_lost),
            ("Merge", "plan and land a merge of the ready sessions", self.action_merge),
            ("Cost", "spend, failures and queue wait per session", self.action_cost_panel),
            ("Help", "list every key", self.action_help),
        ):
            yield SystemCommand(title, help_text, callback)
