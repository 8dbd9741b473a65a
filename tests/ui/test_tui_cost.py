"""Pilot tests of the cost panel on its own, fed SessionMetrics built by hand (no tmux, no git).

Every dollar figure of a chart is checked against Anthropic's published prices worked by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.color import Color
from textual.widgets import Sparkline, Static

from agentmux.core.metrics.collector import QueueWait, SessionMetrics
from agentmux.core.metrics.cost_report import (
    COLUMNS,
    UNKNOWN,
    row,
    total_cost_text,
    total_row,
    totals,
)
from agentmux.core.metrics.prices import cost_of_samples, price_source
from agentmux.core.metrics.usage import (
    TokenUsage,
    UsageByModel,
    UsageSample,
    UsageSnapshot,
    sum_usage,
)
from agentmux.core.records import SessionRecord, Status
from agentmux.ui.cost_screen import (
    NO_TRANSCRIPT,
    TOTAL_KEY,
    CostScreen,
    CostTable,
    spend_series,
)
from agentmux.ui.themes import DEFAULT_THEME, FALLBACK_VARIABLES, load_themes

SIZE = (160, 45)
MODEL = "claude-sonnet-4-5-20250929"
# claude-sonnet-4-5, USD per million tokens, from Anthropic's published pricing page: input $3,
# output $15, 5-minute cache write $3.75, cache read $0.30.
SONNET_45 = {
    "input": Decimal(3),
    "output": Decimal(15),
    "cache_write_5m": Decimal("3.75"),
    "cache_read": Decimal("0.30"),
}
T0 = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)


def by_hand(samples: tuple[UsageSample, ...]) -> Decimal:
    """The samples' cost from the published prices, without agentmux's pricing."""
    return sum(
        (
            sum((SONNET_45[kind] * getattr(s.usage, kind) for kind in SONNET_45), Decimal(0))
            for s in samples
        ),
        Decimal(0),
    ) / Decimal(1_000_000)


def record(n: int, name: str) -> SessionRecord:
    return SessionRecord(
        id=f"00000000-0000-0000-0000-00000000000{n}",
        name=name,
        agent="claude",
        agent_kind="claude",
        agent_session_id=f"s{n}",
        branch=f"agentmux/{name}",
        worktree=f"/work/{name}",
        base_ref="main",
        base_commit="0" * 40,
        status=Status.RUNNING,
        created_at=T0.timestamp(),
    )


def samples(count: int, scale: int = 1, model: str = MODEL) -> tuple[UsageSample, ...]:
    """``count`` responses a few minutes apart, each a little bigger than the last."""
    return tuple(
        UsageSample(
            time=T0 + timedelta(minutes=3 * k),
            model=model,
            usage=TokenUsage(
                input=scale * (1_000 + 100 * k),
                output=scale * (400 + 50 * k),
                cache_write_5m=scale * 2_000,
                cache_read=scale * (10_000 + 1_000 * k),
            ),
        )
        for k in range(count)
    )


def metrics(
    n: int,
    name: str,
    spent: tuple[UsageSample, ...] | None,
    budget: Decimal | None = None,
) -> SessionMetrics:
    usage = None
    if spent is not None:
        by_model: dict[str, TokenUsage] = {}
        for s in spent:
            by_model[s.model] = sum_usage([by_model.get(s.model, TokenUsage()), s.usage])
        usage = UsageSnapshot(
            by_model=UsageByModel(by_model),
            turns=tuple(s.time for s in spent[:2]),
            first=spent[0].time if spent else None,
            last=spent[-1].time if spent else None,
            samples=spent,
        )
    return SessionMetrics(
        record=record(n, name),
        usage=usage,
        cost=cost_of_samples(spent) if spent is not None else None,
        queue_wait=QueueWait(samples=(1.5, 3.0)),
        exit_failure=None,
        wall_seconds=1_800.0,
        budget_usd=budget,
    )


class CostApp(App[None]):
    """Just the cost panel, in agentmux's default theme."""

    def __init__(self, shown: list[SessionMetrics] | None) -> None:
        self._themes = load_themes()
        shipped = self._themes.themes.get(DEFAULT_THEME)
        self._defaults = {**FALLBACK_VARIABLES, **(shipped.variables if shipped else {})}
        super().__init__()
        for theme in self._themes.themes.values():
            self.register_theme(theme)
        if DEFAULT_THEME in self.available_themes:
            self.theme = DEFAULT_THEME
        self.panel = CostScreen(shown)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(self._defaults)

    def on_mount(self) -> None:
        self.push_screen(self.panel)


