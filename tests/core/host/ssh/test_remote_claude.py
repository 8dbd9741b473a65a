"""A real Claude Code session on another host, against the local fake Anthropic API, with its
spend counted here exactly.

The host is the test sshd's second user (``amx-remote``): its own agentmux (the ``build1``
fixture's venv), and the pinned Claude Code binary from the npm tool dir, put where that user can
run it (a hard link, or a copy, in the sshd's remote directory: the tester's home stays closed).
The host's user config (``XDG_CONFIG_HOME`` set by the host's ``--agentmux`` wrapper, so other
tests' hosts are untouched) overrides the ``claude`` profile to reach the fake API with a fake
token and a ``CLAUDE_CONFIG_DIR`` pre-seeded as a person who logged in there would have it:
onboarding done, the host's clone trusted (Claude Code trusts a linked worktree of a trusted
repository). agentmux copies no credentials.

The independent source of the spend is the fake API's own log of the usage it returned, priced
by hand at the model's published rates (as tests/core/metrics/test_metrics.py does); what was
written on the host is read as root, and its processes are looked at with psutil.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil
import pytest

from agentmux.core.host.ssh import SshPool
from agentmux.core.paths import repo_key
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.sessions.remote_sessions import RemoteSessions, clone_key
from tests.conftest import CliResult, run_cli, wait_for
from tests.core.host.ssh.conftest import FAST
from tests.core.host.ssh.sshd import Sshd, chown_tree
from tests.fakeapi import anthropic as ant
from tests.npm_tools import need

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

MODEL = "claude-sonnet-4-5-20250929"
#: Published per-million-token rates of Claude Sonnet 4.5 (anthropic.com/pricing).
SONNET_45 = {
    "input_tokens": Decimal(3),
    "output_tokens": Decimal(15),
    "cache_creation_5m_input_tokens": Decimal("3.75"),
    "cache_creation_1h_input_tokens": Decimal(6),
    "cache_read_input_tokens": Decimal("0.30"),
}
NAME = "far"


def ok(done: CliResult) -> CliResult:
    assert done.code == 0, done.err
    return done


@pytest.fixture(scope="session")
def remote_claude(sshd: Sshd) -> Path:
    """The pinned Claude Code, runnable by the second user: a hard link to the npm tool's binary
    (root's, mode 0755) in a directory of that user's, or a copy when the link cannot be made."""
    binary = Path(os.path.realpath(need("claude")))
    place = sshd.remote_dir / "claude-bin"
    place.mkdir(mode=0o755, exist_ok=True)
    program = place / "claude"
    if not program.exists():
        try:
            os.link(binary, program)  # the same file: root's, never chowned (nor chmodded)
        except OSError:  # another filesystem
            shutil.copy2(binary, program)
    assert os.access(program, os.X_OK) and program.stat().st_mode & 0o005 == 0o005
    return program


def host_layout(repo: Path, home: Path) -> tuple[Path, Path]:
    """The host's clone of this repository and where its agentmux puts the worktrees (its
    default layout): known before the session, as the fake API's script names the file the
    agent writes and Claude Code's trust is given to the clone."""
    manager = SessionManager.open(repo)
    clone = home / ".local" / "share" / "agentmux" / "clones" / clone_key(manager)
    manager.close()
    root = clone.parent.parent / "worktrees" / f"{clone.name}-{repo_key(clone / '.git')[:8]}"
    return clone, root


def script(worktree: Path) -> list[ant.Step]:
    """The agent writes remote.txt in its worktree on the host, then says so."""
    return [
        ant.ToolUse(
            "Write",
            {"file_path": str(worktree / "remote.txt"), "content": "written on the host\n"},
            ant.Usage(1000, 40, cache_creation_5m=300),
            text="Writing it.",
            model=MODEL,
        ),
        ant.Text("Wrote remote.txt.", ant.Usage(1100, 12, cache_read=300), model=MODEL),
    ]


