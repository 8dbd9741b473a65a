"""A crash is a failed turn only when the agent was in a turn: what its events tell."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from agentmux.core.agents.events import AGENT_EVENT, PROMPT_SENT
from agentmux.core.metrics.collector import MetricsCollector
from agentmux.core.metrics.run_turns import TurnTracker
from agentmux.core.metrics.runs import RESUMED, resumed_data
from agentmux.core.records import Status
from tests.core.metrics import test_claude_transcripts as ct
from tests.core.metrics import test_resumed_transcripts as tr


def agent(name: str, ts: float, session: str = "s1") -> dict[str, Any]:
    return {"session_id": session, "kind": AGENT_EVENT, "ts": ts, "data": {"event": name}}


def typed(ts: float, session: str = "s1") -> dict[str, Any]:
    return {"session_id": session, "kind": PROMPT_SENT, "ts": ts, "data": {"bytes": 3}}


def fed(*events: dict[str, Any]) -> TurnTracker:
    tracker = TurnTracker()
    for event in events:
        tracker.feed(event)
    return tracker


def test_claude_code_turns_from_its_hooks() -> None:
    assert fed().in_turn("s1") is None  # nothing told: unknown
    assert fed(agent("SessionStart", 1)).in_turn("s1") is False
    assert fed(agent("SessionStart", 1), typed(2), agent("UserPromptSubmit", 3)).in_turn("s1")
    done = fed(agent("UserPromptSubmit", 3), agent("PreToolUse", 4), agent("Stop", 5))
    assert done.in_turn("s1") is False
    # Killing the tmux server fires SessionEnd: it says nothing about the turn.
    assert (
        fed(agent("SessionStart", 1), agent("Stop", 5), agent("SessionEnd", 6)).in_turn("s1")
        is False
    )
    assert fed(agent("PreToolUse", 5), agent("SessionEnd", 6)).in_turn("s1") is True
    assert fed(agent("PermissionRequest", 5)).in_turn("s1") is True  # a question mid-turn
    assert fed(agent("UserPromptSubmit", 5), agent("StopFailure", 6)).in_turn("s1") is False


def test_codex_turns_are_not_known() -> None:
    """Codex reports only a turn's end, and agentmux's record of typing a prompt can come after
    the answer: whether it was in a turn is unknown."""
    assert fed(typed(1)).in_turn("s1") is None
    assert fed(typed(1), agent("agent-turn-complete", 2)).in_turn("s1") is None
    assert fed(agent("agent-turn-complete", 2), typed(3)).in_turn("s1") is None


def test_a_prompt_recorded_after_the_answer_does_not_make_a_turn() -> None:
    claude = fed(agent("SessionStart", 1), agent("UserPromptSubmit", 2), agent("Stop", 3))
    claude.feed(typed(2.5))  # the fast agent answered before agentmux recorded typing it
    assert claude.in_turn("s1") is False


def test_an_interruption_read_from_the_transcript_ends_the_turn() -> None:
    tracker = fed(agent("UserPromptSubmit", 10), agent("PreToolUse", 11))
    tracker.note_interrupts("s1", [5.0])  # an earlier turn's
    assert tracker.in_turn("s1") is True
    tracker.note_interrupts("s1", [5.0, 12.0])
    assert tracker.in_turn("s1") is False


def test_each_run_keeps_how_it_ended() -> None:
    tracker = fed(agent("SessionStart", 1), typed(2), agent("Stop", 3))
    tracker.run_ended("s1")  # idle when the server went down
    for event in (agent("SessionStart", 10), typed(11), agent("UserPromptSubmit", 12)):
        tracker.feed(event)
    tracker.run_ended("s1")  # in a turn
    tracker.run_ended("s1")  # a run that told nothing
    assert tracker.ended_in_turn("s1") == [False, True, None]
    assert tracker.in_turn("s1") is None
    assert tracker.ended_in_turn("s2") == []


def resumed(previous: str, ts: float, session: str = "s1", **run: Any) -> dict[str, Any]:
    """The ``resumed`` event ``agentmux resume`` records, after a run that ended ``previous``."""
    data = resumed_data(replace(ONE, status=Status(previous), **run), "continue", FIRST)
    return {"id": 0, "session_id": session, "kind": RESUMED, "ts": ts, "data": data}


FIRST = tr.FIRST
ONE = tr.record("claude", ended_at=ct.T0.timestamp() + 50)


def collect(tmp_path: Path, events: list[dict[str, Any]], **now: Any) -> dict[str, Any]:
    """``cost --json``'s row for a session with two answered prompts and these events."""
    config = tmp_path / "claude"
    tr.write(
        tr.claude_file(config, FIRST),
        [
            ct.prompt("a", 0, "u1"),
            ct.assistant("m1", ct.usage(7, 1), 1),
            ct.prompt("b", 60, "u2"),
            ct.assistant("m2", ct.usage(9, 2), 61),
        ],
    )
    collector = MetricsCollector({"CLAUDE_CONFIG_DIR": str(config)})
    collector.feed_events(events)
    (found,) = collector.collect([replace(ONE, **now)])
    row: dict[str, Any] = found.to_json()
    return row


def test_a_reboot_while_idle_is_a_failure_but_no_failed_turn(tmp_path: Path) -> None:
    idle = [agent("SessionStart", 1), agent("UserPromptSubmit", 2), agent("Stop", 3)]
    after = [agent("SessionStart", 55), agent("UserPromptSubmit", 60), agent("Stop", 61)]
    row = collect(tmp_path, [*idle, agent("SessionEnd", 4), resumed("lost", 50), *after])
    assert [f["kind"] for f in row["failures"]] == ["exit"]
    assert row["turns"] == 2 and row["failed_turns"] == 0
    # Lost in the middle of a turn: that turn failed.
    busy = [agent("SessionStart", 1), agent("UserPromptSubmit", 2), agent("PreToolUse", 3)]
    row = collect(tmp_path, [*busy, resumed("lost", 50), *after])
    assert row["turns"] == 3 and row["failed_turns"] == 1
    # An agent that reported nothing: not known to be idle, its loss counts as before.
    row = collect(tmp_path, [resumed("lost", 50)])
    assert row["turns"] == 3 and row["failed_turns"] == 1


def test_a_process_that_failed_on_its_own_is_a_failed_turn_even_when_idle(tmp_path: Path) -> None:
    idle = [agent("SessionStart", 1), agent("UserPromptSubmit", 2), agent("Stop", 3)]
    row = collect(tmp_path, [*idle, resumed("exited", 50, exit_status=3)])
    assert row["turns"] == 3 and row["failed_turns"] == 1
    # The current run lost while idle (not resumed yet): no failed turn; exited 3: one.
    lost = collect(tmp_path, idle, status=Status.LOST)
    assert lost["turns"] == 2 and lost["failed_turns"] == 0 and len(lost["failures"]) == 1
    exited = collect(tmp_path, idle, status=Status.EXITED, exit_status=3)
    assert exited["turns"] == 3 and exited["failed_turns"] == 1
