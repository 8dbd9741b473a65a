"""The cost panel (`$`): the `agentmux cost` table, live, each session's spend over time, and the
conflict rate between sessions (`agentmux conflicts --stats`).

It formats the metrics the app hands it (pricing their samples is pure computation); the conflict
statistics it reads itself, from the state store, in a worker thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from rich.markup import escape
from rich.style import Style
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import ModalScreen
from textual.theme import Theme
from textual.widgets import DataTable, Footer, Sparkline, Static

from agentmux.core.errors import AgentmuxError
from agentmux.core.metrics.budgets import level
from agentmux.core.metrics.collector import SessionMetrics
from agentmux.core.metrics.conflict_stats import COLUMNS as CONFLICT_COLUMNS
from agentmux.core.metrics.conflict_stats import (
    ConflictStats,
    conflict_stats,
    session_cells,
    summary_lines,
)
from agentmux.core.metrics.cost_report import (
    COLUMNS,
    row,
    row_from_json,
    seconds_text,
    total_row,
    total_row_of_rows,
    usd_text,
)
from agentmux.core.metrics.prices import cost_of, price_source
from agentmux.core.metrics.usage import UsageSample
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.state import StateStore

BUCKETS = 48
"""Equal time slices a session's life is cut into for its chart."""
TOTAL_KEY = "__total__"
#: Row keys of sessions on other hosts (their spend is their host's ``cost --json``).
REMOTE_KEY = "__host__:"
#: How often the panel asks the hosts how much their sessions spent (one ``cost`` there each).
REMOTE_COST_SECONDS = 30.0
"""Row key of the total row (session ids are UUIDs, so it cannot clash)."""
NO_TRANSCRIPT = "no transcript yet: spend unknown"
CONFLICTS_TITLE = "[b]conflicts between sessions[/b]"
NO_HISTORY = "conflict rate unknown: this panel has no repository's history to read"
CONFLICT_REFRESH_SECONDS = 2.0

# Row mark -> component class of CostTable giving that row's style.
_ROW_CLASS = {
    "warn": "cost-table--warn",
    "reached": "cost-table--reached",
    "total": "cost-table--total",
}


@dataclass(frozen=True)
class SpendSeries:
    """Cumulative spend over equal time slices: 0 at ``start``, then at the end of each slice.

    ``points`` is empty when there is nothing honest to plot: no response yet (``total`` is 0),
    or a response of a model without a price (``unknown_models`` names it, ``total`` is None).
    """

    start: datetime | None
    end: datetime | None
    points: tuple[Decimal, ...]
    total: Decimal | None
    responses: int
    unknown_models: frozenset[str] = frozenset()


def sample_cost(sample: UsageSample) -> Decimal | None:
    """One response's USD at the prices in force when it was made; None if unpriced."""
    return cost_of(sample.model, sample.usage, sample.time, speed=sample.speed)


def spend_series(
    samples: Sequence[UsageSample],
    costs: Sequence[Decimal | None] | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    buckets: int = BUCKETS,
) -> SpendSeries:
    """``samples``' cumulative cost over ``buckets`` equal slices of the span from ``start``
    (default: the first response) to ``end`` (default: the last), each response at its own
    time's prices; ``costs`` are those prices when already known, in the order of ``samples``.
    """
    if costs is None:
        costs = [sample_cost(s) for s in samples]
    if not samples:
        return SpendSeries(start, end, (), Decimal(0), 0)
    times = [s.time for s in samples]
    first = min([*times, start] if start else times)
    last = max([*times, end] if end else times)
    priced = [(s, c) for s, c in zip(samples, costs, strict=True) if c is not None]
    if len(priced) < len(samples):
        unknown = frozenset(s.model for s, c in zip(samples, costs, strict=True) if c is None)
        return SpendSeries(first, last, (), None, len(samples), unknown)
    span = (last - first).total_seconds()
    per_slice = [Decimal(0)] * buckets
    for sample, cost in priced:
        share = (sample.time - first).total_seconds() / span if span > 0 else 0.0
        per_slice[min(buckets - 1, int(share * buckets))] += cost
    points = [Decimal(0)]
    for spent in per_slice:
        points.append(points[-1] + spent)
    return SpendSeries(first, last, tuple(points), points[-1], len(samples))


def _clock(when: datetime, day: bool) -> str:
    local = when.astimezone()
    return local.strftime("%Y-%m-%d %H:%M") if day else local.strftime("%H:%M")


