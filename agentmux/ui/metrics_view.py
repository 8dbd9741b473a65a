"""What the agents spent and report, on screen: the metrics refresh (read incrementally from the
agents' transcripts whenever a transcript is written, and on a timer as a backstop), spend in
each pane's title, budget warnings and stops, and the cost panel (`$`). The activity the agents
report through their hooks (waiting for you or not) goes on to :mod:`agentmux.ui.attention`.

:class:`MetricsView` is one of the app's parts (the pattern is in :mod:`agentmux.ui.app`): the
app hands it :class:`~agentmux.ui.messages.MetricsUpdated`; its workers only read the core and post
messages.
"""

from __future__ import annotations

import threading
from pathlib import Path

import watchfiles
from textual.app import App

from agentmux.core.errors import AgentmuxError
from agentmux.core.metrics.budgets import level
from agentmux.core.metrics.collector import SessionMetrics
from agentmux.core.records import LOCAL_HOST
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.attention import Attention
from agentmux.ui.cost_screen import CostScreen
from agentmux.ui.main_screen import top_screen
from agentmux.ui.messages import CoreFailed, MetricsUpdated, TranscriptsChanged
from agentmux.ui.panes import PaneGrid

#: How often the transcript watch looks for directories that appeared (seconds).
ROOTS_SECONDS = 5.0


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


class MetricsView:
    """Per-session metrics, their place on screen, and the budgets they enforce."""

    def __init__(
        self, app: App[None], manager: SessionManager, grid: PaneGrid, attention: Attention
    ) -> None:
        self.app = app
        self.manager = manager
        self.grid = grid
        self.attention = attention
        #: Session id -> its latest metrics.
        self.metrics: dict[str, SessionMetrics] = {}
        self._collector = manager.metrics_collector()
        self._budget_warned: set[str] = set()

    def refresh(self) -> None:
        """In a worker thread: read what the agents' transcripts gained (incrementally) and
        enforce budgets."""
        latest = self.grid.latest
        if latest is None:
            return
        try:
            # A read-only cockpit types no held prompt and stops no agent: it only shows.
            changes = not self.manager.read_only
            if changes:
                self.manager.deliver_held_all()
            # This machine's sessions: a host measures its own (`agentmux cost` asks it).
            here = [v.record for v in latest.sessions if v.record.host == LOCAL_HOST]
            metrics = self.manager.metrics(here, self._collector)
            stopped = self.manager.enforce_budgets(metrics) if changes else []
        except AgentmuxError as exc:
            self.app.post_message(CoreFailed(f"metrics: {exc.message}"))
            return
        self.app.post_message(MetricsUpdated(metrics, stopped))

    def watch_transcripts(self, stop: threading.Event) -> None:
        """In a worker thread: post TranscriptsChanged when an agent writes to its transcript
        (coalesced), until ``stop``. Where the agents write is looked at again every few
        seconds: a directory that appears later (an agent's first run, a session with its own
        profile environment) is watched from then on, so the timed refresh is only a backstop."""
        while not stop.is_set():
            roots = self._transcript_roots()
            if not roots:
                stop.wait(ROOTS_SECONDS)
                continue
            for changes in watchfiles.watch(
                *roots,
                stop_event=stop,
                debounce=300,
                step=250,
                rust_timeout=int(ROOTS_SECONDS * 1000),
                yield_on_timeout=True,
                raise_interrupt=False,
            ):
                if changes:
                    self.app.post_message(TranscriptsChanged())
                elif self._transcript_roots() != roots:
                    self.app.post_message(TranscriptsChanged())  # what it missed meanwhile
                    break

    def _transcript_roots(self) -> list[Path]:
        """The transcript directories that exist now, for the sessions last seen."""
        latest = self.grid.latest
        records = (
            [v.record for v in latest.sessions if v.record.host == LOCAL_HOST]
            if latest is not None
            else self.manager.sessions()
        )
        return [p for p in self._collector.transcript_roots(records) if p.is_dir()]

    def updated(self, message: MetricsUpdated) -> None:
        """Spend in each pane's title; budget warnings and stops said once."""
        self.metrics = {m.record.id: m for m in message.metrics}
        self.attention.reporting(message.metrics)
        top = top_screen(self.app)
        if isinstance(top, CostScreen):
            top.update_metrics(message.metrics)
        for name in message.stopped:
            self.app.notify(
                f"{name} reached its budget: interrupted; no more prompts go to it",
                severity="error",
                timeout=15,
            )
        for m in message.metrics:
            if self.attention.follow_activity(m):
                self.grid.relabel()
            pane = self.grid.panes.get(m.record.id)
            if pane is not None:
                pane.set_tag("spend", spend_text(m))
            if level(m.budget_used) == "warn" and m.record.id not in self._budget_warned:
                self._budget_warned.add(m.record.id)
                self.app.notify(
                    f"{m.record.name} has spent 80% of its ${m.budget_usd} budget",
                    severity="warning",
                    timeout=10,
                )

    def open_panel(self) -> None:
        """Open the cost panel (fed by the same metrics refresh as the pane titles)."""
        self.app.push_screen(CostScreen(list(self.metrics.values()) if self.metrics else None))
