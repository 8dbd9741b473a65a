"""Spend that carries on across conversations: Claude Code's ``/clear`` and forks, Codex resumes.

The shapes are those the pinned CLIs wrote in docs/agents-on-resume.md's runs; the real CLIs
themselves run in tests/e2e/test_e2e_resume_real.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from agentmux.core.agents.events import AGENT_EVENT, CONVERSATION, event_data
from agentmux.core.metrics.collector import MetricsCollector
from agentmux.core.metrics.resumed_transcripts import (
    ClaudeConversationReader,
    Conversations,
    last_conversation,
    merge_snapshots,
)
from agentmux.core.metrics.usage import TokenUsage, UsageSnapshot
from agentmux.core.records import SessionRecord, Status
from tests.core.metrics import test_claude_transcripts as ct
from tests.core.metrics import test_codex_rollouts as cx

FIRST = "11111111-0000-4000-8000-000000000001"
CLEARED = "22222222-0000-4000-8000-000000000002"


def write(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def claude_file(config: Path, session: str) -> Path:
    return config / "projects" / "-work-tree" / f"{session}.jsonl"


def record(kind: str, session: str = FIRST, **fields: Any) -> SessionRecord:
    values: dict[str, Any] = {
        "id": "s1",
        "name": "one",
        "agent": kind,
        "agent_kind": kind,
        "agent_session_id": session,
        "branch": "agentmux/one",
        "worktree": "/work/tree",
        "base_ref": "main",
        "base_commit": "0" * 40,
        "status": Status.RUNNING,
        "created_at": ct.T0.timestamp(),
        "started_at": ct.T0.timestamp(),
        **fields,
    }
    return SessionRecord(**values)


def hook(event: str, conversation: str, number: int = 1, session: str = "s1") -> dict[str, Any]:
    """A stored agent event, as the hook program records it from the agent's payload."""
    key = "thread-id" if event == "agent-turn-complete" else "session_id"
    data = event_data({"hook_event_name": event, "type": event, key: conversation})
    return {"id": number, "session_id": session, "kind": AGENT_EVENT, "ts": 0.0, "data": data}


def test_the_hook_keeps_which_conversation_the_agent_is_in() -> None:
    start = event_data({"hook_event_name": "SessionStart", "session_id": "abc", "source": "clear"})
    assert start == {"event": "SessionStart", "source": "clear", CONVERSATION: "abc"}
    done = event_data({"type": "agent-turn-complete", "thread-id": "t-1", "turn-id": "x"})
    assert done == {"event": "agent-turn-complete", CONVERSATION: "t-1"}
    tool = event_data({"hook_event_name": "PreToolUse", "session_id": "abc", "tool_name": "Bash"})
    assert CONVERSATION not in tool  # only the events that start or finish a conversation's turn
    assert last_conversation([hook("SessionStart", FIRST), hook("SessionStart", CLEARED, 2)]) == (
        CLEARED
    )


def test_after_clear_the_new_session_file_is_counted_too(tmp_path: Path) -> None:
    """Claude Code 2.1.330's /clear goes on under a new session id, in a new file: agentmux
    follows the id its SessionStart hook reports, so the turn after /clear is not lost."""
    config = tmp_path / "claude"
    write(
        claude_file(config, FIRST),
        [ct.prompt("remember", 0, "u1"), ct.assistant("m1", ct.usage(1000, 10, five=200), 1)],
    )
    write(
        claude_file(config, CLEARED),
        [ct.prompt("again", 10, "u2"), ct.assistant("m2", ct.usage(1500, 20, read=200), 11)],
    )
    collector = MetricsCollector({"CLAUDE_CONFIG_DIR": str(config)})
    session = record("claude")
    before = collector.usage(session)
    assert before is not None and before.total == TokenUsage(1000, 10, 200, 0, 0)
    collector.feed_events([hook("SessionStart", FIRST, 1), hook("SessionStart", CLEARED, 2)])
    after = collector.usage(session)
    assert after is not None
    assert after.total == TokenUsage(2500, 30, 200, 0, 200)
    assert len(after.turns) == 2


def test_a_one_shot_report_follows_the_new_conversation_too(tmp_path: Path) -> None:
    """``agentmux cost`` reads in bulk by the session's own id first, then takes in events: a
    session that went on in another conversation is read again with all of them."""
    config = tmp_path / "claude"
    write(
        claude_file(config, FIRST), [ct.prompt("a", 0, "u1"), ct.assistant("m1", ct.usage(7, 1), 1)]
    )
    write(
        claude_file(config, CLEARED),
        [ct.prompt("b", 5, "u2"), ct.assistant("m2", ct.usage(9, 2), 6)],
    )
    collector = MetricsCollector({"CLAUDE_CONFIG_DIR": str(config)})
    session = record("claude")
    collector.preload([session])
    collector.feed_events([hook("SessionStart", FIRST, 1), hook("SessionStart", CLEARED, 2)])
    (found,) = collector.collect([session])
    assert found.usage is not None and found.usage.total == TokenUsage(16, 3)
    assert found.turns == 2


