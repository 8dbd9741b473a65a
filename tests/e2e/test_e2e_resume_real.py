"""Resume with the real, pinned Claude Code and Codex, against the local fake APIs.

A session gets a prompt and finishes its turn; its private tmux server is killed (a reboot);
`agentmux resume NAME` brings the agent back and a second prompt is sent. The fake API must see
the first turn in the second turn's request (the conversation went on, not a fresh one), and
`agentmux cost --json` must count both turns' tokens exactly once, against what the fake API
itself served. Also Claude Code's ``/clear``, which goes on under a new session id, in a new file.
What the CLIs do on resume is written up in docs/agents-on-resume.md.
Run alone with ``pytest -m slow tests/e2e/test_e2e_resume_real.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agentmux.core.agents.events import AGENT_EVENT
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import run_cli, wait_for
from tests.core.tmux.test_reused_pane_ids import live_screen
from tests.e2e.test_e2e_real_claude import api_usage
from tests.e2e.test_e2e_real_claude import configure as configure_claude
from tests.e2e.test_e2e_real_codex import configure as configure_codex
from tests.fakeapi import anthropic as ant
from tests.fakeapi import openai_responses as oai
from tests.npm_tools import need

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
WORD = "PINEAPPLE"


def events(manager: SessionManager, name: str) -> list[dict[str, Any]]:
    record = manager.get(name)
    return [e["data"] for e in manager.store.events(record.id, kinds=(AGENT_EVENT,))]


def count(manager: SessionManager, name: str, event: str) -> int:
    return sum(1 for data in events(manager, name) if data["event"] == event)


def cost_row(repo: Path) -> dict[str, Any]:
    done = run_cli(repo, "cost", "--json")
    assert done.code == 0, done.err
    (row,) = json.loads(done.out)["sessions"]
    result: dict[str, Any] = row
    return result


def kill_tmux(manager: SessionManager) -> None:
    """What a reboot does to agentmux's agents: the private tmux server is gone."""
    manager.tmux.kill_server()


def resume(repo: Path, name: str) -> None:
    done = run_cli(repo, "resume", name, timeout=120)
    assert done.code == 0, done.err


def conversation_bodies(requests: list[Any]) -> list[str]:
    return [json.dumps(r.body) for r in requests if not r.side and r.body is not None]


def test_real_claude_resumed_goes_on_in_the_same_conversation_and_counts_once(
    repo: Path, tmp_path: Path
) -> None:
    claude = need("claude")
    script = [
        ant.Text("First answer.", ant.Usage(1000, 10, cache_creation_5m=200)),
        ant.Text("Second answer.", ant.Usage(1500, 20, cache_read=200)),
    ]
    with ant.AnthropicFake(script) as fake:
        configure_claude(repo, claude, {"alpha": fake}, tmp_path)
        made = run_cli(
            repo, "new", "--agent", "claude-alpha", "--name", "alpha", f"remember {WORD}"
        )
        assert made.code == 0, made.err
        manager = SessionManager.open(repo)
        wait_for(lambda: count(manager, "alpha", "Stop") == 1, timeout=90, what="turn 1")
        first_id = manager.get("alpha").agent_session_id

        kill_tmux(manager)
        resume(repo, "alpha")
        # Claude Code says it resumed, under the same session id: its transcript goes on.
        wait_for(
            lambda: count(manager, "alpha", "SessionStart") == 2, timeout=60, what="the restart"
        )
        start = [d for d in events(manager, "alpha") if d["event"] == "SessionStart"][-1]
        assert start.get("source") == "resume" and start.get("conversation_id") == first_id
        wait_for(lambda: "❯" in live_screen(manager, "alpha"), timeout=60, what="ready again")
        sent = run_cli(repo, "send", "alpha", "what was the word?")
        assert sent.code == 0, sent.err
        wait_for(lambda: count(manager, "alpha", "Stop") == 2, timeout=90, what="turn 2")

        bodies = conversation_bodies(fake.requests)
        assert len(bodies) == 2
        assert WORD in bodies[1] and "First answer." in bodies[1], "the conversation went on"
        transcripts = list((tmp_path / "claude-config" / "projects").glob("*/*.jsonl"))
        assert [p.name for p in transcripts] == [f"{first_id}.jsonl"], "one file, no copy"

        row = cost_row(repo)
        served = api_usage(fake)
        tokens = row["tokens"]
        assert tokens["input"] == served["input_tokens"] == 2500
        assert tokens["output"] == served["output_tokens"] == 30
        assert tokens["cache_read"] == served["cache_read_input_tokens"] == 200
        assert tokens["cache_write_5m"] == served["cache_creation_input_tokens"] == 200
        assert_turns(row, answered=2, lost_turns=0)
        assert run_cli(repo, "stop", "alpha").code == 0


