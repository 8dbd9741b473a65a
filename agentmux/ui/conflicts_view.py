"""The conflict radar on screen: the radar's reports mark the panes (``⚠ conflict``, ``≈ overlap``)
and announce new conflicts; the conflict panel (`c`) is opened on the focused session, kept
current, and given the radar to read hunks with (it reads them in its own worker).

:class:`ConflictsView` is one of the app's parts (the pattern is in :mod:`agentmux.ui.app`): the
app hands it the radar's ``ConflictsUpdated``; the radar runs in its own thread and only posts.
"""

from __future__ import annotations

from textual.app import App

from agentmux.core.errors import AgentmuxError
from agentmux.core.git.conflicts import ConflictReport, PairReport, Verdict, new_conflicts
from agentmux.core.git.merge_tree import Hunk
from agentmux.core.host import RadarWatcher
from agentmux.core.records import SessionRecord
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.conflict_screen import ConflictScreen
from agentmux.ui.main_screen import top_screen
from agentmux.ui.messages import ConflictsUpdated, CoreFailed
from agentmux.ui.panes import PaneGrid


class ConflictsView:
    """The radar's latest answer, and where it shows."""

    def __init__(self, app: App[None], manager: SessionManager, grid: PaneGrid) -> None:
        self.app = app
        self.manager = manager
        self.grid = grid
        self.radar: RadarWatcher | None = None
        #: The radar's latest report (None before its first).
        self.conflicts: ConflictReport | None = None

    def start(self) -> None:
        """In a worker thread: start the conflict radar (its own thread); its reports come back
        as messages."""
        try:
            watcher = self.manager.radar_watcher(
                lambda report: self.app.post_message(ConflictsUpdated(report))
            )
        except AgentmuxError as exc:
            self.app.post_message(CoreFailed(f"conflict radar: {exc.message}"))
            return
        latest = self.grid.latest
        if latest is not None:
            watcher.set_records([v.record for v in latest.sessions])
        watcher.start()
        self.radar = watcher

    def set_records(self, records: list[SessionRecord]) -> None:
        """The sessions to watch (from the reconcile worker's thread)."""
        if self.radar is not None:
            self.radar.set_records(records)

    def stop(self) -> None:
        """Stop the radar's thread."""
        if self.radar is not None:
            self.radar.stop()

    def updated(self, message: ConflictsUpdated) -> None:
        """Mark panes, tell about new conflicts, refresh an open conflict panel."""
        report = message.report
        fresh = new_conflicts(self.conflicts, report) if self.conflicts is not None else []
        self.conflicts = report
        for a, b, path in fresh[:3]:
            self.app.notify(f"new conflict: {a} × {b} in {path}", severity="warning", timeout=10)
        for pane in self.grid.panes.values():
            involved = report.involving(pane.record.name)
            if any(p.verdict is Verdict.CONFLICT for p in involved):
                pane.set_tag("conflict", "⚠ conflict")
            elif involved:
                pane.set_tag("conflict", "≈ overlap")
            else:
                pane.set_tag("conflict", "")
        top = top_screen(self.app)
        if isinstance(top, ConflictScreen):
            top.update_report(report)

    def read_hunks(self, pair: PairReport) -> dict[str, list[Hunk]] | None:
        """A pair's conflicting hunks, per file (git work: from a worker); None before the radar
        has started."""
        radar = self.radar
        return None if radar is None else radar.radar.hunks(pair)

    def open_panel(self) -> None:
        """Open the conflict panel, on the focused session's conflict if it has one."""
        pane = self.grid.focused_pane()
        focus = pane.record.name if pane else None
        self.app.push_screen(ConflictScreen(self.conflicts, focus, self.read_hunks))