def caption(series: SpendSeries | None) -> str:
    """A chart's caption: the time span and the total, or why there is no chart."""
    if series is None:
        return NO_TRANSCRIPT
    plural = "" if series.responses == 1 else "s"
    responses = f"{series.responses} response{plural}"
    if series.unknown_models:
        models = ", ".join(sorted(series.unknown_models))
        return f"cost unknown: no price for {models} · {responses}"
    if series.start is None or series.end is None or not series.responses:
        return f"no API response yet: {usd_text(Decimal(0))}"
    same_day = series.start.astimezone().date() == series.end.astimezone().date()
    span = seconds_text((series.end - series.start).total_seconds())
    when = f"{_clock(series.start, True)} → {_clock(series.end, not same_day)} ({span})"
    return f"{when} · {usd_text(series.total)} · {responses}"


class CostTable(DataTable[Text]):
    """The cost table; its component classes style rows near or over budget, and the total."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {*_ROW_CLASS.values()}
    DEFAULT_CSS = """
    CostTable { height: auto; max-height: 40%; }
    CostTable > .cost-table--warn { color: $warning; }
    CostTable > .cost-table--reached { color: $error; text-style: bold; }
    CostTable > .cost-table--total { text-style: bold; }
    """

    def row_style(self, mark: str | None) -> Style:
        """The style of a row marked ``warn``, ``reached`` or ``total`` (none for None)."""
        if mark is None:
            return Style()
        return self.get_component_rich_style(_ROW_CLASS[mark], partial=True)


class ConflictStatsLoaded(Message):
    """The conflict statistics were read (or why they could not be)."""

    def __init__(self, stats: ConflictStats | None, error: str | None) -> None:
        super().__init__()
        self.stats = stats
        self.error = error


class RemoteCostsLoaded(Message):
    """The spend of the sessions on other hosts was read (their hosts' ``cost --json`` rows; a
    host not reached gives rows whose figures are unknown)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.rows = rows