def assert_turns(row: dict[str, Any], answered: int, lost_turns: int) -> None:
    """Both prompts were answered; the reboot is a failure of its own, kept across the resume,
    and a failed turn only when it is not known to have come between turns (Claude Code's hooks
    say it did; Codex's do not: agentmux.core.metrics.run_turns)."""
    assert [f["kind"] for f in row["failures"]] == ["exit"]
    assert row["turns"] == answered + lost_turns
    assert row["failed_turns"] == lost_turns


def test_real_claude_clear_goes_on_in_a_new_session_and_is_counted(
    repo: Path, tmp_path: Path
) -> None:
    """``/clear`` starts a new session id and file: the turn after it is counted too."""
    claude = need("claude")
    script = [
        ant.Text("First answer.", ant.Usage(1000, 10, cache_creation_5m=200)),
        ant.Text("Fresh answer.", ant.Usage(700, 7)),
    ]
    with ant.AnthropicFake(script) as fake:
        configure_claude(repo, claude, {"alpha": fake}, tmp_path)
        made = run_cli(
            repo, "new", "--agent", "claude-alpha", "--name", "alpha", f"remember {WORD}"
        )
        assert made.code == 0, made.err
        manager = SessionManager.open(repo)
        wait_for(lambda: count(manager, "alpha", "Stop") == 1, timeout=90, what="turn 1")
        assert run_cli(repo, "send", "alpha", "/clear").code == 0
        wait_for(lambda: count(manager, "alpha", "SessionStart") == 2, timeout=60, what="the clear")
        start = [d for d in events(manager, "alpha") if d["event"] == "SessionStart"][-1]
        first_id = manager.get("alpha").agent_session_id
        assert start.get("source") == "clear" and start.get("conversation_id") != first_id
        assert run_cli(repo, "send", "alpha", "what was the word?").code == 0
        wait_for(lambda: count(manager, "alpha", "Stop") == 2, timeout=90, what="turn 2")
        bodies = conversation_bodies(fake.requests)
        assert WORD not in bodies[-1], "a cleared conversation starts afresh"

        row = cost_row(repo)
        served = api_usage(fake)
        tokens = row["tokens"]
        assert tokens["input"] == served["input_tokens"] == 1700
        assert tokens["output"] == served["output_tokens"] == 17
        assert tokens["cache_write_5m"] == served["cache_creation_input_tokens"] == 200
        assert row["turns"] == 2 and row["failed_turns"] == 0
        assert run_cli(repo, "stop", "alpha").code == 0


