"""The demo agent run for real in sessions; its transcript checked against Claude Code's."""

from __future__ import annotations

import json
from pathlib import Path

from agentmux.core.agents.profiles import demo_transcript_root
from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.demo_agent.transcript import encode_cwd, usage_for
from tests.conftest import demo_transcript, git, screen, wait_for

FIXTURES = Path(__file__).parents[1] / "fixtures"


def turn_ended(mgr: SessionManager, name: str, turns: int = 1) -> bool:
    ends = [r for r in demo_transcript(mgr, name) if r.get("subtype") == "turn_duration"]
    return len(ends) >= turns


def test_transcript_lives_where_claude_code_puts_it(repo: Path, manager: SessionManager) -> None:
    record = manager.create(agent="demo", name="where", prompt=b"hello there")
    wait_for(lambda: turn_ended(manager, "where"), what="turn end")
    expected = (
        demo_transcript_root()
        / "projects"
        / encode_cwd(record.worktree)
        / f"{record.agent_session_id}.jsonl"
    )
    assert expected.exists()
    assert set(encode_cwd(record.worktree)) <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
    )


def test_records_have_claude_code_shape_and_deterministic_usage(
    repo: Path, manager: SessionManager
) -> None:
    prompt = "write x.txt 1\nsay something"
    manager.create(agent="demo", name="shape", prompt=prompt.encode())
    wait_for(lambda: turn_ended(manager, "shape"), what="turn end")
    reference = [
        json.loads(line)
        for line in (FIXTURES / "claude-code-2.1.197-interactive.jsonl").read_text().splitlines()
    ]
    ref_assistant = next(r for r in reference if r["type"] == "assistant")
    ours = demo_transcript(manager, "shape")
    assistants = [r for r in ours if r["type"] == "assistant"]
    for rec in assistants:
        assert set(ref_assistant) - {"requestId"} <= set(rec), "same top-level keys as Claude Code"
        assert set(ref_assistant["message"]["usage"]) - {
            "inference_geo",
            "iterations",
            "speed",
        } <= set(rec["message"]["usage"])
    # One API response written as several lines sharing message.id, the early one a placeholder.
    ids = {r["message"]["id"] for r in assistants}
    assert len(ids) == 1 and len(assistants) == 2
    assert assistants[0]["message"]["usage"]["output_tokens"] == 1
    final = assistants[-1]
    reply = final["message"]["content"][0]["text"]
    assert final["message"]["usage"] == usage_for(prompt, reply, 1)
    parents = [r["parentUuid"] for r in ours]
    uuids = [r["uuid"] for r in ours]
    assert parents[1:] == uuids[:-1], "records chain by parentUuid"
    assert ours[-1]["subtype"] == "turn_duration"


def test_fail_is_recorded_like_a_claude_code_api_error(repo: Path, manager: SessionManager) -> None:
    manager.create(agent="demo", name="failing", prompt=b"fail")
    wait_for(lambda: turn_ended(manager, "failing"), what="turn end")
    reference = next(
        json.loads(line)
        for line in (FIXTURES / "claude-code-2.1.197-interactive.jsonl").read_text().splitlines()
        if '"isApiErrorMessage": true' in line
    )
    error = next(r for r in demo_transcript(manager, "failing") if r.get("isApiErrorMessage"))
    for key in ("error", "isApiErrorMessage", "apiErrorStatus"):
        assert error[key] == reference[key]
    assert error["message"]["model"] == "<synthetic>"
    assert error["message"]["usage"]["output_tokens"] == 0
    assert "API Error: 529" in screen(manager, "failing")
    assert not [
        r
        for r in demo_transcript(manager, "failing")
        if r["type"] == "assistant" and not r.get("isApiErrorMessage")
    ]


def test_ask_waits_for_the_user(repo: Path, manager: SessionManager) -> None:
    record = manager.create(agent="demo", name="asking", prompt=b"ask\nwrite after.txt yes")
    wait_for(lambda: "Allow? [y/n]" in screen(manager, "asking"), what="permission question")
    assert not (Path(record.worktree) / "after.txt").exists()
    manager.send("asking", b"y", submit=False)
    wait_for(lambda: (Path(record.worktree) / "after.txt").exists(), what="work after yes")
    assert "Allowed" in screen(manager, "asking")


def test_exit_code_spam_sleep_and_commit(repo: Path, manager: SessionManager) -> None:
    record = manager.create(
        agent="demo", name="busy", prompt=b"spam 300\nsleep 0.3\nwrite c.txt c\ncommit demo commit"
    )
    worktree = Path(record.worktree)
    wait_for(lambda: git(worktree, "log", "-1", "--format=%s") == "demo commit", what="commit")
    assert "spam 300/300" in "\n".join(
        manager.tmux.cmd("capture-pane", "-p", "-S", "-400", "-t", str(record.tmux_pane_id))
    )
    manager.send("busy", b"exit 3")

    def exited() -> bool:
        return manager.reconcile()[0].status is Status.EXITED

    wait_for(exited, what="exit")
    assert manager.get("busy").exit_status == 3


def test_write_outside_the_worktree_is_refused(
    repo: Path, manager: SessionManager, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    manager.create(
        agent="demo",
        name="escape",
        prompt=f"write ../../{outside.name} no\nwrite {outside} no\nwrite .git/x no".encode(),
    )
    wait_for(lambda: turn_ended(manager, "escape"), what="turn end")
    assert not outside.exists()
    assert "refusing" in screen(manager, "escape")
