"""End to end with the real, pinned Claude Code in agentmux sessions, against local fake APIs.

Four sessions start with a prompt. Three agents really write a file in their worktrees: alpha and
beta the same file, differently; gamma its own. The fourth gets an HTTP 529 from the API. Then:
`conflicts` names exactly the alpha/beta pair and file; `broadcast` reaches every agent; the hooks
report each turn; `cost` equals, to the token, the usage the fake servers sent, and counts the 529
as a failed turn; once the work is committed, `merge --all` lands gamma and alpha and leaves beta
out, naming the conflict.
Run alone with ``pytest -m slow tests/e2e/test_e2e_real_claude.py``.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from agentmux.core.agents.events import AGENT_EVENT
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import run_cli, wait_for, write_config
from tests.fakeapi import anthropic as ant
from tests.npm_tools import need
from tests.ui.test_tui import SIZE, RecordingApp, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
NAMES = ("alpha", "beta", "gamma", "flaky")
WRITERS = ("alpha", "beta", "gamma")


@pytest.fixture
def claude() -> str:
    """The pinned Claude Code."""
    return need("claude")


def scripts(worktrees: dict[str, Path]) -> dict[str, list[ant.Step]]:
    """alpha and beta write shared.txt their own way, gamma writes own.txt; flaky gets a 529.
    Every agent then answers the broadcast."""
    found: dict[str, list[ant.Step]] = {}
    for n, name in enumerate(WRITERS):
        target = "own.txt" if name == "gamma" else "shared.txt"
        found[name] = [
            ant.ToolUse(
                "Write",
                {"file_path": str(worktrees[name] / target), "content": f"{name}\n"},
                ant.Usage(1000 + n, 40, cache_creation_5m=300, cache_read=0),
                text="Writing it.",
            ),
            ant.Text(f"{name} wrote {target}.", ant.Usage(1100 + n, 12, cache_read=300)),
            ant.Text("All done here.", ant.Usage(1200 + n, 5, cache_read=600)),
        ]
    found["flaky"] = [ant.overloaded(), ant.Text("Back again.", ant.Usage(900, 4))]
    return found


@pytest.fixture
def fakes(repo: Path) -> Iterator[dict[str, ant.AnthropicFake]]:
    """One fake API per session (so each agent's script is its own)."""
    manager = SessionManager.open(repo)
    worktrees = {name: manager.worktree_root / name for name in NAMES}
    manager.close()
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(ant.AnthropicFake(script))
            for name, script in scripts(worktrees).items()
        }


def configure(
    repo: Path,
    claude: str,
    fakes: dict[str, ant.AnthropicFake],
    tmp: Path,
    *,
    subscriber: bool = False,
) -> None:
    config_dir = tmp / "claude-config"
    config_dir.mkdir()
    manager = SessionManager.open(repo)
    root = manager.worktree_root
    manager.close()
    trusted = {str(p): {"hasTrustDialogAccepted": True} for p in (root, *(root / n for n in NAMES))}
    (config_dir / ".claude.json").write_text(
        json.dumps({"hasCompletedOnboarding": True, "projects": trusted})
    )
    lines = []
    for name, fake in fakes.items():
        # A subscription login (an OAuth token) is what gets Claude Code's usage-limit messages.
        token = "CLAUDE_CODE_OAUTH_TOKEN" if subscriber else "ANTHROPIC_AUTH_TOKEN"
        env = {
            "ANTHROPIC_BASE_URL": fake.url,
            token: "sk-ant-oat01-fixture" if subscriber else "fixture-token",
            "CLAUDE_CONFIG_DIR": str(config_dir),
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "DISABLE_AUTOUPDATER": "1",
        }
        pairs = ", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items())
        lines += [
            f"[agents.claude-{name}]",
            f"command = [{json.dumps(claude)}, '--permission-mode', 'acceptEdits']",
            'kind = "claude"',
            f"env = {{ {pairs} }}",
            "",
        ]
    write_config(repo, "\n".join(lines))


def api_usage(fake: ant.AnthropicFake) -> dict[str, int]:
    """What the fake server reported for the conversation (side requests excluded)."""
    total: dict[str, int] = {}
    for request in fake.requests:
        if request.usage is None or request.side:
            continue
        for key, value in request.usage.items():
            total[key] = total.get(key, 0) + value
    return total


