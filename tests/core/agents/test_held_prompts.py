"""A prompt for a busy agent is held and typed when the agent is idle again; its wait is queue
wait, bounded by the test's own clock."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agentmux.core.agents.held_prompts import HELD, RELEASED
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import demo_transcript, run_cli, wait_for
from tests.core.agents.test_agent_events import hook_names


def test_prompts_for_a_busy_agent_are_held_then_typed_in_order(
    repo: Path, manager: SessionManager
) -> None:
    # A turn long enough for two `send` processes to start and hold, even on a loaded machine.
    record = manager.create(agent="demo", name="busy", prompt=b"sleep 8")
    worktree = Path(record.worktree)
    wait_for(lambda: "PreToolUse" in hook_names(manager, "busy"), what="the agent at work")

    before_send = time.time()
    first = run_cli(repo, "send", "busy", "write first.txt one")
    second = run_cli(repo, "send", "busy", "write second.txt two")
    assert first.code == 0 and "held" in first.err and "(1 waiting)" in first.err
    assert "(2 waiting)" in second.err
    assert not (worktree / "first.txt").exists(), "nothing typed into the middle of a turn"
    pending = run_cli(repo, "cost", "--json")
    (row,) = json.loads(pending.out)["sessions"]
    assert row["queue_wait_seconds"]["current"] is not None

    wait_for(lambda: (worktree / "first.txt").exists(), timeout=30, what="the first held prompt")
    seen_first = time.time()
    wait_for(lambda: (worktree / "second.txt").exists(), timeout=30, what="the second one")
    events = manager.store.events(record.id, kinds=(HELD, RELEASED, "agent_event"))
    kinds = [e["kind"] for e in events if e["kind"] in (HELD, RELEASED)]
    assert kinds == [HELD, HELD, RELEASED, RELEASED], "released one per idle turn, in order"

    (row,) = json.loads(run_cli(repo, "cost", "--json").out)["sessions"]
    wait = row["queue_wait_seconds"]
    assert wait["count"] == 3 and wait["current"] is None  # the start, then two held prompts
    released = [e for e in events if e["kind"] == RELEASED]
    first_wait = float(released[0]["data"]["wait"])
    stop = next(
        e["ts"] for e in events if e["kind"] == "agent_event" and e["data"]["event"] == "Stop"
    )
    assert stop - before_send - 1.0 <= first_wait <= seen_first - before_send


def test_send_now_types_at_once_and_idle_agents_are_not_held(
    repo: Path, manager: SessionManager
) -> None:
    record = manager.create(agent="demo", name="idle", prompt=b"write a.txt first")
    wait_for(lambda: "Stop" in hook_names(manager, "idle"), what="the first turn")
    direct = run_cli(repo, "send", "idle", "write b.txt second")
    assert direct.code == 0 and "held" not in direct.err
    wait_for(lambda: (Path(record.worktree) / "b.txt").exists(), what="a direct prompt")
    wait_for(lambda: hook_names(manager, "idle").count("Stop") == 2, what="idle again")
    manager.send("idle", b"sleep 3")
    wait_for(lambda: hook_names(manager, "idle")[-1] == "PreToolUse", what="busy again")
    now = run_cli(repo, "send", "--now", "idle", "x")
    assert now.code == 0 and "held" not in now.err
    assert manager.store.events(record.id, kinds=(HELD,)) == []


def test_an_interrupted_turn_ends_the_wait_for_idle(repo: Path, manager: SessionManager) -> None:
    """Claude Code fires no hook when the user interrupts a turn: agentmux reads the interruption
    from the transcript, so held prompts are not kept for good and the wait on you is counted."""
    record = manager.create(agent="demo", name="stopped", prompt=b"sleep 60")
    worktree = Path(record.worktree)
    wait_for(lambda: "PreToolUse" in hook_names(manager, "stopped"), what="the agent at work")
    held = run_cli(repo, "send", "stopped", "write held.txt one")
    assert held.code == 0 and "(1 waiting)" in held.err

    pressed = time.time()
    manager.tmux.send_keys(record.tmux_pane_id or "", "C-c")  # the user, attached
    mark = "[Request interrupted by user]"
    wait_for(
        lambda: any(mark in json.dumps(r) for r in demo_transcript(manager, "stopped")),
        what="the interruption in the transcript",
    )
    time.sleep(1.0)
    (row,) = json.loads(run_cli(repo, "cost", "--json").out)["sessions"]
    asked = time.time()
    waited = row["waiting_on_you_seconds"]["current"]
    assert waited is not None and 1.0 <= waited <= asked - pressed
    assert [f["kind"] for f in row["failures"]] == ["interrupted"]
    assert hook_names(manager, "stopped")[-1] == "PreToolUse", "no hook told of the interruption"

    after = run_cli(repo, "send", "stopped", "write after.txt two")
    assert after.code == 0 and "(1 waiting)" in after.err, "the older prompt went first"
    wait_for(lambda: (worktree / "held.txt").exists(), what="the held prompt")
    wait_for(lambda: (worktree / "after.txt").exists(), timeout=30, what="the next one")
    kinds = [e["kind"] for e in manager.store.events(record.id, kinds=(HELD, RELEASED))]
    assert kinds == [HELD, RELEASED, HELD, RELEASED]


def test_a_turn_ending_while_a_prompt_is_held_never_strands_it(
    repo: Path, manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent's Stop hook finds nothing held, then `send` records the prompt it judged busy
    a moment before: `send` must look again, or nothing would ever type it."""
    record = manager.create(agent="demo", name="racy", prompt=b"write a.txt first")
    wait_for(lambda: "Stop" in hook_names(manager, "racy"), what="the turn's end")
    real_busy = manager.turns.busy
    looks: list[bool] = []

    def stale_then_real(session_id: str) -> bool:
        # The first look happened just before the turn ended (its hook ran in between).
        looks.append(True)
        return True if len(looks) == 1 else real_busy(session_id)

    monkeypatch.setattr(manager.turns, "busy", stale_then_real)
    manager.send("racy", b"write b.txt second")
    assert [e["kind"] for e in manager.store.events(record.id, kinds=(HELD, RELEASED))] == [
        HELD,
        RELEASED,
    ]
    wait_for(lambda: (Path(record.worktree) / "b.txt").exists(), what="the prompt typed")
