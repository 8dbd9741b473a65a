"""The hooks agentmux gives each session, run by the real, pinned Claude Code and Codex against the
local fake APIs: every event reaches agentmux's state store through its hook program."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from agentmux.core.agents.events import (
    AGENT_EVENT,
    HOOK_KEY,
    SECRET_ENV,
    claude_settings,
    codex_notify_args,
    new_hook_secret,
)
from agentmux.core.records import SessionRecord, Status
from agentmux.core.state import StateStore
from tests.conftest import wait_for
from tests.fakeapi import anthropic as ant
from tests.fakeapi import openai_responses as oai
from tests.npm_tools import need
from tests.realcli.make_fixtures import (
    CODEX_MODEL,
    base_env,
    claude_env,
    claude_setup,
    codex_setup,
    sandbox,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _key(store: StateStore, session_id: str) -> dict[str, str]:
    """A hook secret for the session, as agentmux gives one to each agent it starts."""
    secret, digest = new_hook_secret()
    store.record_event(session_id, HOOK_KEY, {"sha256": digest})
    return {SECRET_ENV: secret}


def _store(tmp_path: Path) -> tuple[StateStore, str]:
    store = StateStore(tmp_path / "state.db")
    record = SessionRecord(
        id=str(uuid.uuid4()),
        name="real",
        agent="claude",
        agent_kind="claude",
        agent_session_id=str(uuid.uuid4()),
        branch="agentmux/real",
        worktree=str(tmp_path),
        base_ref="main",
        base_commit="0" * 40,
        status=Status.RUNNING,
        created_at=time.time(),
    )
    store.insert_session(record, ["claude"], None)
    return store, record.id


def _events(store: StateStore, session_id: str) -> list[str]:
    return [str(e["data"]["event"]) for e in store.events(session_id, kinds=(AGENT_EVENT,))]


def test_claude_code_reports_through_agentmux_hooks(tmp_path: Path) -> None:
    claude = need("claude")
    store, session_id = _store(tmp_path)
    with sandbox() as box, ant.AnthropicFake([ant.Text("Hello.", ant.Usage(100, 5))]) as fake:
        claude_setup(box)
        env = {
            **claude_env(box, fake.url),
            "AGENTMUX_SESSION_ID": session_id,
            "AGENTMUX_STATE_DB": str(store.path),
            **_key(store, session_id),
        }
        done = subprocess.run(
            [claude, "-p", "say hello", "--settings", claude_settings(sys.executable)],
            cwd=box.project,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    events = _events(store, session_id)
    for wanted in ("SessionStart", "UserPromptSubmit", "Stop"):
        assert wanted in events, events
    assert events.index("UserPromptSubmit") < events.index("Stop")


def test_codex_reports_turns_through_notify(tmp_path: Path) -> None:
    codex = need("codex")
    store, session_id = _store(tmp_path)
    reply = oai.Message("Hello.", oai.Usage(input_tokens=100, output_tokens=5))
    with sandbox() as box, oai.ResponsesFake([reply]) as fake:
        codex_setup(box, fake.url)
        env = {
            **base_env(box),
            "CODEX_HOME": str(box.codex_home),
            "FAKE_OPENAI_API_KEY": "fixture",
            "AGENTMUX_SESSION_ID": session_id,
            "AGENTMUX_STATE_DB": str(store.path),
            **_key(store, session_id),
        }
        done = subprocess.run(
            [codex, "exec", "--skip-git-repo-check", *codex_notify_args(sys.executable),
             "-m", CODEX_MODEL, "say hello"],
            cwd=box.project,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
    # Codex runs its notify program without waiting for it: `codex exec` can exit first, and on
    # a loaded machine the hook (a Python start-up) records the turn a moment later.
    wait_for(
        lambda: "agent-turn-complete" in _events(store, session_id),
        timeout=30,
        what="the notify hook's record",
    )


def test_claude_code_is_told_before_editing_a_file_another_session_changed(
    tmp_path: Path,
) -> None:
    """The PreToolUse answer agentmux gives stops the real Claude Code's Write, and the reason
    reaches the model (it is in the next request to the API)."""
    claude = need("claude")
    with sandbox() as box:
        claude_setup(box)
        base = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=box.project, capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
        other = tmp_path / "other"
        subprocess.run(
            ["git", "worktree", "add", "-q", "--detach", str(other)], cwd=box.project, check=True
        )
        (other / "README.md").write_text("the other session's work\n")
        store = StateStore(tmp_path / "state.db")
        ids = {}
        for name, tree in (("me", box.project), ("other", other)):
            record = SessionRecord(
                id=str(uuid.uuid4()), name=name, agent="claude", agent_kind="claude",
                agent_session_id=str(uuid.uuid4()), branch=f"agentmux/{name}",
                worktree=str(tree), base_ref="main", base_commit=base,
                status=Status.RUNNING, created_at=time.time(),
            )  # fmt: skip
            store.insert_session(record, ["claude"], None)
            ids[name] = record.id
        target = box.project / "README.md"
        script: list[ant.Step] = [
            ant.ToolUse(
                "Write", {"file_path": str(target), "content": "mine\n"}, ant.Usage(100, 20)
            ),
            ant.Text("Understood, leaving it.", ant.Usage(150, 6)),
        ]
        with ant.AnthropicFake(script) as fake:
            env = {
                **claude_env(box, fake.url),
                "AGENTMUX_SESSION_ID": ids["me"],
                "AGENTMUX_STATE_DB": str(store.path),
                **_key(store, ids["me"]),
                "AGENTMUX_WARN_OVERLAP": "1",
            }
            done = subprocess.run(
                [claude, "-p", "rewrite the readme", "--permission-mode", "acceptEdits",
                 "--settings", claude_settings(sys.executable)],
                cwd=box.project, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                text=True, timeout=120, check=False,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-2000:]
            bodies = [json.dumps(r.body) for r in fake.requests if not r.side]
        assert target.read_text() != "mine\n", "the edit did not land"
        assert any("has also been changed by session(s) other" in b for b in bodies[1:])
    warned = store.events(ids["me"], kinds=("overlap_warned",))
    assert [e["data"]["path"] for e in warned] == ["README.md"]
