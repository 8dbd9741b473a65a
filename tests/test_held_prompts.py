"""A prompt for a busy agent is held and typed when the agent is idle again; its wait is queue
wait, bounded by the test's own clock."""

from __future__ import annotations

import json
import time
from pathlib import Path

from agentmux.core.held_prompts import HELD, RELEASED
from agentmux.core.sessions import SessionManager
from tests.conftest import run_cli, wait_for
from tests.test_agent_events import hook_names


def test_prompts_for_a_busy_agent_are_held_then_typed_in_order(
    repo: Path, manager: SessionManager
) -> None:
    record = manager.create(agent="demo", name="busy", prompt=b"sleep 3")
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
