"""Every verb through the real ``agentmux`` process: output, exit status, no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agentmux.core.sessions.manager import SessionManager
from tests.conftest import CliResult, git, run_cli, wait_for, write_config

Cli = Callable[..., CliResult]


def ls_json(cli: Cli) -> list[dict[str, object]]:
    result = cli("ls", "--json")
    assert result.code == 0, result.err
    rows: list[dict[str, object]] = json.loads(result.out)
    return rows


def user_config(text: str) -> Path:
    """Write the user's own config file (trusted, unlike a repository's agentmux.toml)."""
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "agentmux"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text)
    return folder / "config.toml"


def test_new_ls_send_stop_rm_roundtrip(repo: Path, cli: Cli) -> None:
    created = cli("new", "--agent", "demo", "--name", "first", "--json", "write a.txt from-new")
    assert created.code == 0, created.err
    row = json.loads(created.out)
    assert row["name"] == "first" and row["status"] == "running"
    worktree = Path(str(row["worktree"]))
    wait_for(lambda: (worktree / "a.txt").exists(), what="prompt from `new`")

    rows = ls_json(cli)
    assert [r["name"] for r in rows] == ["first"]
    keys = {"name", "agent", "status", "branch", "worktree", "tmux", "created", "exit_status"}
    assert keys <= rows[0].keys()
    assert rows[0]["tmux"]["pane_id"].startswith("%")  # type: ignore[index]

    table = cli("ls")
    assert "first" in table.out and "agentmux/first" in table.out

    sent = cli("send", "first", "write b.txt from-send")
    assert sent.code == 0, sent.err
    wait_for(lambda: (worktree / "b.txt").exists(), what="prompt from `send`")

    assert cli("stop", "first").code == 0
    assert ls_json(cli)[0]["status"] == "stopped"
    refused = cli("rm", "first")
    assert refused.code == 1
    assert "uncommitted or untracked" in refused.err and "--force" in refused.err
    forced = cli("rm", "first", "--force")
    assert forced.code == 0, forced.err
    assert "refs/agentmux/archive/first/" in forced.err
    assert ls_json(cli) == []
    removed = json.loads(cli("ls", "--json", "--all").out)
    assert removed[0]["status"] == "removed"


def test_prompt_from_stdin_and_hostile_text_is_data(repo: Path, cli: Cli, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    prompt = f"write out.txt $(touch {marker}) `touch {marker}` 'q' \"dq\" ; rm -rf /".encode()
    created = cli("new", "--agent", "demo", "--name", "hostile", "--json", "-", stdin=prompt)
    assert created.code == 0, created.err
    worktree = Path(str(json.loads(created.out)["worktree"]))
    wait_for(lambda: (worktree / "out.txt").exists(), what="hostile prompt handled")
    assert (worktree / "out.txt").read_text() == prompt.decode().removeprefix("write out.txt ")
    assert not marker.exists(), "nothing in a prompt ever reaches a shell"


def test_non_utf8_prompt_bytes_survive(repo: Path, cli: Cli) -> None:
    created = cli(
        "new",
        "--agent",
        "demo",
        "--name",
        "bytes",
        "--json",
        "-",
        stdin=b"write raw.txt caf\xe9 \xff end",
    )
    assert created.code == 0, created.err
    worktree = Path(str(json.loads(created.out)["worktree"]))
    wait_for(lambda: (worktree / "raw.txt").exists(), what="non-UTF-8 prompt")
    assert "end" in (worktree / "raw.txt").read_text()


def test_broadcast_verb(repo: Path, cli: Cli) -> None:
    for name in ("b1", "b2"):
        assert cli("new", "--agent", "demo", "--name", name).code == 0
    result = cli("broadcast", "write hello.txt hi", "--to", "b1,b2")
    assert result.code == 0, result.err
    assert "sent to 2" in result.out
    for row in ls_json(cli):
        path = Path(str(row["worktree"])) / "hello.txt"
        wait_for(path.exists, what=f"broadcast to {row['name']}")
    bad = cli("broadcast", "x", "--to", "nope")
    assert bad.code == 1 and "no session named 'nope'" in bad.err


def test_queue_through_the_cli(repo: Path, cli: Cli) -> None:
    write_config(repo, "max_sessions = 1\n")
    assert cli("new", "--agent", "demo", "--name", "q1").code == 0
    queued = cli("new", "--agent", "demo", "--name", "q2", "write later.txt yes")
    assert queued.code == 0
    assert "queued" in queued.err
    assert [r["status"] for r in ls_json(cli)] == ["running", "queued"]
    assert "queued #1" in cli("ls").out
    assert cli("stop", "q1").code == 0
    rows = {r["name"]: r for r in ls_json(cli)}
    assert rows["q2"]["status"] == "running"
    later = Path(str(rows["q2"]["worktree"])) / "later.txt"
    wait_for(later.exists, timeout=20, what="queued prompt delivered after the slot freed")


def test_default_name_and_exit_status_in_ls(repo: Path, cli: Cli) -> None:
    user_config('[agents.seven]\ncommand = ["sh", "-c", "exit 7"]\n')
    assert cli("new", "--agent", "seven").code == 0
    wait_for(lambda: ls_json(cli)[0]["status"] == "exited", what="exit recorded")
    row = ls_json(cli)[0]
    assert row["name"] == "seven-1"
    assert row["exit_status"] == 7
    assert "exited (status 7)" in cli("ls").out


def test_attach_shows_the_agent_full_screen(repo: Path, cli: Cli, home: object) -> None:
    """Run `agentmux attach` in an outer tmux (the user's terminal) and read its screen."""
    assert cli("new", "--agent", "demo", "--name", "att").code == 0
    outer = Path(os.environ["AGENTMUX_SOCKET_DIR"]) / "outer.sock"
    command = f"cd {repo} && {sys.executable} -m agentmux attach att"
    subprocess.run(
        [
            "tmux",
            "-f",
            "/dev/null",
            "-S",
            str(outer),
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "30",
            "sh",
            "-c",
            command,
        ],
        check=True,
    )

    def outer_screen() -> str:
        return subprocess.run(
            ["tmux", "-S", str(outer), "capture-pane", "-p"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    wait_for(lambda: "demo ❯" in outer_screen(), what="attached client showing the agent")
    assert "[agentmux] att" in outer_screen()


def test_attach_inside_agentmux_tmux_switches_client(repo: Path, cli: Cli) -> None:
    assert cli("new", "--agent", "demo", "--name", "sw1").code == 0
    assert cli("new", "--agent", "demo", "--name", "sw2").code == 0
    mgr = SessionManager.open(repo)
    sock = str(mgr.tmux.socket_path)
    proc = subprocess.run(
        [sys.executable, "-m", "agentmux", "attach", "sw2"],
        cwd=repo,
        env={**os.environ, "TMUX": f"{sock},1,0"},
        capture_output=True,
        text=True,
        check=False,
    )
    # No client is attached in this test, so tmux answers that it has no client to switch:
    # what matters is that agentmux asked its own server to switch, not to nest an attach.
    assert "Traceback" not in proc.stderr
    assert "no current client" in proc.stderr or proc.returncode == 0


def test_doctor_reports_one_line_per_check(repo: Path, cli: Cli) -> None:
    result = cli("doctor")
    assert result.code == 0, result.out
    names = [line.split(":")[0] for line in result.out.splitlines()]
    for expected in ("ok   tmux", "ok   git", "ok   agent demo", "ok   state store", "ok   config"):
        assert expected in names
    assert any(
        line.startswith("warn agent claude") or line.startswith("ok   agent claude")
        for line in result.out.splitlines()
    )


def test_demo_verb_creates_a_repo_with_working_sessions(tmp_path: Path) -> None:
    target = tmp_path / "demo-here"
    result = run_cli(tmp_path, "demo", "--no-tui", "--dir", str(target), "--sessions", "2")
    assert result.code == 0, result.err
    rows = json.loads(run_cli(target, "ls", "--json").out)
    assert [r["name"] for r in rows] == ["greeter", "docs"]
    assert all(r["status"] == "running" for r in rows)
    greeter = Path(str(rows[0]["worktree"]))
    wait_for(
        lambda: git(greeter, "log", "-1", "--format=%s") == "greet people by name",
        what="demo commit",
    )
    assert git(target, "status", "--porcelain") == ""


@pytest.mark.slow
def test_sessions_survive_kill_9_of_agentmux_and_are_adopted(repo: Path) -> None:
    """`kill -9` the agentmux process mid-operation: agents keep running, `ls` adopts them."""
    user_config(
        '[agents.slow]\ncommand = ["sh", "-c", "sleep 3; echo READY; exec sleep 60"]\n'
        'ready_pattern = "READY"\n',
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentmux",
            "new",
            "--agent",
            "slow",
            "--name",
            "victim",
            "a prompt",
        ],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    mgr = SessionManager.open(repo)
    wait_for(
        lambda: mgr.store.session_by_name("victim") is not None and mgr.panes_by_session(),
        what="session started",
    )
    time.sleep(0.3)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    rows = json.loads(run_cli(repo, "ls", "--json").out)
    assert [(r["name"], r["status"]) for r in rows] == [("victim", "running")]
    assert rows[0]["prompt_pending"] is True, "the undelivered prompt is not silently lost"
    pane = mgr.panes_by_session()[str(rows[0]["id"])]
    assert not pane.dead
    assert mgr.store.integrity() == "ok"


@pytest.mark.slow
def test_two_agentmux_processes_respect_the_limit_and_names(repo: Path) -> None:
    write_config(repo, "max_sessions = 3\n")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "agentmux", "new", "--agent", "demo"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(6)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    rows = json.loads(run_cli(repo, "ls", "--json").out)
    assert sorted(str(r["name"]) for r in rows) == [f"demo-{n}" for n in range(1, 7)]
    statuses = sorted(str(r["status"]) for r in rows)
    assert statuses == ["queued"] * 3 + ["running"] * 3
    mgr = SessionManager.open(repo)
    assert mgr.store.integrity() == "ok"
    assert len(mgr.panes_by_session()) == 3


def test_new_count_starts_several_with_the_prompt(repo: Path, cli: Cli) -> None:
    result = cli(
        "new", "--agent", "demo", "--name", "team", "--count", "3", "--json", "write team.txt go"
    )
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [r["name"] for r in rows] == ["team-1", "team-2", "team-3"]
    for row in rows:
        path = Path(str(row["worktree"])) / "team.txt"
        wait_for(path.exists, what=f"prompt reaching {row['name']}")
    too_many = cli("new", "--agent", "demo", "--count", "10")
    assert too_many.code == 2 and "invalid choice" in too_many.err


def test_demo_session_limit_matches_the_demo_prompts() -> None:
    from agentmux.cli import DEMO_SESSIONS_MAX
    from agentmux.core.git.demo_repo import DEMO_PROMPTS

    assert len(DEMO_PROMPTS) == DEMO_SESSIONS_MAX


def test_new_reports_an_agent_that_already_exited(repo: Path, cli: Cli) -> None:
    user_config('[agents.quits]\ncommand = ["false"]\n')
    # With a prompt, `new` waits for the agent to be ready: it sees it exit first.
    made = cli("new", "--agent", "quits", "--name", "q1", "hello")
    assert made.code == 0, made.err
    assert "q1: exited (status 1) on agentmux/q1 in " in made.out
    assert "prompt not delivered to q1: the agent exited" in made.err
    as_json = cli("new", "--agent", "quits", "--name", "q2", "--json", "hello")
    row = json.loads(as_json.out)
    assert row["status"] == "exited" and row["exit_status"] == 1
    many = cli("new", "--agent", "quits", "--name", "q", "--count", "2", "hello")
    assert "q-1: exited (status 1)" in many.out and "q-2: exited (status 1)" in many.out
    running = cli("new", "--agent", "demo", "--name", "d", "write a.txt yes")
    assert "d: running on agentmux/d in " in running.out