def test_real_codex_resumed_goes_on_in_the_same_rollout_and_counts_once(
    repo: Path, tmp_path: Path
) -> None:
    codex = need("codex")
    script = [
        oai.Message("First answer.", oai.Usage(2000, 1500, 30, 8)),
        oai.Message("Second answer.", oai.Usage(2600, 1900, 12, 4)),
    ]
    with oai.ResponsesFake(script) as fake:
        configure_codex(repo, codex, {"one": fake}, tmp_path)
        made = run_cli(repo, "new", "--agent", "codex-one", "--name", "one", f"remember {WORD}")
        assert made.code == 0, made.err
        manager = SessionManager.open(repo)
        wait_for(lambda: count(manager, "one", "agent-turn-complete") == 1, timeout=90, what="1")
        home = tmp_path / "codex-one"
        (rollout,) = home.glob("sessions/*/*/*/rollout-*.jsonl")
        thread = json.loads(rollout.read_text().splitlines()[0])["payload"]["id"]
        assert events(manager, "one")[-1].get("conversation_id") == thread

        kill_tmux(manager)
        resume(repo, "one")
        wait_for(lambda: "? for shortcuts" in live_screen(manager, "one"), timeout=60, what="ready")
        sent = run_cli(repo, "send", "one", "what was the word?")
        assert sent.code == 0, sent.err
        wait_for(lambda: count(manager, "one", "agent-turn-complete") == 2, timeout=90, what="2")

        bodies = conversation_bodies(fake.requests)
        assert len(bodies) == 2
        assert WORD in bodies[1] and "First answer." in bodies[1], "the conversation went on"
        assert list(home.glob("sessions/*/*/*/rollout-*.jsonl")) == [rollout], "the same rollout"
        assert events(manager, "one")[-1].get("conversation_id") == thread

        # Codex runs notify as a turn completes; its rollout's last token count can land later.
        wait_for(lambda: cost_row(repo)["tokens"]["output"] == 42, timeout=20, what="turn 2 read")
        row = cost_row(repo)
        served: dict[str, int] = {}
        for request in fake.requests:
            if not request.side:
                for key, value in (request.usage or {}).items():
                    served[key] = served.get(key, 0) + value
        tokens = row["tokens"]
        assert tokens["input"] == served["input_tokens"] - served["cached_input_tokens"] == 1200
        assert tokens["cache_read"] == served["cached_input_tokens"] == 3400
        assert tokens["output"] == served["output_tokens"] == 42
        assert_turns(row, answered=2, lost_turns=1)
        assert run_cli(repo, "stop", "one").code == 0


def test_real_claude_resumed_after_clear_goes_on_in_the_cleared_conversation(
    repo: Path, tmp_path: Path
) -> None:
    claude = need("claude")
    script = [
        ant.Text("First answer.", ant.Usage(1000, 10)),
        ant.Text("Fresh answer.", ant.Usage(700, 7)),
        ant.Text("Resumed answer.", ant.Usage(800, 8)),
    ]
    with ant.AnthropicFake(script) as fake:
        configure_claude(repo, claude, {"alpha": fake}, tmp_path)
        made = run_cli(
            repo, "new", "--agent", "claude-alpha", "--name", "alpha", f"remember {WORD}"
        )
        assert made.code == 0, made.err
        manager = SessionManager.open(repo)
        wait_for(lambda: count(manager, "alpha", "Stop") == 1, timeout=90, what="turn 1")
        assert run_cli(repo, "send", "alpha", "/clear").code == 0
        wait_for(lambda: count(manager, "alpha", "SessionStart") == 2, timeout=60, what="clear")
        assert run_cli(repo, "send", "alpha", "remember MANGO").code == 0
        wait_for(lambda: count(manager, "alpha", "Stop") == 2, timeout=90, what="turn 2")
        kill_tmux(manager)
        resume(repo, "alpha")
        wait_for(lambda: count(manager, "alpha", "SessionStart") == 3, timeout=60, what="resume")
        wait_for(lambda: "❯" in live_screen(manager, "alpha"), timeout=60, what="ready again")
        assert run_cli(repo, "send", "alpha", "what was the word?").code == 0
        wait_for(lambda: count(manager, "alpha", "Stop") == 3, timeout=90, what="turn 3")
        bodies = conversation_bodies(fake.requests)
        assert run_cli(repo, "stop", "alpha").code == 0
        assert "MANGO" in bodies[-1] and WORD not in bodies[-1], "the conversation it was in"
