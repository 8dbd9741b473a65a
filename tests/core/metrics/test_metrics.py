"""End to end with demo sessions: tokens, dollars, queue wait, failures, budgets, `agentmux cost`.

Every figure is checked against a source agentmux does not compute: ccusage on the same
transcripts, Anthropic's published prices worked by hand, the test's own clock, the demo agent's
deterministic usage.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

from agentmux.core.agents.profiles import demo_transcript_root
from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import demo_transcript, run_cli, wait_for, write_config
from tests.core.metrics.test_ccusage_agreement import ccusage, run_ccusage_at, theirs

__all__ = ["ccusage"]  # the fixture, used by name

# claude-sonnet-4-5 (the demo agent's model), USD per million tokens, from Anthropic's published
# pricing page: input $3, output $15, 5-minute cache write $3.75, cache read $0.30.
SONNET_45 = {
    "input": Decimal(3),
    "output": Decimal(15),
    "cache_write_5m": Decimal("3.75"),
    "cache_read": Decimal("0.30"),
}


def finished_turns(manager: SessionManager, name: str) -> int:
    """Turns the demo agent has finished, transcript written and its Stop hook reported (so a
    prompt sent now is typed at once, not held for a busy agent)."""
    record = manager.get(name)
    events = manager.store.events(record.id, kinds=("agent_event",))
    stops = sum(1 for e in events if e["data"]["event"] in ("Stop", "StopFailure"))
    written = sum(
        1
        for r in demo_transcript(manager, name)
        if r.get("type") == "system" and r.get("subtype") == "turn_duration"
    )
    return min(stops, written)


def cost_json(repo: Path, *args: str) -> dict[str, Any]:
    result = run_cli(repo, "cost", "--json", *args)
    assert result.code == 0, result.err
    data: dict[str, Any] = json.loads(result.out)
    return data


def session_row(data: dict[str, Any], name: str) -> dict[str, Any]:
    row: dict[str, Any] = next(s for s in data["sessions"] if s["name"] == name)
    return row


def test_tokens_and_cost_agree_with_ccusage_and_published_prices(
    repo: Path, manager: SessionManager, ccusage: Path, tmp_path: Path
) -> None:
    manager.create(agent="demo", name="spend", prompt=b"write notes.txt first turn")
    wait_for(lambda: finished_turns(manager, "spend") == 1, what="turn 1")
    manager.send("spend", b"append notes.txt and a second turn")
    wait_for(lambda: finished_turns(manager, "spend") == 2, what="turn 2")

    row = session_row(cost_json(repo), "spend")

    report = run_ccusage_at(ccusage, demo_transcript_root(), tmp_path / "home", "claude")
    (theirs_row,) = report["sessions"]
    tokens = row["tokens"]
    ours = {
        "inputTokens": tokens["input"],
        "outputTokens": tokens["output"],
        "cacheCreationTokens": tokens["cache_write_5m"] + tokens["cache_write_1h"],
        "cacheReadTokens": tokens["cache_read"],
    }
    assert ours == theirs(theirs_row)
    # The demo agent's own rule: a 500-token cache write on turn 1, 1000 cache reads on turn 2.
    assert tokens["cache_write_5m"] == 500 and tokens["cache_read"] == 1000
    expected = sum(
        (Decimal(tokens[kind]) * per_million for kind, per_million in SONNET_45.items()),
        Decimal(0),
    ) / Decimal(1_000_000)
    assert Decimal(row["cost_usd"]) == expected
    assert row["models"] == ["claude-sonnet-4-5-20250929"]
    assert row["turns"] == 2 and row["failed_turns"] == 0 and row["failure_rate"] == 0
    assert row["queue_wait_seconds"]["count"] == 1
    waiting = row["waiting_on_you_seconds"]  # the demo agent reports through hooks
    assert waiting is not None and waiting["current"] is not None, "idle after its turn"


def test_unknown_is_unknown(repo: Path, manager: SessionManager) -> None:
    write_config(repo, '[agents.plain]\ncommand = ["sh", "-c", "sleep 30"]\n')
    manager = SessionManager.open(repo)
    manager.create(agent="plain", name="plain")
    manager.create(agent="demo", name="fresh")  # no prompt yet: no transcript
    data = cost_json(repo)
    for name in ("plain", "fresh"):
        row = session_row(data, name)
        assert row["tokens"] is None and row["cost_usd"] is None and row["turns"] is None
    assert session_row(data, "plain")["waiting_on_you_seconds"] is None, "no hooks: unknown"
    assert data["totals"]["cost_usd"] is None
    table = run_cli(repo, "cost")
    assert "unknown" in table.out and "$0.0000" not in table.out


def test_a_failed_turn_and_a_crash_count(repo: Path, manager: SessionManager) -> None:
    manager.create(agent="demo", name="flaky", prompt=b"fail")
    wait_for(lambda: finished_turns(manager, "flaky") == 1, what="the failing turn")
    manager.send("flaky", b"write ok.txt fine")
    wait_for(lambda: finished_turns(manager, "flaky") == 2, what="a good turn")
    row = session_row(cost_json(repo), "flaky")
    assert row["turns"] == 2 and row["failed_turns"] == 1 and row["failure_rate"] == 0.5
    (failure,) = row["failures"]
    assert failure["kind"] == "api_error" and failure["status"] == 529

    manager.send("flaky", b"exit 3")
    wait_for(lambda: manager.reconcile()[0].status is Status.EXITED, what="the exit")
    row = session_row(cost_json(repo), "flaky")
    # The demo answers "Exiting with status 3." (a third, good turn), then its process exits 3:
    # that exit is a failure of its own, counted as one more failed unit of work.
    assert row["turns"] == 4 and row["failed_turns"] == 2 and row["failure_rate"] == 0.5
    assert row["failures"][-1]["kind"] == "exit"
    assert "status 3" in row["failures"][-1]["reason"]


def test_queue_wait_of_a_queued_session(repo: Path) -> None:
    write_config(repo, "max_sessions = 1\n")
    manager = SessionManager.open(repo)
    manager.create(agent="demo", name="first")
    asked = time.time()
    manager.create(agent="demo", name="second")
    queued = session_row(cost_json(repo), "second")["queue_wait_seconds"]
    assert queued["count"] == 0 and queued["current"] is not None
    time.sleep(1.5)
    manager.stop("first")
    started = time.time()
    wait = session_row(cost_json(repo), "second")["queue_wait_seconds"]
    assert wait["count"] == 1 and wait["current"] is None
    assert 1.5 <= wait["mean"] <= started - asked + 0.01
    assert wait["p95"] == wait["mean"]


def test_budget_stops_prompts_and_can_be_raised(repo: Path, manager: SessionManager) -> None:
    made = run_cli(repo, "new", "--agent", "demo", "--name", "capped", "--budget", "0.001",
                   "write a.txt over budget")  # fmt: skip
    assert made.code == 0, made.err
    wait_for(lambda: finished_turns(manager, "capped") == 1, what="the first turn")

    row = session_row(cost_json(repo), "capped")
    assert row["budget_usd"] == "0.001" and Decimal(row["cost_usd"]) > Decimal("0.001")
    refused = run_cli(repo, "send", "capped", "write b.txt more")
    assert refused.code == 1
    assert "reached its $0.001 budget" in refused.err
    events = [e["kind"] for e in manager.store.events(manager.get("capped").id)]
    assert events.count("budget_reached") == 1
    assert not (Path(manager.get("capped").worktree) / "b.txt").exists()

    assert run_cli(repo, "budget", "capped", "5").code == 0
    assert run_cli(repo, "send", "capped", "write b.txt more").code == 0
    wait_for(lambda: (Path(manager.get("capped").worktree) / "b.txt").exists(), what="raised")


def test_budget_stop_is_decided_once_and_leaves_an_idle_agent_alone(
    repo: Path, manager: SessionManager
) -> None:
    manager.create(agent="demo", name="idle", prompt=b"write a.txt over budget",
                   budget=Decimal("0.001"))  # fmt: skip
    wait_for(lambda: finished_turns(manager, "idle") == 1, what="the turn")
    record = manager.get("idle")
    metrics = manager.metrics([record])
    # The TUI's worker, `cost` and `send` may all see the cap at the same moment.
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: manager.enforce_budgets(metrics), range(4)))
    assert sorted(n for r in results for n in r) == ["idle"]
    kinds = [e["kind"] for e in manager.store.events(record.id)]
    assert kinds.count("budget_reached") == 1
    # No interrupt reached the idle agent: the demo agent answers a Ctrl-C at its prompt with
    # a hint, and a second one within 2 s would have ended it.
    time.sleep(0.5)
    assert "press Ctrl-C again" not in manager.tmux.capture(record.tmux_pane_id or "")
    assert manager.reconcile()[0].status is Status.RUNNING


def test_budget_stop_interrupts_a_turn_in_progress(repo: Path, manager: SessionManager) -> None:
    manager.create(agent="demo", name="busy", prompt=b"write a.txt spend\nsleep 30",
                   budget=Decimal("0.001"))  # fmt: skip
    record = manager.get("busy")
    collector = manager.metrics_collector()
    # The turn's first step writes spend past the cap to the transcript; the sleep goes on.
    wait_for(
        lambda: manager.enforce_budgets(manager.metrics([record], collector)) == ["busy"],
        what="the cap reached mid-turn",
    )
    mark = "[Request interrupted by user]"
    wait_for(
        lambda: any(mark in json.dumps(r) for r in demo_transcript(manager, "busy")),
        timeout=5,
        what="the interrupted turn in the transcript",
    )
    assert manager.reconcile()[0].status is Status.RUNNING


def test_cost_csv_since_and_bad_input(repo: Path, manager: SessionManager) -> None:
    manager.create(agent="demo", name="one")
    csv_out = run_cli(repo, "cost", "--csv")
    assert csv_out.code == 0 and csv_out.out.splitlines()[0].startswith("session,agent,models")
    assert "waiting_on_you" in csv_out.out.splitlines()[0]
    assert "one,demo" in csv_out.out
    assert cost_json(repo, "--since", "1h")["sessions"]
    assert cost_json(repo, "--since", "2999-01-01")["sessions"] == []
    bad = run_cli(repo, "cost", "--since", "yesterday")
    assert bad.code == 1 and "--since 'yesterday'" in bad.err
    assert "positive amount" in run_cli(repo, "budget", "one", "-3").err
    assert "not an amount" in run_cli(repo, "new", "--budget", "lots").err
