"""The real, pinned Claude Code in a worktree it does not trust first asks whether to trust the
folder. agentmux must show that session as waiting for you, and must not take the question for
the ready input box (a prompt typed into it would be lost). No API call is made: the question
comes first; the fake API is there only so nothing could reach the real service.
Run alone with ``pytest -m slow tests/e2e/test_claude_trust_question.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentmux.core.agents.attention import is_waiting
from agentmux.core.agents.events import AGENT_EVENT
from agentmux.core.agents.profiles import ready_regex
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import run_cli, wait_for, write_config
from tests.fakeapi import anthropic as ant
from tests.npm_tools import need
from tests.ui.test_tui import SIZE, RecordingApp, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]
READY_TIMEOUT = 6


def configure(repo: Path, claude: str, fake: ant.AnthropicFake, tmp: Path) -> None:
    """A claude-kind agent with a fresh config: onboarding done, no folder trusted."""
    config_dir = tmp / "claude-config"
    config_dir.mkdir()
    (config_dir / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
    env = {
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_AUTH_TOKEN": "fixture-token",
        "CLAUDE_CONFIG_DIR": str(config_dir),
        "CLAUDE_CODE_MAX_RETRIES": "0",
        "DISABLE_AUTOUPDATER": "1",
    }
    pairs = ", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items())
    write_config(
        repo,
        "[agents.claude-fresh]\n"
        f"command = [{json.dumps(claude)}]\n"
        'kind = "claude"\n'
        f"ready_timeout = {READY_TIMEOUT}\n"
        f"env = {{ {pairs} }}\n",
    )


def screen_of(manager: SessionManager, name: str) -> tuple[str, ...]:
    record = manager.get(name)
    text = manager.host.capture_tagged(record.tmux_pane_id or "", record.id)
    return tuple((text or "").splitlines())


async def test_the_folder_trust_question_is_waiting_for_you_and_takes_no_prompt(
    repo: Path, tmp_path: Path
) -> None:
    claude = need("claude")
    with ant.AnthropicFake([]) as fake:
        configure(repo, claude, fake, tmp_path)
        made = run_cli(repo, "new", "--agent", "claude-fresh", "--name", "fresh", "hello there")
        # The question is not the input box: the prompt is not typed into it.
        assert "prompt not delivered" in made.err, made.err
        # Said as soon as the question stays on screen, not after the whole ready_timeout.
        assert "it is asking a question first" in made.err, made.err
        manager = SessionManager.open(repo)
        profile = manager.profile_of(manager.get("fresh"))
        wait_for(
            lambda: "Enter to confirm" in "\n".join(screen_of(manager, "fresh")),
            timeout=20,
            what="the trust question",
        )
        rows = screen_of(manager, "fresh")
        assert "Yes, I trust this folder" in "\n".join(rows), rows
        pattern = ready_regex(profile)
        assert pattern is not None and pattern.search("\n".join(rows)) is None, rows
        assert is_waiting(profile, rows), rows

        # What the user sees: the pane marked, and a notification naming the session.
        app = RecordingApp(manager, radar=False)
        async with app.run_test(size=SIZE):
            await until(lambda: len(app.grid.panes) == 1, what="the pane")
            pane = app.grid.panes[manager.get("fresh").id]
            await until(
                lambda: "waiting for you" in str(pane.border_title), timeout=15, what="waiting mark"
            )
            assert pane.has_class("-waiting")
            assert any("fresh is waiting for you" in n.message for n in app._notifications)
        assert not [r for r in fake.requests if not r.side], "no conversation reached the API"
        # No hook reported anything (so the screen is what tells): the question comes before them.
        assert not manager.store.events(manager.get("fresh").id, kinds=(AGENT_EVENT,))
        assert b"hello there" not in b"".join(json.dumps(r.body).encode() for r in fake.requests)
        assert run_cli(repo, "stop", "fresh").code == 0
        manager.close()
