"""End to end with the real, pinned Codex in agentmux sessions, against local fake Responses APIs.

Three sessions start with a prompt; the prompt reaches each agent once its composer is ready (never
into the folder-trust question); each agent's turn is reported through agentmux's ``notify``;
`broadcast` reaches all three; `cost` equals, to the token, the usage the fake servers sent for
the responses Codex records in its rollout. Three more run their own shell commands to write
files: two collide, `conflicts` names exactly that pair and file, and `merge --all` lands the
others. Codex's task-title request is answered apart from each script (see the fake).
Run alone with ``pytest -m slow tests/e2e/test_e2e_real_codex.py``.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from agentmux.core.agents.events import AGENT_EVENT
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import run_cli, wait_for, write_config
from tests.fakeapi import openai_responses as oai
from tests.npm_tools import need
from tests.realcli.make_fixtures import CODEX_MODEL
from tests.ui.test_tui import SIZE, RecordingApp, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
NAMES = ("one", "two", "three")


@pytest.fixture
def codex() -> str:
    """The pinned Codex."""
    return need("codex")


@pytest.fixture
def fakes() -> Iterator[dict[str, oai.ResponsesFake]]:
    """One fake API per session: a first answer, then one for the broadcast."""
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(
                oai.ResponsesFake(
                    [
                        oai.Message(f"{name} here.", oai.Usage(2000 + n, 1500, 30, 8)),
                        oai.Message("Status: fine.", oai.Usage(2100 + n, 1900, 12, 4)),
                    ]
                )
            )
            for n, name in enumerate(NAMES)
        }


def configure(
    repo: Path, codex: str, fakes: dict[str, oai.ResponsesFake], tmp: Path, settings: str = ""
) -> None:
    manager = SessionManager.open(repo)
    root = manager.worktree_root
    manager.close()
    lines = []
    for name, fake in fakes.items():
        home = tmp / f"codex-{name}"
        home.mkdir()
        (home / "config.toml").write_text(
            f'model = "{CODEX_MODEL}"\nmodel_provider = "fake"\n{settings}\n'
            f'[model_providers.fake]\nname = "fake"\nbase_url = "{fake.url}/v1"\n'
            'wire_api = "responses"\nenv_key = "FAKE_OPENAI_API_KEY"\n'
            "request_max_retries = 0\nstream_max_retries = 0\n\n"
            f'[projects."{root / name}"]\ntrust_level = "trusted"\n'
        )
        # HOME too: Codex runs its commands in a login shell, which must not read the tester's
        # profile (a pyenv lock left there once made every command hang for 60 s).
        env = {"CODEX_HOME": str(home), "HOME": str(home), "FAKE_OPENAI_API_KEY": "fixture"}
        pairs = ", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items())
        lines += [
            f"[agents.codex-{name}]",
            f"command = [{json.dumps(codex)}]",
            'kind = "codex"',
            f"env = {{ {pairs} }}",
            "",
        ]
    write_config(repo, "\n".join(lines))


def turns_done(manager: SessionManager, name: str) -> int:
    record = manager.get(name)
    events = manager.store.events(record.id, kinds=(AGENT_EVENT,))
    return sum(1 for e in events if e["data"]["event"] == "agent-turn-complete")


def test_real_codex_sessions_prompt_broadcast_and_cost(
    repo: Path, codex: str, fakes: dict[str, oai.ResponsesFake], tmp_path: Path
) -> None:
    configure(repo, codex, fakes, tmp_path)
    for name in NAMES:
        made = run_cli(repo, "new", "--agent", f"codex-{name}", "--name", name, "say hello")
        assert made.code == 0, made.err
        assert "prompt delivered" in made.err, made.err
    manager = SessionManager.open(repo)
    for name in NAMES:
        wait_for(lambda n=name: turns_done(manager, n) >= 1, timeout=90, what=name)  # type: ignore[misc]

    sent = run_cli(repo, "broadcast", "report your status")
    assert sent.code == 0, sent.err
    for name in NAMES:
        wait_for(lambda n=name: turns_done(manager, n) >= 2, timeout=90, what=f"{name} again")  # type: ignore[misc]
        bodies = [json.dumps(r.body) for r in fakes[name].requests if not r.side]
        assert "report your status" in bodies[-1]

    def cost_rows() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = json.loads(run_cli(repo, "cost", "--json").out)["sessions"]
        return rows

    # Codex runs notify as a turn completes; its rollout's last token count can land a moment later.
    wait_for(lambda: all(r["turns"] == 2 for r in cost_rows()), timeout=20, what="both turns read")
    for row in cost_rows():
        home = tmp_path / f"codex-{row['name']}"
        (rollout,) = home.glob("sessions/*/*/*/rollout-*.jsonl")
        recorded = {
            json.loads(line)["payload"]["response_id"]
            for line in rollout.read_text().splitlines()
            if '"token_usage_record"' in line
        }
        requests = fakes[row["name"]].requests
        # Codex 0.169 also makes a background request each turn that no rollout records (like
        # Claude Code's title request): real spend that no transcript reader can count.
        assert len(requests) > len(recorded)
        sent_usage: dict[str, int] = {}
        for request in requests:
            if request.response_id in recorded:
                for key, value in (request.usage or {}).items():
                    sent_usage[key] = sent_usage.get(key, 0) + value
        tokens = row["tokens"]
        assert tokens is not None, row
        cached = sent_usage["cached_input_tokens"]
        assert tokens["input"] == sent_usage["input_tokens"] - cached  # cached reads apart
        assert tokens["cache_read"] == cached
        assert tokens["output"] == sent_usage["output_tokens"]
        assert row["models"] == [CODEX_MODEL]
        assert row["turns"] == 2 and row["failed_turns"] == 0
    for name in NAMES:
        assert run_cli(repo, "stop", name).code == 0


async def test_real_codex_under_the_tui(
    repo: Path, codex: str, fakes: dict[str, oai.ResponsesFake], tmp_path: Path
) -> None:
    """The TUI over real Codex sessions: a turn reported through notify, spend in the title,
    quit and re-open with the sessions still there."""
    configure(repo, codex, fakes, tmp_path)
    made = run_cli(repo, "new", "--agent", "codex-one", "--name", "one", "say hello")
    assert made.code == 0, made.err
    manager = SessionManager.open(repo)
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE):
        await until(lambda: len(app.grid.panes) == 1, what="the pane")
        await until(lambda: turns_done(manager, "one") >= 1, timeout=90, what="a turn")
        (pane,) = app.grid.panes.values()
        await until(lambda: "tok $" in str(pane.border_title), timeout=20, what="spend")
    again = RecordingApp(manager, radar=False)
    async with again.run_test(size=SIZE):
        await until(lambda: len(again.grid.panes) == 1, what="the pane again")
        (pane,) = again.grid.panes.values()
        assert pane.record.name == "one"
    assert run_cli(repo, "stop", "one").code == 0


WRITERS = {"alpha": "shared.txt", "beta": "shared.txt", "gamma": "own.txt"}
# The agents run their own commands, as a user who trusts them would let them.
UNATTENDED = 'approval_policy = "never"\nsandbox_mode = "danger-full-access"\n'


@pytest.fixture
def writers() -> Iterator[dict[str, oai.ResponsesFake]]:
    """Each agent writes its name into a file with a shell command, then says so."""
    with ExitStack() as stack:
        yield {
            name: stack.enter_context(
                oai.ResponsesFake(
                    [
                        oai.FunctionCall(
                            "exec_command",
                            {"cmd": f"printf '%s\\n' {name} > {target}"},
                            oai.Usage(3000 + n, 0, 40, 0),
                        ),
                        oai.Message(f"Wrote {target}.", oai.Usage(3200 + n, 2900, 12, 0)),
                    ]
                )
            )
            for n, (name, target) in enumerate(WRITERS.items())
        }


def test_real_codex_sessions_edit_conflict_and_merge(
    repo: Path, codex: str, writers: dict[str, oai.ResponsesFake], tmp_path: Path
) -> None:
    configure(repo, codex, writers, tmp_path, UNATTENDED)
    for name in WRITERS:
        made = run_cli(repo, "new", "--agent", f"codex-{name}", "--name", name, "write it")
        assert made.code == 0, made.err
    manager = SessionManager.open(repo)
    for name, target in WRITERS.items():
        wait_for(lambda n=name: turns_done(manager, n) >= 1, timeout=90, what=name)  # type: ignore[misc]
        assert (Path(manager.get(name).worktree) / target).read_text() == f"{name}\n"

    found = run_cli(repo, "conflicts", "--json")
    assert found.code == 1, found.err
    (pair,) = [p for p in json.loads(found.out)["pairs"] if p["verdict"] == "conflict"]
    assert (pair["a"], pair["b"]) == ("alpha", "beta")
    assert [(c["path"], c["kind"]) for c in pair["conflicts"]] == [("shared.txt", "add/add")]

    for name in WRITERS:
        worktree = Path(manager.get(name).worktree)
        for args in (["add", "--all"], ["commit", "--quiet", "-m", "the agent's work"]):
            subprocess.run(["git", *args], cwd=worktree, check=True, capture_output=True)
    merged = run_cli(repo, "merge", "--all", "--keep")
    assert merged.code == 1, merged.err  # beta is left out
    text = " ".join(merged.out.split())
    assert "left out beta" in text and "shared.txt" in text
    assert (repo / "shared.txt").read_text() == "alpha\n"
    assert (repo / "own.txt").read_text() == "gamma\n"
    for name in WRITERS:
        assert run_cli(repo, "stop", name).code == 0