def agent_events(manager: SessionManager, name: str) -> list[str]:
    record = manager.get(name)
    return [str(e["data"]["event"]) for e in manager.store.events(record.id, kinds=(AGENT_EVENT,))]


def commit_all(worktree: Path) -> None:
    for args in (["add", "--all"], ["commit", "--quiet", "-m", "the agent's work"]):
        subprocess.run(["git", *args], cwd=worktree, check=True, capture_output=True)


def test_real_claude_sessions_conflict_broadcast_cost_and_merge(
    repo: Path, claude: str, fakes: dict[str, ant.AnthropicFake], tmp_path: Path
) -> None:
    configure(repo, claude, fakes, tmp_path)
    for name in NAMES:
        made = run_cli(repo, "new", "--agent", f"claude-{name}", "--name", name, "write it")
        assert made.code == 0, made.err
        assert "prompt delivered" in made.err, made.err
    manager = SessionManager.open(repo)
    ends = {"flaky": "StopFailure"}
    for name in NAMES:
        end = ends.get(name, "Stop")
        wait_for(lambda n=name, e=end: e in agent_events(manager, n), timeout=90, what=name)  # type: ignore[misc]
    for name in WRITERS:
        target = "own.txt" if name == "gamma" else "shared.txt"
        assert (Path(manager.get(name).worktree) / target).read_text() == f"{name}\n"

    found = run_cli(repo, "conflicts", "--json")
    assert found.code == 1, found.err
    data = json.loads(found.out)
    (pair,) = [p for p in data["pairs"] if p["verdict"] == "conflict"]
    assert (pair["a"], pair["b"]) == ("alpha", "beta")
    assert [(c["path"], c["kind"]) for c in pair["conflicts"]] == [("shared.txt", "add/add")]

    sent = run_cli(repo, "broadcast", "report your status")
    assert sent.code == 0, sent.err
    for name in NAMES:
        wait_for(
            lambda n=name: agent_events(manager, n).count("Stop") >= (1 if n == "flaky" else 2),  # type: ignore[misc]
            timeout=90,
            what=f"{name} answering the broadcast",
        )
        bodies = [json.dumps(r.body) for r in fakes[name].requests if not r.side]
        assert "report your status" in bodies[-1]

    report = json.loads(run_cli(repo, "cost", "--json").out)
    for row in report["sessions"]:
        sent_usage: dict[str, Any] = api_usage(fakes[row["name"]])
        tokens = row["tokens"]
        assert tokens["input"] == sent_usage["input_tokens"]
        assert tokens["output"] == sent_usage["output_tokens"]
        assert tokens["cache_read"] == sent_usage.get("cache_read_input_tokens", 0)
        assert tokens["cache_write_5m"] + tokens["cache_write_1h"] == sent_usage.get(
            "cache_creation_input_tokens", 0
        )
        assert row["turns"] == 2
        assert row["waiting_on_you_seconds"] is not None
        if row["name"] == "flaky":
            assert row["failed_turns"] == 1 and row["failure_rate"] == 0.5
            (failure,) = row["failures"]
            assert failure["kind"] == "api_error" and failure["status"] == 529
        else:
            assert row["failed_turns"] == 0

    for name in WRITERS:
        commit_all(Path(manager.get(name).worktree))
    merged = run_cli(repo, "merge", "--all", "--keep")
    assert merged.code == 1, merged.err  # beta and flaky are left out
    text = " ".join(merged.out.split())
    assert "1. gamma" in text and "2. alpha" in text
    assert "left out beta: it conflicts with gamma, alpha in shared.txt" in text
    assert (repo / "shared.txt").read_text() == "alpha\n"
    assert (repo / "own.txt").read_text() == "gamma\n"
    for name in NAMES:
        assert run_cli(repo, "stop", name).code == 0