def test_a_forked_copy_is_counted_once(tmp_path: Path) -> None:
    """``--fork-session`` starts the new file with a copy of every line of the old one (same
    message ids, request ids and uuids): read together, each response and turn counts once."""
    config = tmp_path / "claude"
    old = [ct.prompt("a", 0, "u1"), ct.assistant("m1", ct.usage(1000, 10), 1)]
    write(claude_file(config, FIRST), old)
    write(
        claude_file(config, CLEARED),
        [*old, ct.prompt("b", 5, "u2"), ct.assistant("m2", ct.usage(1700, 15), 6)],
    )
    reader = ClaudeConversationReader([FIRST, CLEARED], config)
    reader.update()
    snap = reader.snapshot()
    assert snap.total == TokenUsage(2700, 25)
    assert len(snap.turns) == 2
    assert len(reader.files) == 2


def codex_rollout(
    home: Path, sid: str, at: float, turns: list[tuple[float, dict[str, int]]]
) -> Path:
    records: list[dict[str, Any]] = [cx.meta(at, sid=sid), cx.context("gpt-6.1-sol", at + 0.5)]
    for when, total in turns:
        records += [
            cx.event("task_started", when),
            cx.count(total, None, when + 0.5),
            cx.event("task_complete", when + 1),
        ]
    path = cx.rollout_path(home, sid=sid, clock=f"09-{int(at) // 60:02d}-{int(at) % 60:02d}")
    path.write_bytes(cx.lines(records))
    return path


def codex_record(**fields: Any) -> SessionRecord:
    return record("codex", session="agentmux-own-id", created_at=cx.T0.timestamp(), **fields)


def test_a_resumed_codex_is_found_though_its_rollout_began_in_an_earlier_run(
    tmp_path: Path,
) -> None:
    """``codex resume`` goes on in the rollout of the first run, whose ``session_meta`` is older
    than the resumed run's start: the rollout is looked for since the session's creation."""
    home = tmp_path / "codex"
    first = cx.tokens(2000, 1500, 30, 8)
    both = cx.tokens(4600, 3400, 42, 12)  # the resumed process's total carries on
    codex_rollout(home, "t-1", 0, [(1, first), (600, both)])
    resumed = codex_record(started_at=cx.T0.timestamp() + 500)
    collector = MetricsCollector({"CODEX_HOME": str(home)})
    (found,) = collector.collect([resumed])
    assert found.usage is not None
    assert found.usage.total == TokenUsage(input=1200, output=42, cache_read=3400)
    assert found.turns == 2


def test_a_codex_that_went_on_in_another_rollout_is_counted_in_both(tmp_path: Path) -> None:
    """A fresh Codex in the same worktree writes a new rollout; its id comes with the turn's
    notify: both rollouts count, each once."""
    home = tmp_path / "codex"
    codex_rollout(home, "t-1", 0, [(1, cx.tokens(2000, 1500, 30))])
    codex_rollout(home, "t-2", 100, [(101, cx.tokens(900, 0, 9))])
    collector = MetricsCollector({"CODEX_HOME": str(home)})
    session = codex_record()
    (alone,) = collector.collect([session])
    assert alone.usage is not None and alone.usage.total == TokenUsage(500, 30, cache_read=1500)
    collector.feed_events(
        [hook("agent-turn-complete", "t-1", 1), hook("agent-turn-complete", "t-2", 2)]
    )
    (found,) = collector.collect([session])
    assert found.usage is not None
    assert found.usage.total == TokenUsage(1400, 39, cache_read=1500)
    assert found.turns == 2


def test_conversations_are_kept_per_session_in_order() -> None:
    seen = Conversations()
    assert seen.feed(hook("SessionStart", FIRST, 1)) == FIRST
    assert seen.feed(hook("SessionStart", FIRST, 2)) is None  # a resume: the same one
    assert seen.feed(hook("SessionStart", CLEARED, 3)) == CLEARED
    assert seen.feed(hook("SessionStart", "x", 4, session="s2")) == "x"
    assert seen.feed({"id": 5, "session_id": "s1", "kind": "prompt_sent", "data": {}}) is None
    assert seen.of("s1") == [FIRST, CLEARED]
    assert seen.of("s2") == ["x"]


def test_merged_snapshots_add_up() -> None:
    a = UsageSnapshot(turns=(ct.T0,), first=ct.T0, last=ct.T0, malformed_lines=1)
    b = UsageSnapshot(failed_turns=1, malformed_lines=2)
    merged = merge_snapshots([a, b])
    assert merged.turns == (ct.T0,) and merged.failed_turns == 1 and merged.malformed_lines == 3
    assert merged.first == ct.T0 and merged.last == ct.T0
    assert merge_snapshots([]) == UsageSnapshot()
