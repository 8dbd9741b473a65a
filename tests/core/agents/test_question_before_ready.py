"""An agent that asks a question before it can take a prompt (Claude Code's folder-trust question
is the real one: ``tests/e2e/test_claude_trust_question.py``): the prompt is never typed into the
question, and ``new`` says so as soon as the question stays on screen, not after the whole
``ready_timeout``. Real processes in a real tmux: a shell that asks and waits for an answer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agentmux.core.sessions.manager import SessionManager
from tests.conftest import run_cli, write_config

ASKER = "printf 'Trust this folder? (y/n)'; read answer; echo \"answered: $answer\"; sleep 600"


@pytest.mark.parametrize(
    "ready", ['ready_pattern = "^> "\n', ""], ids=["ready-pattern", "settled-screen"]
)
def test_a_question_first_ends_the_wait_and_takes_no_prompt(repo: Path, ready: str) -> None:
    write_config(
        repo,
        "[agents.asker]\n"
        f'command = ["sh", "-c", {json.dumps(ASKER)}]\n'
        + ready
        + 'waiting_pattern = "\\\\(y/n\\\\)$"\n'
        + "ready_timeout = 30\n",
    )
    start = time.monotonic()
    made = run_cli(repo, "new", "--agent", "asker", "--name", "ask", "hello there")
    took = time.monotonic() - start
    assert made.code == 0, made.err
    assert "prompt not delivered to ask: it is asking a question first" in made.err, made.err
    assert took < 15, f"new waited {took:.1f} s, most of ready_timeout"
    # The question was not answered with the prompt: the shell still waits at its read.
    time.sleep(1)
    assert _screen_has(repo, "Trust this folder? (y/n)")
    assert not _screen_has(repo, "answered:")


def _screen_has(repo: Path, text: str) -> bool:
    manager = SessionManager.open(repo)
    try:
        record = manager.get("ask")
        screen = manager.host.capture_tagged(record.tmux_pane_id or "", record.id) or ""
    finally:
        manager.close()
    return text in screen