async def test_real_claude_under_the_tui_quit_and_reopen(
    repo: Path, claude: str, fakes: dict[str, ant.AnthropicFake], tmp_path: Path
) -> None:
    """The TUI shows a real agent with its spend, quits while the agent works, and finds it again
    on re-opening: the turn it was on finished, its spend updated, nothing lost."""
    configure(repo, claude, fakes, tmp_path)
    made = run_cli(repo, "new", "--agent", "claude-alpha", "--name", "alpha", "write it")
    assert made.code == 0, made.err
    manager = SessionManager.open(repo)
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE):
        await until(lambda: len(app.grid.panes) == 1, what="the pane")
        await until(lambda: "Stop" in agent_events(manager, "alpha"), timeout=90, what="a turn")
        (pane,) = app.grid.panes.values()
        await until(lambda: "tok $" in str(pane.border_title), what="spend in the title")
        manager.send("alpha", b"report your status")  # the agent works while the TUI quits
    assert manager.get("alpha").status.value == "running"
    again = RecordingApp(manager, radar=False)
    async with again.run_test(size=SIZE):
        await until(lambda: len(again.grid.panes) == 1, what="the pane again")
        await until(
            lambda: agent_events(manager, "alpha").count("Stop") >= 2, timeout=90, what="turn 2"
        )
        (pane,) = again.grid.panes.values()
        row = json.loads(run_cli(repo, "cost", "--json").out)["sessions"][0]
        want = f"${float(row['cost_usd']):.4f}"
        await until(lambda: want in str(pane.border_title), what=f"{want} in the title")
        assert (Path(manager.get("alpha").worktree) / "shared.txt").read_text() == "alpha\n"
    assert run_cli(repo, "stop", "alpha").code == 0


def test_real_claude_usage_limit_is_a_failure_with_its_reset_time(
    repo: Path, claude: str, tmp_path: Path
) -> None:
    """A subscriber's 5-hour limit (HTTP 429 with the unified rate-limit headers) in a live
    session: counted as a usage limit, kept apart from API errors, with the reset time."""
    reset = int(time.time()) + 3 * 3600
    with ant.AnthropicFake([ant.usage_limited(reset)]) as fake:
        configure(repo, claude, {"alpha": fake}, tmp_path, subscriber=True)
        made = run_cli(repo, "new", "--agent", "claude-alpha", "--name", "alpha", "write it")
        assert made.code == 0, made.err
        manager = SessionManager.open(repo)
        wait_for(
            lambda: "StopFailure" in agent_events(manager, "alpha"), timeout=90, what="the limit"
        )
        row = json.loads(run_cli(repo, "cost", "--json").out)["sessions"][0]
        assert row["turns"] == 1 and row["failed_turns"] == 1
        (failure,) = row["failures"]
        assert failure["kind"] == "usage_limit"
        assert failure["resets_at"] is not None
        stated = datetime.fromisoformat(failure["resets_at"]).timestamp()
        assert abs(stated - reset) <= 3600, "the reset time the agent stated (to its minute/hour)"
        assert run_cli(repo, "stop", "alpha").code == 0


def test_real_claude_interrupted_by_the_user_takes_held_prompts_again(
    repo: Path, claude: str, tmp_path: Path
) -> None:
    """Escape stops a real Claude Code turn and no hook says so: agentmux reads the interruption
    from the transcript, so a prompt held for the busy agent is typed, not kept for good."""
    slow = ant.Text("thinking " * 40, ant.Usage(500, 40), chunks=40, chunk_delay=1.0)
    script = [slow, ant.Text("Held prompt answered.", ant.Usage(600, 6))]
    with ant.AnthropicFake(script) as fake:
        configure(repo, claude, {"alpha": fake}, tmp_path)
        made = run_cli(repo, "new", "--agent", "claude-alpha", "--name", "alpha", "think slowly")
        assert made.code == 0, made.err
        manager = SessionManager.open(repo)
        wait_for(
            lambda: any(not r.side for r in fake.requests), timeout=60, what="the slow request"
        )
        held = run_cli(repo, "send", "alpha", "the held prompt")
        assert held.code == 0 and "(1 waiting)" in held.err, held.err
        time.sleep(2)  # some of the reply streamed: the turn is under way
        manager.tmux.send_keys(manager.get("alpha").tmux_pane_id or "", "Escape")
        wait_for(
            lambda: (
                "interrupted"
                in [
                    f["kind"]
                    for f in json.loads(run_cli(repo, "cost", "--json").out)["sessions"][0][
                        "failures"
                    ]
                ]
            ),
            timeout=30,
            what="the interruption in the transcript",
        )
        assert "Stop" not in agent_events(manager, "alpha"), "no hook told of the interruption"
        assert manager.deliver_held_all() == ["alpha"]  # what the TUI does on its 2 s beat
        wait_for(lambda: "Stop" in agent_events(manager, "alpha"), timeout=60, what="turn 2")
        bodies = [json.dumps(r.body) for r in fake.requests if not r.side]
        assert "the held prompt" in bodies[-1]
        assert run_cli(repo, "stop", "alpha").code == 0