def configure_host(repo: Path, server: Sshd, remote_agentmux: Path, host: str, config: str) -> Path:
    """Give ``host``'s agentmux a user config of its own (``config.toml``'s text), in a new
    directory of the second user's, by adding the host again with an ``--agentmux`` wrapper that
    sets ``XDG_CONFIG_HOME`` (other tests' hosts keep theirs): that directory."""
    place = server.remote_dir / f"host-{uuid.uuid4().hex[:8]}"
    (place / "xdg-config" / "agentmux").mkdir(parents=True)
    (place / "xdg-config" / "agentmux" / "config.toml").write_text(config)
    wrapper = place / "agentmux"
    wrapper.write_text(
        "#!/bin/sh\n"
        f"XDG_CONFIG_HOME={shlex.quote(str(place / 'xdg-config'))} "
        f'exec {shlex.quote(str(remote_agentmux))} "$@"\n'
    )
    wrapper.chmod(0o755)
    chown_tree(place, server.user)
    ok(run_cli(repo, "host", "rm", host))
    ssh = ["--ssh-command", server.ssh_command, "--agentmux", str(wrapper)]
    ok(run_cli(repo, "host", "add", host, "amx-sshd", *ssh))
    return place


@pytest.fixture
def claude_host(
    repo: Path, build1: str, server: Sshd, remote_agentmux: Path, remote_claude: Path
) -> Iterator[tuple[str, ant.AnthropicFake, Path]]:
    """Host ``build1`` whose ``claude`` profile runs the real Claude Code against a fake API
    here: the host's name, the fake, and the session's worktree there."""
    home = Path(server.user.pw_dir)
    clone, root = host_layout(repo, home)
    worktree = root / NAME
    with ant.AnthropicFake(script(worktree)) as fake:
        claude_config = server.remote_dir / f"claude-config-{uuid.uuid4().hex[:8]}"
        claude_config.mkdir(mode=0o700)
        # Claude Code trusts a linked worktree when its repository is trusted: the clone, once.
        trusted = {str(clone): {"hasTrustDialogAccepted": True}}
        (claude_config / ".claude.json").write_text(
            json.dumps({"hasCompletedOnboarding": True, "projects": trusted})
        )
        chown_tree(claude_config, server.user)
        env = {
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_AUTH_TOKEN": "fixture-token",
            "CLAUDE_CONFIG_DIR": str(claude_config),
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "DISABLE_AUTOUPDATER": "1",
        }
        configure_host(
            repo,
            server,
            remote_agentmux,
            build1,
            "[agents.claude]\n"
            f"command = [{json.dumps(str(remote_claude))}, '--permission-mode', 'acceptEdits']\n"
            'kind = "claude"\n'
            f"env = {{ {', '.join(f'{k} = {json.dumps(v)}' for k, v in env.items())} }}\n",
        )
        yield build1, fake, worktree


def api_usage(fake: ant.AnthropicFake) -> dict[str, int]:
    """What the fake API reported for the conversation (side requests, which Claude Code does
    not write into its transcript, left out)."""
    total: dict[str, int] = dict.fromkeys(SONNET_45, 0)
    for request in fake.requests:
        if request.usage is None or request.side:
            continue
        assert request.model == MODEL
        for key in SONNET_45:
            total[key] += request.usage[key]
    return total


def cost_json(repo: Path) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(ok(run_cli(repo, "cost", "--json")).out)
    return found


def claude_processes(program: Path) -> list[psutil.Process]:
    """The host's Claude Code processes (the second user running ``program``)."""
    found = []
    for proc in psutil.process_iter(["exe", "cmdline"]):
        line = proc.info["cmdline"] or []
        if proc.info["exe"] == str(program) or (line and line[0] == str(program)):
            found.append(proc)
    return found


