"""Hostile prompts are data: control codes cannot end the paste early; long text arrives whole."""

from __future__ import annotations

from pathlib import Path

from agentmux.core.sessions.manager import SessionManager
from tests.conftest import demo_transcript, run_cli, wait_for


def user_prompts(manager: SessionManager, name: str) -> list[str]:
    return [
        r["message"]["content"]
        for r in demo_transcript(manager, name)
        if r.get("type") == "user" and isinstance(r.get("message", {}).get("content"), str)
    ]


def test_a_paste_end_sequence_in_a_prompt_cannot_escape_the_paste(
    repo: Path, manager: SessionManager
) -> None:
    manager.create(agent="demo", name="target")
    # Were ESC kept, "\x1b[201~" would end the bracketed paste and "\r" would submit "hello"
    # alone, the rest arriving as a second prompt.
    hostile = "hello\x1b[201~\rand the rest\x07\x1b]0;title\x07 end"
    result = run_cli(repo, "send", "target", "-", stdin=hostile.encode())
    assert result.code == 0, result.err
    wait_for(lambda: user_prompts(manager, "target"), what="the prompt")
    (prompt,) = user_prompts(manager, "target")
    assert "\x1b" not in prompt and "\x07" not in prompt
    assert prompt == "hello[201~\nand the rest]0;title end", "one prompt, not two"


def test_a_long_prompt_arrives_whole(repo: Path, manager: SessionManager) -> None:
    manager.create(agent="demo", name="target")
    text = "".join(f"line {i:05d} of a long prompt\n" for i in range(3000)).rstrip("\n")
    assert len(text) > 80_000
    result = run_cli(repo, "send", "target", "-", stdin=text.encode())
    assert result.code == 0, result.err
    wait_for(lambda: user_prompts(manager, "target"), timeout=30, what="the long prompt")
    (prompt,) = user_prompts(manager, "target")
    assert prompt == text
