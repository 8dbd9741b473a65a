"""Spend in the TUI's pane titles, and a budget stop seen from the TUI."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.cost_screen import CostScreen
from tests.conftest import demo_transcript, run_cli
from tests.core.metrics.test_metrics import finished_turns
from tests.ui.test_tui import SIZE, RecordingApp, until


async def test_pane_title_shows_tokens_and_cost(repo: Path, manager: SessionManager) -> None:
    manager.create(agent="demo", name="spender", prompt=b"write a.txt hello")
    await until(lambda: finished_turns(manager, "spender") == 1, what="a turn")
    data = json.loads(run_cli(repo, "cost", "--json").out)
    (row,) = data["sessions"]
    tokens = sum(row["tokens"].values())
    cost = Decimal(row["cost_usd"])
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE):
        await until(lambda: len(app.grid.panes) == 1, what="the pane")
        (pane,) = app.grid.panes.values()
        shown = f"{tokens / 1000:.1f}k" if tokens >= 1000 else str(tokens)
        want = f"{shown} tok ${cost:.4f}"
        await until(lambda: want in str(pane.border_title), what=f"{want!r} in the title")


async def test_budget_reached_in_the_tui(repo: Path, manager: SessionManager) -> None:
    made = run_cli(repo, "new", "--agent", "demo", "--name", "capped", "--budget", "0.001")
    assert made.code == 0, made.err
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE):
        await until(lambda: len(app.grid.panes) == 1, what="the pane")
        manager.send("capped", b"write a.txt spends more than a tenth of a cent")
        # The budget stop may interrupt the turn (then no Stop hook fires), so wait for the
        # transcript to close it rather than for finished_turns.
        await until(
            lambda: any(
                r.get("subtype") == "turn_duration" for r in demo_transcript(manager, "capped")
            ),
            what="the turn",
        )
        await until(
            lambda: any("capped reached its budget" in n.message for n in app._notifications),
            what="the budget stop",
        )
        (pane,) = app.grid.panes.values()
        await until(lambda: "⛔" in str(pane.border_title), what="the stop mark")
    refused = run_cli(repo, "send", "capped", "more")
    assert refused.code == 1 and "budget" in refused.err


async def test_dollar_opens_the_cost_panel_with_live_metrics(
    repo: Path, manager: SessionManager
) -> None:
    manager.create(agent="demo", name="spender", prompt=b"write a.txt hello")
    await until(lambda: finished_turns(manager, "spender") == 1, what="a turn")
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: bool(app.metrics_view.metrics), what="metrics")
        await pilot.press("dollar_sign")
        assert isinstance(app.screen, CostScreen)
        manager.send("spender", b"append a.txt more")
        await until(lambda: finished_turns(manager, "spender") == 2, what="a second turn")
        want = json.loads(run_cli(repo, "cost", "--json").out)["sessions"][0]["cost_usd"]
        screen = app.screen
        await until(
            lambda: (
                screen.series is not None
                and screen.series.total is not None
                and screen.series.total == Decimal(want)
            ),
            what="the panel's chart ending at the CLI's cost",
        )
        await pilot.press("escape")
        assert not isinstance(app.screen, CostScreen)


async def test_a_transcript_write_refreshes_the_title_without_waiting_for_the_poll(
    repo: Path, manager: SessionManager
) -> None:
    manager.create(agent="demo", name="watched", prompt=b"write a.txt hello")
    await until(lambda: finished_turns(manager, "watched") == 1, what="a first turn")
    app = RecordingApp(manager, radar=False, metrics_seconds=600)  # the poll never fires
    async with app.run_test(size=SIZE):
        await until(lambda: len(app.grid.panes) == 1, what="the pane")
        (pane,) = app.grid.panes.values()
        await until(lambda: "tok $" in str(pane.border_title), what="spend in the title")
        before = str(pane.border_title)
        manager.send("watched", b"append a.txt a second turn")
        await until(lambda: finished_turns(manager, "watched") == 2, what="a second turn")
        await until(
            lambda: str(pane.border_title) != before, timeout=10, what="the title following"
        )