def test_a_remote_claude_session_spends_exactly_what_the_api_returned(
    repo: Path,
    claude_host: tuple[str, ant.AnthropicFake, Path],
    remote_claude: Path,
) -> None:
    host, fake, worktree = claude_host
    ok(run_cli(repo, "new", "--agent", "demo", "--name", "near", "write a.txt 1"))
    made = ok(run_cli(repo, "new", "--host", host, "--agent", "claude", "--name", NAME, "write it"))
    assert "on host build1" in made.out, made.out
    rows = {r["name"]: r for r in json.loads(ok(run_cli(repo, "ls", "--json")).out)}
    far = rows[NAME]
    assert (far["host"], far["agent"], far["status"]) == ("build1", "claude", "running")
    assert Path(far["worktree"]) == worktree
    assert claude_processes(remote_claude), "Claude Code runs on the host"

    # The agent's turn: the tool call wrote the file on the host (read as root, not through
    # agentmux), then the script's last reply ended the turn.
    wait_for(lambda: (worktree / "remote.txt").exists(), timeout=60, what="the agent's write")
    assert (worktree / "remote.txt").read_text() == "written on the host\n"
    assert (worktree / "remote.txt").stat().st_uid != os.getuid()
    wait_for(lambda: fake.main.done, timeout=30, what="the agent's last request")

    sent = api_usage(fake)
    expected = sum(
        (Decimal(sent[kind]) * rate for kind, rate in SONNET_45.items()), Decimal(0)
    ) / Decimal(1_000_000)
    assert expected > 0

    def far_row() -> dict[str, Any]:
        found: dict[str, Any] = next(s for s in cost_json(repo)["sessions"] if s["name"] == NAME)
        return found

    wait_for(lambda: far_row()["turns"] == 1, timeout=30, what="the remote turn counted")
    report = cost_json(repo)
    rows = {s["name"]: s for s in report["sessions"]}
    theirs = rows[NAME]
    assert theirs["host"] == "build1"
    assert theirs["models"] == [MODEL]
    tokens = theirs["tokens"]
    assert tokens == {
        "input": sent["input_tokens"],
        "output": sent["output_tokens"],
        "cache_write_5m": sent["cache_creation_5m_input_tokens"],
        "cache_write_1h": sent["cache_creation_1h_input_tokens"],
        "cache_read": sent["cache_read_input_tokens"],
    }
    assert Decimal(theirs["cost_usd"]) == expected
    assert (theirs["turns"], theirs["failed_turns"], theirs["unpriced_models"]) == (1, 0, [])

    # The totals, here, hold the remote spend beside the local session's.
    near = rows["near"]
    assert near["host"] == "local" and near["cost_usd"] is not None
    total = Decimal(near["cost_usd"]) + expected
    assert Decimal(report["totals"]["cost_usd"]) == total
    assert report["totals"]["tokens"]["input"] == near["tokens"]["input"] + sent["input_tokens"]
    table = ok(run_cli(repo, "cost")).out
    assert f"{NAME} @build1" in table
    (total_line,) = [line for line in table.splitlines() if line.split()[:2] == ["│", "total"]]
    cells = [cell.strip() for cell in total_line.strip("│ ").split("│")]
    assert cells[3] == f"{report['totals']['tokens']['input']:,}"
    assert cells[7] == f"${total:,.4f}"

    # Stopped and removed, nothing of it runs on the host.
    ok(run_cli(repo, "stop", NAME))
    ok(run_cli(repo, "rm", NAME, "--force"))
    wait_for(lambda: not claude_processes(remote_claude), timeout=10, what="Claude Code to end")


def test_a_session_whose_agent_is_slow_to_get_ready_is_known_here(
    repo: Path, build1: str, server: Sshd, remote_agentmux: Path
) -> None:
    """A host's ``new`` with a prompt waits there for the agent to be ready (Claude Code at a
    trust question: its whole ``ready_timeout``), longer than a command may take over ssh. The
    session the host made is still this repository's: found there by its name and kept here,
    with the id the host gave it (before, the timeout left it running there, unknown here)."""
    configure_host(
        repo,
        server,
        remote_agentmux,
        build1,
        "[agents.slow]\n"
        'command = ["sh", "-c", "echo starting; sleep 300"]\n'
        'ready_pattern = "never on this screen"\n'
        "ready_timeout = 15\n",
    )
    manager = SessionManager.open(repo)
    remote = RemoteSessions(manager, SshPool(replace(FAST, run_timeout=5)))
    made = remote.create(build1, agent="slow", name="slow", prompt=b"hello")
    assert (made.name, made.host) == ("slow", build1)
    assert [r.name for r in remote.records()] == ["slow"]
    remote.pool.close()
    manager.close()
    # Every verb here knows it: its stored row is the host's.
    rows = {r["name"]: r for r in json.loads(ok(run_cli(repo, "ls", "--json")).out)}
    assert rows["slow"]["host"] == build1
    assert rows["slow"]["id"] == made.id