def texts(table: CostTable, index: int) -> list[str]:
    return [cell.plain for cell in table.get_row_at(index)]


def chart(app: CostApp) -> Sparkline:
    return app.panel.query_one("#chart", Sparkline)


def caption_text(app: CostApp) -> str:
    return str(app.panel.query_one("#chart-caption", Static).render())


def three() -> list[SessionMetrics]:
    return [
        metrics(1, "alpha", samples(6)),
        metrics(2, "beta", samples(3, scale=2)),
        metrics(3, "gamma", None),
    ]


async def test_table_has_the_cli_rows_and_total() -> None:
    shown = three()
    app = CostApp(shown)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.panel.query_one(CostTable)
        assert [str(c.label) for c in table.ordered_columns] == list(COLUMNS)
        assert table.row_count == len(shown) + 1
        for index, m in enumerate(shown):
            assert texts(table, index) == row(m)
        total = texts(table, len(shown))
        assert total == total_row(shown)
        assert total[0] == "total"
        assert total[7] == total_cost_text(totals(shown))
        source = str(app.panel.query_one("#source", Static).render())
        assert price_source() in source


async def test_unknown_session_says_unknown_never_zero() -> None:
    shown = three()
    app = CostApp(shown)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.panel.query_one(CostTable)
        gamma = texts(table, 2)
        assert gamma[7] == UNKNOWN
        assert not any(cell.startswith("$0") for cell in gamma)
        assert texts(table, 3)[7].startswith("at least $")
        await pilot.press("down", "down")
        await pilot.pause()
        assert app.panel.series is None
        assert caption_text(app) == NO_TRANSCRIPT
        assert not chart(app).display


async def test_chart_is_cumulative_and_ends_at_the_hand_priced_cost() -> None:
    shown = three()
    app = CostApp(shown)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for index, span in ((0, "(15.0m)"), (1, "(6.0m)")):
            spent = shown[index].usage
            assert spent is not None
            expected = by_hand(spent.samples)
            series = app.panel.series
            assert series is not None
            assert series.points[0] == 0
            assert list(series.points) == sorted(series.points)
            assert series.points[-1] == series.total == expected
            assert shown[index].cost_usd == expected
            data = list(chart(app).data or [])
            assert data == [float(p) for p in series.points]
            assert data[-1] == float(expected)
            assert chart(app).display
            assert f"${expected:,.4f}" in caption_text(app)
            assert span in caption_text(app)
            await pilot.press("down")
            await pilot.pause()


async def test_total_row_charts_every_session_with_a_transcript() -> None:
    shown = three()
    app = CostApp(shown)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down", "down")
        await pilot.pause()
        series = app.panel.series
        assert series is not None
        both = [m.usage.samples for m in shown if m.usage is not None]
        assert series.total == by_hand(both[0]) + by_hand(both[1])
        assert "1 without a transcript" in str(app.panel.query_one("#chart-title").render())


async def test_unpriced_model_says_cost_unknown() -> None:
    shown = [metrics(1, "mystery", samples(3, model="no-such-model-anywhere"))]
    app = CostApp(shown)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.panel.query_one(CostTable)
        assert texts(table, 0)[7] == UNKNOWN
        assert app.panel.series is not None
        assert app.panel.series.points == ()
        assert "cost unknown" in caption_text(app)
        assert not chart(app).display


