"""The command line `agentmux resume` starts each kind of agent with: the same conversation by
its exact id (Claude Code, Codex, the demo agent), or fresh when there is none to continue."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentmux.core.agents.events import claude_settings, codex_notify_args
from agentmux.core.agents.profiles import resolve_profile
from agentmux.core.config.settings import load_config
from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.resume import plan_resume, short_id


def record_for(worktree: Path, agent: str, kind: str, started: float) -> SessionRecord:
    return SessionRecord(
        id="11111111-2222-3333-4444-555555555555",
        name="s",
        agent=agent,
        agent_kind=kind,
        agent_session_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        branch="agentmux/s",
        worktree=str(worktree),
        base_ref="main",
        base_commit="0" * 40,
        status=Status.LOST,
        created_at=started - 1,
        started_at=started,
        ended_at=started + 60,
    )


def test_claude_resumes_by_its_exact_session_id_and_keeps_its_hooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    profile = resolve_profile(load_config(None), "claude")
    record = record_for(tmp_path / "wt", "claude", "claude", time.time())
    plan = plan_resume(record, profile)
    assert (plan.mode, plan.why_fresh) == ("fresh", "its agent had not begun a conversation yet")
    assert plan.argv == profile.argv(record.agent_session_id)

    project = tmp_path / "claude" / "projects" / "-some-dir"
    project.mkdir(parents=True)
    (project / f"{record.agent_session_id}.jsonl").write_text("{}\n")
    plan = plan_resume(record, profile)
    assert plan.mode == "continue"
    assert plan.argv == [
        "claude",
        "--resume",
        record.agent_session_id,
        "--settings",
        claude_settings(),
    ]


def write_rollout(home: Path, session_id: str, cwd: Path, started: datetime) -> Path:
    day = home / "sessions" / started.strftime("%Y/%m/%d")
    day.mkdir(parents=True, exist_ok=True)
    path = day / f"rollout-{started.strftime('%Y-%m-%dT%H-%M-%S')}-{session_id}.jsonl"
    meta = {
        "timestamp": started.isoformat().replace("+00:00", "Z"),
        "type": "session_meta",
        "payload": {"id": session_id, "cwd": str(cwd), "timestamp": started.isoformat()},
    }
    path.write_text(json.dumps(meta) + "\n")
    return path


def test_codex_resumes_the_id_of_its_own_rollout_never_the_latest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "codex"
    monkeypatch.setenv("CODEX_HOME", str(home))
    worktree = tmp_path / "wt"
    worktree.mkdir()
    started = time.time() - 600
    record = record_for(worktree, "codex", "codex", started)
    profile = resolve_profile(load_config(None), "codex")
    plan = plan_resume(record, profile)
    assert (plan.mode, plan.why_fresh) == (
        "fresh",
        "Codex had not written a conversation for it yet",
    )
    assert plan.argv == profile.argv(record.agent_session_id)

    ours = "0199aaaa-0000-7000-8000-000000000001"
    when = datetime.fromtimestamp(started + 2, tz=UTC)
    write_rollout(home, "0199aaaa-0000-7000-8000-0000000000ff", worktree, when.replace(year=2020))
    write_rollout(home, ours, worktree, when)
    write_rollout(home, "0199aaaa-0000-7000-8000-000000000002", tmp_path, when)  # elsewhere
    # A later one in the same worktree: "the most recent one" would be the wrong conversation.
    later = datetime.fromtimestamp(started + 300, tz=UTC)
    write_rollout(home, "0199aaaa-0000-7000-8000-000000000003", worktree, later)
    plan = plan_resume(record, profile)
    assert (plan.mode, plan.conversation_id) == ("continue", ours)
    assert plan.argv == ["codex", "resume", ours, *codex_notify_args()]


def test_the_demo_agent_refuses_to_resume_a_conversation_it_does_not_have(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agentmux.demo_agent", "--resume", "nope"],
        cwd=tmp_path,
        env={"AGENTMUX_DEMO_HOME": str(tmp_path / "demo"), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == "No conversation found with session ID: nope"
    assert not (tmp_path / "demo").exists(), "nothing written"
    both = subprocess.run(
        [sys.executable, "-m", "agentmux.demo_agent", "--resume", "a", "--session-id", "b"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert both.returncode == 2
    assert "--session-id cannot be used with --resume" in both.stderr


def test_a_short_id_is_shown_only_where_it_tells_conversations_apart() -> None:
    assert short_id("05312467-f604-4b6d-be47-d40311f28823") == "05312467"
    # Codex ids are version 7 UUIDs: their first block is the minute they started in.
    codex = "0199aaaa-0000-7000-8000-000000000001"
    assert short_id(codex) == codex
    assert short_id("my-own-id") == "my-own-id"
