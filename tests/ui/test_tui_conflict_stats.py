"""The conflict rate in the TUI's cost panel (`$`), against the scripted scenario's known truth
(tests/conflict_scenario.py), and recorded by the TUI's own radar."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable, Static

from agentmux.core.git.conflict_history import STARTED
from agentmux.core.metrics.conflict_stats import COLUMNS
from agentmux.core.metrics.cost_report import seconds_text
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.cost_screen import NO_HISTORY, CostScreen
from tests.conflict_scenario import run_scenario
from tests.ui.test_tui import SIZE, RecordingApp, until
from tests.ui.test_tui_cost import CostApp


def summary(screen: CostScreen) -> str:
    return " ".join(str(screen.query_one("#conflicts-summary", Static).render()).split())


def rows(screen: CostScreen) -> dict[str, tuple[str, ...]]:
    table: DataTable[Text] = screen.query_one("#conflicts", DataTable)
    found = [tuple(cell.plain for cell in table.get_row_at(i)) for i in range(table.row_count)]
    return {row[0]: row for row in found}


async def test_cost_panel_shows_the_scenarios_conflict_rate(
    repo: Path, manager: SessionManager
) -> None:
    s = run_scenario(manager)
    (merge,) = manager.store.events(kinds=("conflict_merge",))
    at = float(merge["ts"])
    assert s.landing[0] <= at <= s.landing[1]
    a_c = at - (s.t0 + 60)  # a × c: from the scan at T0+60 to the merge that took a
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("dollar_sign")
        screen = app.screen
        assert isinstance(screen, CostScreen)
        await until(lambda: screen.conflict_stats is not None, what="the conflict statistics")
        text = summary(screen)
        assert "pairs of sessions that conflicted: 2 of 3 pairs compared (66.7%)" in text
        assert "3 pairs alive at the same time" in text
        assert "at merge time: 1 of 3 pairs in flight (33.3%) · 1 merge" in text
        assert "sessions that conflicted with their base: 1 of 3 compared (33.3%)" in text
        assert f"left out c: {s.plan.left_out[0].reason}" in text
        table: DataTable[Text] = screen.query_one("#conflicts", DataTable)
        assert [str(c.label) for c in table.ordered_columns] == list(COLUMNS)
        shown = rows(screen)
        assert shown["a"] == ("a", "2", "2 (b, c)", seconds_text(30 + a_c), "none", "-")
        assert shown["b"] == ("b", "2", "1 (a)", "30.0s", "none", "-")
        c = shown["c"]
        assert c[:4] == ("c", "2", "1 (a)", seconds_text(a_c))
        assert c[4].endswith(", ongoing") and c[5] == "by 1 merge"
        await pilot.press("escape")
        assert not isinstance(app.screen, CostScreen)


async def test_cost_panel_says_unknown_before_the_radar_ran(
    repo: Path, manager: SessionManager
) -> None:
    for name in ("a", "b"):
        manager.create(agent="demo", name=name)
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("dollar_sign")
        screen = app.screen
        assert isinstance(screen, CostScreen)
        await until(lambda: screen.conflict_stats is not None, what="the conflict statistics")
        text = summary(screen)
        assert "pairs of sessions that conflicted: unknown: the radar has not run" in text
        assert "0 of" not in text and "0.0%" not in text
        assert {row[1:4] for row in rows(screen).values()} == {("unknown",) * 3}


async def test_the_tuis_radar_records_and_the_panel_follows(
    repo: Path, manager: SessionManager
) -> None:
    trees = [Path(manager.create(agent="demo", name=n).worktree) for n in ("a", "b")]
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            lambda: app.conflicts_view.conflicts is not None, what="the radar's first report"
        )
        for tree, text in zip(trees, ("from a\n", "from b\n"), strict=True):
            (tree / "README.md").write_text(text)
        await until(
            lambda: len(manager.store.events(kinds=(STARTED,))) == 2,
            what="the TUI's radar recording the conflict",
        )
        await pilot.press("dollar_sign")
        screen = app.screen
        assert isinstance(screen, CostScreen)
        await until(
            lambda: "1 of 1 pairs compared (100.0%)" in summary(screen),
            what="the panel showing it",
        )
        assert rows(screen)["a"][2] == "1 (b)"
        assert rows(screen)["a"][3].endswith(", ongoing")


async def test_a_panel_without_a_repository_says_so() -> None:
    app = CostApp(None)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        assert NO_HISTORY in summary(app.panel)
        assert app.panel.conflict_stats is None