async def test_update_metrics_replaces_the_numbers_and_keeps_the_cursor() -> None:
    app = CostApp(None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.panel.query_one(CostTable)
        assert table.row_count == 0
        first = three()
        app.panel.update_metrics(first)
        await pilot.pause()
        await pilot.press("down")
        await pilot.pause()
        assert table.cursor_row == 1
        later = [
            metrics(1, "alpha", samples(8)),
            metrics(2, "beta", samples(5, scale=2)),
            metrics(3, "gamma", samples(1)),
        ]
        app.panel.update_metrics(later)
        await pilot.pause()
        assert table.cursor_row == 1
        for index, m in enumerate(later):
            assert texts(table, index) == row(m)
        assert texts(table, 3) == total_row(later)
        assert texts(table, 1) != row(first[1])
        spent = later[1].usage
        assert spent is not None
        assert app.panel.series is not None
        assert app.panel.series.total == by_hand(spent.samples)
        # A session going away rebuilds the rows; the cursor stays on the same session.
        app.panel.update_metrics(later[1:])
        await pilot.pause()
        assert table.row_count == 3
        assert table.cursor_row == 0
        assert texts(table, 0) == row(later[1])


async def test_budget_rows_take_the_theme_colours() -> None:
    spent = samples(6)
    cost = by_hand(spent)
    shown = [
        metrics(1, "calm", spent, budget=cost * 4),
        metrics(2, "close", spent, budget=cost / Decimal("0.85")),
        metrics(3, "over", spent, budget=cost / 2),
    ]
    app = CostApp(shown)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.panel.query_one(CostTable)
        calm, close, over = (table.get_row_at(i) for i in range(3))
        assert texts(table, 1)[7].endswith("⚠")
        assert texts(table, 2)[7].endswith("⛔")
        variables = app.theme_variables
        warn = table.get_component_rich_style("cost-table--warn", partial=True)
        reached = table.get_component_rich_style("cost-table--reached", partial=True)
        assert warn.color is not None
        assert reached.color is not None
        assert Color.from_rich_color(warn.color) == Color.parse(variables["warning"])
        assert Color.from_rich_color(reached.color) == Color.parse(variables["error"])
        assert all(isinstance(c, Text) and c.style == warn for c in close)
        assert all(isinstance(c, Text) and c.style == reached for c in over)
        assert all(not c.style for c in calm)


async def test_a_new_theme_restyles_the_budget_rows() -> None:
    spent = samples(6)
    shown = [metrics(1, "close", spent, budget=by_hand(spent) / Decimal("0.85"))]
    app = CostApp(shown)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.panel.query_one(CostTable)
        before = table.get_row_at(0)[0].style
        app.theme = "agentmux-light"
        await pilot.pause()
        await pilot.pause()
        after = table.get_row_at(0)[0].style
        assert isinstance(after, Style)
        assert after.color is not None
        assert Color.from_rich_color(after.color) == Color.parse(app.theme_variables["warning"])
        assert after != before


async def test_dollar_escape_and_q_close_the_panel() -> None:
    for key in ("dollar_sign", "escape", "q"):
        app = CostApp(three())
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert app.screen is app.panel
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is not app.panel


def test_series_buckets_equal_slices_of_the_span() -> None:
    spent = samples(6)  # 0, 3, ..., 15 minutes
    series = spend_series(spent, buckets=5)
    assert series.start == T0
    assert series.end == T0 + timedelta(minutes=15)
    assert len(series.points) == 6
    costs = [by_hand((s,)) for s in spent]
    # Slices of 3 minutes: one response each, the last two share the final slice.
    running = Decimal(0)
    expected = [running]
    for spent_in_slice in (costs[0], costs[1], costs[2], costs[3], costs[4] + costs[5]):
        running += spent_in_slice
        expected.append(running)
    assert list(series.points) == expected
    assert spend_series(()).points == ()
    assert TOTAL_KEY not in {m.record.id for m in three()}
