"""A crash is a failed turn only when the agent was in a turn: what its events tell."""

from __future__ import annotations

from typing import Any

from agentmux.core.agent_events import AGENT_EVENT, PROMPT_SENT
from agentmux.core.run_turns import TurnTracker


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
    assert fed(agent("Stop", 5), agent("SessionEnd", 6)).in_turn("s1") is False
    assert fed(agent("PreToolUse", 5), agent("SessionEnd", 6)).in_turn("s1") is True
    assert fed(agent("PermissionRequest", 5)).in_turn("s1") is True  # a question mid-turn
    assert fed(agent("UserPromptSubmit", 5), agent("StopFailure", 6)).in_turn("s1") is False


def test_codex_turns_from_prompts_and_notify() -> None:
    assert fed(typed(1)).in_turn("s1") is True  # Codex reports no turn start: the prompt does
    assert fed(typed(1), agent("agent-turn-complete", 2)).in_turn("s1") is False


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
