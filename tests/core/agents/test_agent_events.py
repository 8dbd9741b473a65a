"""Agents report their own state through hooks: the hook program, the settings agentmux passes,
and waiting-on-you measured from the events (checked against the test's own clock)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

from agentmux.core.agents.events import (
    AGENT_EVENT,
    CLAUDE_HOOK_EVENTS,
    CODEX_TITLE_PROMPT,
    HOOK_KEY,
    INTERRUPTED,
    PROMPT_SENT,
    SECRET_ENV,
    ActivityTracker,
    activity,
    claude_settings,
    codex_notify_args,
    new_hook_secret,
)
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import run_cli, wait_for


def ev(ts: float, name: str) -> dict[str, Any]:
    if name == PROMPT_SENT:
        return {"kind": PROMPT_SENT, "ts": ts, "data": {"bytes": 3}}
    return {"kind": AGENT_EVENT, "ts": ts, "data": {"event": name}}


def test_waiting_on_you_from_events() -> None:
    events = [
        ev(0, "SessionStart"),
        ev(1, "UserPromptSubmit"),
        ev(10, "Stop"),  # idle after a finished turn: waiting for you
        ev(25, PROMPT_SENT),  # agentmux typed the next prompt: 15 s
        ev(25.2, "UserPromptSubmit"),
        ev(30, "PermissionRequest"),
        ev(32, "PostToolUse"),  # the user answered: 2 s
        ev(40, "Stop"),
    ]
    now = activity(events, now=50)
    assert now.known and now.waiting
    assert now.waiting_current == 10
    assert now.waiting_total == 15 + 2 + 10
    assert now.last_event == "Stop"
    assert now.wait_reason == "Stop" and not now.needs_answer, "idle after a turn: not asking"
    asking = activity([*events, ev(41, "PermissionRequest")], now=50)
    assert asking.needs_answer and asking.waiting_current == 10, "the wait began at the Stop"
    ended = activity([*events, ev(45, "SessionEnd")], now=50)
    assert not ended.waiting and ended.waiting_total == 15 + 2 + 5
    assert not activity([ev(5, PROMPT_SENT)], now=9).known, "no agent event: unknown"


def tracked(events: list[dict[str, Any]], interrupts: list[float]) -> ActivityTracker:
    tracker = ActivityTracker()
    for event in events:
        tracker.feed(event)
    tracker.note_interrupts(interrupts)
    return tracker


def test_an_interruption_read_from_the_transcript_ends_the_turn() -> None:
    working = [ev(0, "SessionStart"), ev(1, "UserPromptSubmit"), ev(4, "PreToolUse")]
    tracker = tracked(working, [6.0])
    now = tracker.snapshot(now=10)
    assert now.waiting and now.waiting_since == 6.0 and now.waiting_current == 4.0
    assert now.last_event == INTERRUPTED and not now.needs_answer
    tracker.note_interrupts([6.0])  # the same interruption seen on the next refresh
    assert tracker.snapshot(now=10).waiting_since == 6.0
    tracker.feed(ev(12, "UserPromptSubmit"))
    assert not tracker.snapshot(now=13).waiting and tracker.snapshot(now=13).waiting_total == 6.0

    # The turn's last tool hook may be recorded a little after the interruption: still over.
    late = tracked([*working, ev(6.5, "PostToolUse")], [6.0])
    assert late.snapshot(now=10).waiting_since == 6.0 and late.last == INTERRUPTED
    # A new prompt soon after the interruption starts a new turn: working, not waiting.
    again = tracked([*working, ev(7, "UserPromptSubmit")], [6.0])
    assert again.last == "UserPromptSubmit" and not again.snapshot(now=10).waiting
    assert again.snapshot(now=10).waiting_total == 1.0
    # An interruption of an idle agent says nothing.
    idle = tracked([*working, ev(5, "Stop")], [6.0])
    assert idle.last == "Stop" and idle.snapshot(now=10).waiting_since == 5.0


def test_every_interruption_counts_whenever_it_is_read() -> None:
    """The TUI reads interruptions as they happen, `cost` reads them all at once afterwards: the
    waiting totals must agree."""
    events = [
        ev(0, "SessionStart"),
        ev(1, "UserPromptSubmit"),
        ev(2, "PreToolUse"),
        ev(10, "UserPromptSubmit"),  # after an interruption at 4: 6 s waiting
        ev(11, "PreToolUse"),
        ev(20, "Stop"),  # 5 s waiting to 25
        ev(25, "UserPromptSubmit"),
        ev(26, "PreToolUse"),  # interrupted at 28: waiting since
    ]
    interrupts = [4.0, 28.0]
    at_once = tracked(events, interrupts).snapshot(now=30)
    live = ActivityTracker()
    for event in events:
        live.feed(event)
        live.note_interrupts([t for t in interrupts if t <= float(event["ts"])])
    live.note_interrupts(interrupts)
    as_they_came = live.snapshot(now=30)
    assert at_once == as_they_came
    assert at_once.waiting_total == 6 + 5 + 2 and at_once.waiting_since == 28.0
    # A hook recorded out of order, before an interruption already taken, goes in its place.
    racy = tracked([ev(0, "SessionStart"), ev(1, "UserPromptSubmit")], [1.2])
    racy.feed(ev(1.1, "PreToolUse"))
    assert racy.snapshot(now=3).waiting_since == 1.2


def test_settings_and_notify_arguments_name_the_hook_program() -> None:
    settings = json.loads(claude_settings("/opt/py/bin/python3"))
    assert set(settings["hooks"]) == set(CLAUDE_HOOK_EVENTS)
    (group,) = settings["hooks"]["Stop"]
    assert group["hooks"] == [
        {"type": "command", "command": "/opt/py/bin/python3 -m agentmux.commands.hook"}
    ]
    flag, value = codex_notify_args("/opt/py/bin/python3")
    assert flag == "-c"
    assert tomllib.loads(value)["notify"] == [
        "/opt/py/bin/python3",
        "-m",
        "agentmux.commands.hook",
        "--codex",
    ]


def run_hook(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentmux.commands.hook", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
        timeout=30,
    )


def keyed(manager: SessionManager, session_id: str) -> str:
    """Give a session a hook secret the test knows (the real one lives only in its agent's env)."""
    secret, digest = new_hook_secret()
    manager.store.record_event(session_id, HOOK_KEY, {"sha256": digest})
    return secret


def test_hook_program_records_and_never_fails(repo: Path, manager: SessionManager) -> None:
    record = manager.create(agent="demo", name="hooked")
    env = {
        "AGENTMUX_SESSION_ID": record.id,
        "AGENTMUX_STATE_DB": str(manager.store.path),
        SECRET_ENV: keyed(manager, record.id),
    }
    payload = {"hook_event_name": "Notification", "message": "Claude needs your permission"}
    assert run_hook(env, stdin=json.dumps(payload)).returncode == 0
    codex = {"type": "agent-turn-complete", "thread-id": "t", "last-assistant-message": "done"}
    assert run_hook(env, "--codex", json.dumps(codex)).returncode == 0
    broken = run_hook(env, stdin="{not json")
    assert broken.returncode == 0 and "not recorded" in broken.stderr
    assert run_hook({}, stdin=json.dumps(payload)).returncode == 0  # not an agentmux session
    kept = [e["data"] for e in manager.store.events(record.id, kinds=(AGENT_EVENT,))]
    assert {"event": "Notification", "message": "Claude needs your permission"} in kept
    assert {"event": "agent-turn-complete", "conversation_id": "t"} in kept  # its thread id
    verb = subprocess.run(
        [sys.executable, "-m", "agentmux", "hook", "--codex", json.dumps(codex)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert verb.returncode == 0, verb.stderr
    kinds = manager.store.events(record.id, kinds=(AGENT_EVENT,))
    assert [e["data"]["event"] for e in kinds].count("agent-turn-complete") == 2
    # Codex's own task-title turn (a payload as Codex 0.169 sends it) is not the user's turn.
    title = {
        "type": "agent-turn-complete",
        "thread-id": "side",
        "turn-id": "t2",
        "client": "codex-tui",
        "input-messages": [f"{CODEX_TITLE_PROMPT} and under five words where possible."],
        "last-assistant-message": "A task title",
    }
    assert run_hook(env, "--codex", json.dumps(title)).returncode == 0
    kinds = manager.store.events(record.id, kinds=(AGENT_EVENT,))
    assert [e["data"]["event"] for e in kinds].count("agent-turn-complete") == 2


def test_one_agent_cannot_forge_another_sessions_events(
    repo: Path, manager: SessionManager
) -> None:
    victim = manager.create(agent="demo", name="victim")
    attacker = manager.create(agent="demo", name="attacker")
    keyed(manager, victim.id)
    attacker_secret = keyed(manager, attacker.id)
    before = manager.store.events(victim.id, kinds=(AGENT_EVENT,))
    forged = {"hook_event_name": "Stop"}
    for secret in (attacker_secret, "", "0" * 32):
        env = {
            "AGENTMUX_SESSION_ID": victim.id,
            "AGENTMUX_STATE_DB": str(manager.store.path),
            SECRET_ENV: secret,
        }
        done = run_hook(env, stdin=json.dumps(forged))
        assert done.returncode == 0 and "wrong session secret" in done.stderr
    assert manager.store.events(victim.id, kinds=(AGENT_EVENT,)) == before


def hook_names(manager: SessionManager, name: str) -> list[str]:
    record = manager.get(name)
    return [str(e["data"]["event"]) for e in manager.store.events(record.id, kinds=(AGENT_EVENT,))]


def test_demo_session_reports_through_hooks_and_waiting_is_measured(
    repo: Path, manager: SessionManager
) -> None:
    manager.create(agent="demo", name="reporter", prompt=b"write a.txt hello")
    wait_for(lambda: "Stop" in hook_names(manager, "reporter"), what="the Stop hook")
    seen_stop = time.time()
    assert hook_names(manager, "reporter")[:5] == [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PostToolUse",
        "Stop",
    ]
    time.sleep(1.5)
    before_send = time.time()
    manager.send("reporter", b"ask")
    after_send = time.time()
    wait_for(
        lambda: "PermissionRequest" in hook_names(manager, "reporter"), what="the permission hook"
    )
    data = json.loads(run_cli(repo, "cost", "--json").out)
    (row,) = data["sessions"]
    waiting = row["waiting_on_you_seconds"]
    assert waiting is not None and waiting["current"] is not None, "asking: waiting for you"
    # The first wait (Stop -> the prompt typed) lies between what the test's clock saw.
    first_wait = waiting["total"] - waiting["current"]
    assert before_send - seen_stop <= first_wait <= after_send - seen_stop + 0.5