class CostScreen(ModalScreen[None]):
    """What each session spent, as `agentmux cost` shows it, and how its spend grew."""

    DEFAULT_CSS = """
    CostScreen { align: center middle; }
    CostScreen > Vertical {
        width: 98%; height: 94%; border: round $primary; background: $panel; padding: 0 1;
    }
    CostScreen #source { height: auto; color: $text-muted; }
    CostScreen #chart-title { height: 1; margin-top: 1; }
    CostScreen #chart { height: 6; }
    CostScreen #chart-caption { height: auto; color: $text-muted; }
    CostScreen #strips-title { height: 1; margin-top: 1; }
    CostScreen #strips { height: 1fr; }
    CostScreen .strip { height: 1; }
    CostScreen .strip-name { width: 20; }
    CostScreen .strip Sparkline { width: 1fr; }
    CostScreen .strip-caption { width: 64; padding-left: 1; color: $text-muted; }
    CostScreen #conflicts-summary { height: auto; margin-top: 1; }
    CostScreen #conflicts { height: auto; max-height: 25%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,dollar_sign", "close", "Close")]

    def __init__(
        self,
        metrics: list[SessionMetrics] | None,
        conflicts: Callable[[], ConflictStats] | None = None,
    ) -> None:
        super().__init__()
        self.metrics = metrics
        #: Reads the conflict statistics (run in a worker); None: from the app's state store.
        self.conflict_source = conflicts
        self.conflict_stats: ConflictStats | None = None
        """The conflict statistics shown (None: not read yet, or unreadable)."""
        self.remote_rows: list[dict[str, Any]] = []
        """The sessions on other hosts, as their hosts last reported their spend."""
        self.series: SpendSeries | None = None
        """The series charted for the highlighted row (None: no transcript)."""
        self._source = price_source()
        self._cells: dict[str, tuple[tuple[str, ...], str | None]] = {}
        self._strips: dict[str, tuple[Sparkline, Static]] = {}
        # Per session: how many samples were priced, the last of them, and their prices.
        self._priced: dict[str, tuple[int, UsageSample | None, list[Decimal | None]]] = {}

    def compose(self) -> ComposeResult:
        """Price source, table, the highlighted row's chart, one strip per session."""
        with Vertical():
            yield Static("", id="source")
            yield CostTable(id="costs", cursor_type="row", zebra_stripes=True)
            yield Static("", id="chart-title")
            yield Sparkline([], id="chart")
            yield Static("", id="chart-caption")
            yield Static(f"{CONFLICTS_TITLE} · reading the history…", id="conflicts-summary")
            yield DataTable[Text](id="conflicts", cursor_type="none", zebra_stripes=True)
            yield Static("[b]every session[/b]", id="strips-title")
            yield VerticalScroll(id="strips")
        yield Footer()

    def on_mount(self) -> None:
        """Lay out the columns and fill everything from the latest metrics."""
        table = self.query_one(CostTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.app.theme_changed_signal.subscribe(self, self._restyle)
        self._refresh()
        self._load_remote_costs()
        self.set_interval(REMOTE_COST_SECONDS, self._load_remote_costs)
        conflicts = self.query_one("#conflicts", DataTable)
        conflicts.can_focus = False
        for column in CONFLICT_COLUMNS:
            conflicts.add_column(column, key=column)
        if self.conflict_source is None:
            store = getattr(getattr(self.app, "manager", None), "store", None)
            if isinstance(store, StateStore):
                self.conflict_source = lambda: conflict_stats(store)
        if self.conflict_source is None:
            self.query_one("#conflicts-summary", Static).update(f"{CONFLICTS_TITLE} · {NO_HISTORY}")
            return
        self._load_conflicts()
        self.set_interval(CONFLICT_REFRESH_SECONDS, self._load_conflicts)

    @work(thread=True, exclusive=True, group="remote-costs")
    def _load_remote_costs(self) -> None:
        """Ask the hosts for their sessions' spend, off the loop (nothing when none runs
        elsewhere); it comes back as a message."""
        manager = getattr(self.app, "manager", None)
        if not isinstance(manager, SessionManager) or not manager.store.remote_sessions():
            return
        self.post_message(RemoteCostsLoaded(manager.remote.cost_rows(include_removed=False)))

    def on_remote_costs_loaded(self, message: RemoteCostsLoaded) -> None:
        """Show the hosts' sessions under this machine's, and count them in the total."""
        self.remote_rows = message.rows
        self._refresh()

    @work(thread=True, exclusive=True, group="conflict-stats")
    def _load_conflicts(self) -> None:
        """Read the conflict statistics off the loop; they come back as a message."""
        source = self.conflict_source
        if source is None:
            return
        try:
            stats = source()
        except (AgentmuxError, OSError, ValueError) as exc:
            self.post_message(ConflictStatsLoaded(None, str(exc)))
            return
        self.post_message(ConflictStatsLoaded(stats, None))

    def on_conflict_stats_loaded(self, message: ConflictStatsLoaded) -> None:
        """Show the rates, the merges that left sessions out, and a row per session."""
        with contextlib.suppress(NoMatches):  # see _refresh
            self._show_conflicts(message)

    def _show_conflicts(self, message: ConflictStatsLoaded) -> None:
        summary = self.query_one("#conflicts-summary", Static)
        table = self.query_one("#conflicts", DataTable)
        stats = message.stats
        if stats is None:
            error = escape(message.error or "")
            summary.update(f"{CONFLICTS_TITLE} · conflict rate unknown: {error}")
            table.clear()
            return
        self.conflict_stats = stats
        summary.update("\n".join([CONFLICTS_TITLE, *(escape(x) for x in summary_lines(stats))]))
        table.clear()
        for session in stats.sessions:
            # Text, not str: a DataTable reads a str cell as markup.
            cells = [Text(cell) for cell in session_cells(session)]
            table.add_row(*cells, key=session.session_id)

    def update_metrics(self, metrics: list[SessionMetrics]) -> None:
        """New metrics arrived: update the numbers in place, keeping the cursor where it was."""
        self.metrics = metrics
        if self.is_mounted:
            self._refresh()

    def _refresh(self) -> None:
        # Closing (or the app quitting) removes its widgets first: nothing is left to show.
        with contextlib.suppress(NoMatches):
            self._fill()

    def _fill(self) -> None:
        metrics = self.metrics
        source = f"spend per session (prices: {escape(self._source)})"
        if metrics is None:
            note = "collecting…"
        elif not metrics and not self.remote_rows:
            note = "no sessions yet"
        else:
            note = "↑↓ picks the session to chart"
        self.query_one("#source", Static).update(f"{source} · {note}")
        self._fill_table()
        self._fill_strips()
        self._show_chart(self._cursor_key())

    def _rows(self) -> list[tuple[str, tuple[str, ...], str | None]]:
        metrics = self.metrics or []
        rows = [(m.record.id, tuple(row(m)), level(m.budget_used)) for m in metrics]
        elsewhere = self.remote_rows
        rows += [(f"{REMOTE_KEY}{r['id']}", tuple(row_from_json(r)), None) for r in elsewhere]
        if elsewhere:
            every = [*(m.to_json() for m in metrics), *elsewhere]
            rows.append((TOTAL_KEY, tuple(total_row_of_rows(every)), "total"))
        elif metrics:
            rows.append((TOTAL_KEY, tuple(total_row(metrics)), "total"))
        return rows

    def _styled(self, table: CostTable, cells: Sequence[str], mark: str | None) -> list[Text]:
        style = table.row_style(mark)
        return [
            Text(cell, style=style, justify="left" if column in COLUMNS[:3] else "right")
            for column, cell in zip(COLUMNS, cells, strict=True)
        ]

    def _fill_table(self, *, restyle: bool = False) -> None:
        table = self.query_one(CostTable)
        wanted = self._rows()
        if not restyle and [key for key, _, _ in wanted] == list(self._cells):
            # Same sessions in the same order: touch only the cells whose text or style changed.
            for key, cells, mark in wanted:
                old_cells, old_mark = self._cells[key]
                styled = self._styled(table, cells, mark)
                for i, column in enumerate(COLUMNS):
                    if mark != old_mark or cells[i] != old_cells[i]:
                        table.update_cell(key, column, styled[i], update_width=True)
                self._cells[key] = (cells, mark)
            return
        keep_key = self._cursor_key()
        keep_row = table.cursor_row
        table.clear()
        self._cells = {}
        for key, cells, mark in wanted:
            table.add_row(*self._styled(table, cells, mark), key=key)
            self._cells[key] = (cells, mark)
        if not table.row_count:
            return
        if keep_key in self._cells:
            keep_row = table.get_row_index(keep_key)
        table.cursor_coordinate = Coordinate(min(max(keep_row, 0), table.row_count - 1), 0)

    def _restyle(self, _theme: Theme) -> None:
        # Row styles are baked into the cells: a new theme needs them built again.
        self._fill_table(restyle=True)

    def _cursor_key(self) -> str | None:
        table = self.query_one(CostTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _costs(self, session_id: str, samples: Sequence[UsageSample]) -> list[Decimal | None]:
        # Transcripts only grow, so the prices of samples seen before are kept and only the new
        # ones priced: a long session would otherwise be repriced on every refresh.
        count, last, costs = self._priced.get(session_id, (0, None, []))
        if count > len(samples) or (count and samples[count - 1] != last):
            count, costs = 0, []
        costs = costs[:count] + [sample_cost(s) for s in samples[count:]]
        self._priced[session_id] = (len(samples), samples[-1] if samples else None, costs)
        return costs

    def _series(self, m: SessionMetrics) -> SpendSeries | None:
        if m.usage is None:
            return None
        samples = m.usage.samples
        costs = self._costs(m.record.id, samples)
        return spend_series(samples, costs, start=m.usage.first, end=m.usage.last)

    def _pooled_series(self, metrics: Sequence[SessionMetrics]) -> SpendSeries | None:
        known = [m for m in metrics if m.usage is not None]
        if not known:
            return None
        samples: list[UsageSample] = []
        costs: list[Decimal | None] = []
        for m in known:
            assert m.usage is not None
            samples += m.usage.samples
            costs += self._costs(m.record.id, m.usage.samples)
        return spend_series(samples, costs)

    def _show_chart(self, key: str | None) -> None:
        metrics = self.metrics or []
        title = self.query_one("#chart-title", Static)
        chart = self.query_one("#chart", Sparkline)
        text = self.query_one("#chart-caption", Static)
        found = next((m for m in metrics if m.record.id == key), None)
        if key == TOTAL_KEY:
            self.series = self._pooled_series(metrics)
            missing = sum(m.usage is None for m in metrics)
            note = f" ({missing} without a transcript, not counted)" if missing else ""
            if self.remote_rows:
                # Their transcripts are on their hosts: the total row counts them, no chart.
                note += f" ({len(self.remote_rows)} on other hosts, not charted)"
            title.update(f"[b]all sessions[/b] · spend over time{note}")
        elif found is not None:
            self.series = self._series(found)
            title.update(f"[b]{escape(found.record.name)}[/b] · spend over time")
        else:
            self.series = None
            title.update("")
            chart.display = False
            text.update("")
            return
        points = self.series.points if self.series else ()
        chart.data = [float(p) for p in points]
        chart.display = bool(points)
        text.update(escape(caption(self.series)))

    def _fill_strips(self) -> None:
        metrics = self.metrics or []
        strips = self.query_one("#strips", VerticalScroll)
        if [m.record.id for m in metrics] != list(self._strips):
            strips.remove_children()
            self._strips = {}
            rows = []
            for m in metrics:
                line = Sparkline([])
                note = Static("", classes="strip-caption")
                name = Static(escape(m.record.name), classes="strip-name")
                rows.append(Horizontal(name, line, note, classes="strip"))
                self._strips[m.record.id] = (line, note)
            strips.mount_all(rows)
        for m in metrics:
            line, note = self._strips[m.record.id]
            series = self._series(m)
            points = series.points if series else ()
            line.data = [float(p) for p in points]
            line.display = bool(points)
            note.update(escape(caption(series)))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Moving in the table charts the highlighted session (the total row: all of them)."""
        # The cursor, not the event: an event queued before the rows were rebuilt is stale.
        self._show_chart(self._cursor_key())

    def action_close(self) -> None:
        """Back to the grid."""
        self.dismiss(None)
