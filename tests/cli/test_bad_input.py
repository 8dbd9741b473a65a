"""Every bad input gets one clear sentence, a non-zero exit, no traceback, nothing half-created."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentmux.core.errors import AgentmuxError
from agentmux.core.sessions.names import MAX_NAME_LENGTH, next_free_name, validate_name
from tests.conftest import git, run_cli, write_config


def assert_one_sentence_error(result_err: str, code: int, needle: str) -> None:
    assert code != 0
    lines = [line for line in result_err.splitlines() if line.strip()]
    assert len(lines) == 1, result_err
    assert lines[0].startswith("agentmux: ")
    assert needle in lines[0], lines[0]


def assert_nothing_created(repo: Path) -> None:
    assert git(repo, "branch", "--list", "agentmux/*") == ""
    assert len(git(repo, "worktree", "list").splitlines()) == 1
    db = repo / ".git" / "agentmux" / "state.db"
    if db.exists():
        import sqlite3

        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0


def fake_bin(tmp_path: Path, name: str, script: str) -> Path:
    bindir = tmp_path / f"fake-{name}"
    bindir.mkdir(exist_ok=True)
    tool = bindir / name
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return bindir


def path_with_only(tmp_path: Path, *tools: str) -> str:
    bindir = tmp_path / "only-bin"
    bindir.mkdir(exist_ok=True)
    for tool in tools:
        found = shutil.which(tool)
        assert found
        (bindir / tool).symlink_to(found)
    return str(bindir)


def test_outside_a_git_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    result = run_cli(plain, "ls")
    assert_one_sentence_error(result.err, result.code, "not inside a git repository")


def test_bare_repository(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "--quiet", "--bare", str(bare))
    result = run_cli(bare, "new", "--agent", "demo")
    assert_one_sentence_error(result.err, result.code, "bare git repository")


def test_repository_without_commits(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    git(tmp_path, "init", "--quiet", str(empty))
    result = run_cli(empty, "new", "--agent", "demo")
    assert_one_sentence_error(result.err, result.code, "no commits yet")


@pytest.mark.parametrize(
    ("missing", "kept", "needle"),
    [
        ("tmux", ("git", "sh", "env"), "tmux is not installed"),
        ("git", ("tmux", "sh", "env"), "git is not installed"),
    ],
)
def test_missing_tool(
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    missing: str,
    kept: tuple[str, ...],
    needle: str,
) -> None:
    monkeypatch.setenv("PATH", path_with_only(tmp_path, *kept))
    result = run_cli(repo, "new", "--agent", "demo")
    assert_one_sentence_error(result.err, result.code, needle)
    monkeypatch.undo()


@pytest.mark.parametrize(
    ("tool", "version_line", "needle"),
    [
        ("tmux", "echo 'tmux 2.9a'", "tmux 2.9 is too old"),
        ("git", "echo 'git version 2.30.1'", "git 2.30.1 is too old"),
    ],
)
def test_old_tool(
    repo: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tool: str,
    version_line: str,
    needle: str,
) -> None:
    bindir = fake_bin(tmp_path, tool, version_line)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    result = run_cli(repo, "new", "--agent", "demo")
    assert_one_sentence_error(result.err, result.code, needle)
    doctor = run_cli(repo, "doctor")
    assert doctor.code == 1
    assert any(line.startswith(f"FAIL {tool}") for line in doctor.out.splitlines())


def test_unknown_agent(repo: Path) -> None:
    result = run_cli(repo, "new", "--agent", "nosuch")
    assert_one_sentence_error(result.err, result.code, "unknown agent 'nosuch'")
    assert_nothing_created(repo)


def test_agent_binary_not_installed(repo: Path) -> None:
    user = Path(os.environ["XDG_CONFIG_HOME"]) / "agentmux"
    user.mkdir(parents=True)
    (user / "config.toml").write_text('[agents.ghost]\ncommand = ["agentmux-no-such-binary"]\n')
    result = run_cli(repo, "new", "--agent", "ghost")
    assert_one_sentence_error(result.err, result.code, "'agentmux-no-such-binary'")
    assert_nothing_created(repo)


def test_claude_not_installed_names_the_install_command(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_with_only(tmp_path, "git", "tmux", "sh", "env"))
    result = run_cli(repo, "new", "--agent", "claude")
    assert_one_sentence_error(result.err, result.code, "npm install -g @anthropic-ai/claude-code")
    monkeypatch.undo()


def test_config_syntax_error_names_the_line(repo: Path) -> None:
    (repo / "agentmux.toml").write_text("max_sessions = 3\n[agents.x\ncommand = []\n")
    result = run_cli(repo, "new", "--agent", "demo")
    assert_one_sentence_error(result.err, result.code, "line 2")
    assert "not valid TOML" in result.err
    assert_nothing_created(repo)
    # A verb that reads no setting (the listing) still works, so the sessions can be seen.
    assert run_cli(repo, "ls").code == 0


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ('idle_seconds = 2\nmax_sessions = "nine"\n', 2, "max_sessions"),
        ('[agents.bad]\nkind = "generic"\ncommand = []\n', 3, "agents.bad.command"),
        ("\n\nmystery = 1\n", 3, "mystery"),
        ('[agents.re]\ncommand = ["x"]\nready_pattern = "("\n', 3, "ready_pattern"),
    ],
)
def test_config_validation_error_names_the_line(
    repo: Path, text: str, line: int, field: str
) -> None:
    (repo / "agentmux.toml").write_text(text)
    result = run_cli(repo, "new", "--agent", "demo")
    assert_one_sentence_error(result.err, result.code, f"line {line}")
    assert field in result.err
    assert_nothing_created(repo)


def test_user_config_is_read_and_repo_config_wins(repo: Path, home: object) -> None:
    user = Path(os.environ["XDG_CONFIG_HOME"]) / "agentmux"
    user.mkdir(parents=True)
    (user / "config.toml").write_text("max_sessions = 1\nidle_seconds = 9\n")
    from agentmux.core.config.settings import load_config

    assert load_config(repo).max_sessions == 1
    write_config(repo, "max_sessions = 4\n")
    config = load_config(repo)
    assert config.max_sessions == 4 and config.idle_seconds == 9


def test_corrupt_state_database(repo: Path) -> None:
    assert run_cli(repo, "ls").code == 0
    db = repo / ".git" / "agentmux" / "state.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"this is not an sqlite database" * 100)
    result = run_cli(repo, "ls")
    assert_one_sentence_error(result.err, result.code, "state database")
    assert "move it aside" in result.err
    doctor = run_cli(repo, "doctor")
    assert doctor.code == 1 and "FAIL state store" in doctor.out


def test_name_taken(repo: Path) -> None:
    assert run_cli(repo, "new", "--agent", "demo", "--name", "dup").code == 0
    result = run_cli(repo, "new", "--agent", "demo", "--name", "dup")
    assert_one_sentence_error(result.err, result.code, "already exists")
    assert (
        git(repo, "branch", "--format=%(refname:short)", "--list", "agentmux/*") == "agentmux/dup"
    )


def test_existing_branch_with_that_name(repo: Path) -> None:
    git(repo, "branch", "agentmux/taken")
    result = run_cli(repo, "new", "--agent", "demo", "--name", "taken")
    assert_one_sentence_error(result.err, result.code, "branch 'agentmux/taken' already exists")


def test_missing_base_ref(repo: Path) -> None:
    result = run_cli(repo, "new", "--agent", "demo", "--base", "no-such-branch")
    assert_one_sentence_error(result.err, result.code, "base ref 'no-such-branch' does not exist")
    assert_nothing_created(repo)
    dash = run_cli(repo, "new", "--agent", "demo", "--base=--orphan")
    assert_one_sentence_error(dash.err, dash.code, "does not exist")


def test_base_ref_is_used(repo: Path) -> None:
    git(repo, "checkout", "--quiet", "-b", "feature")
    (repo / "f.txt").write_text("f\n")
    git(repo, "add", "f.txt")
    git(repo, "commit", "--quiet", "-m", "feature work")
    git(repo, "checkout", "--quiet", "main")
    assert (
        run_cli(repo, "new", "--agent", "demo", "--name", "onfeat", "--base", "feature").code == 0
    )
    assert git(repo, "rev-parse", "agentmux/onfeat") == git(repo, "rev-parse", "feature")


@pytest.mark.parametrize(
    "name",
    ["../escape", "a/b", "-rf", "x y", "$(id)", "a.b", "a:b", "`x`", "", "é", "x" * 33, "a\nb"],
)
def test_bad_names_are_refused(repo: Path, name: str) -> None:
    result = run_cli(repo, "new", "--agent", "demo", f"--name={name}")
    assert result.code != 0
    assert "agentmux: " in result.err
    assert_nothing_created(repo)


def test_worktree_path_already_taken_creates_nothing(repo: Path) -> None:
    from agentmux.core.sessions.manager import SessionManager

    mgr = SessionManager.open(repo)
    (mgr.worktree_root / "squat").mkdir(parents=True)
    result = run_cli(repo, "new", "--agent", "demo", "--name", "squat")
    assert_one_sentence_error(result.err, result.code, "already exists")
    assert_nothing_created(repo)


def test_unknown_session_for_every_verb(repo: Path) -> None:
    for verb in (["send", "ghost", "x"], ["attach", "ghost"], ["stop", "ghost"], ["rm", "ghost"]):
        result = run_cli(repo, *verb)
        assert_one_sentence_error(result.err, result.code, "no session named 'ghost'")


def test_send_to_a_stopped_session(repo: Path) -> None:
    assert run_cli(repo, "new", "--agent", "demo", "--name", "done").code == 0
    assert run_cli(repo, "stop", "done").code == 0
    result = run_cli(repo, "send", "done", "hello")
    assert_one_sentence_error(result.err, result.code, "not running (stopped)")
    again = run_cli(repo, "stop", "done")
    assert_one_sentence_error(again.err, again.code, "not running")


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_any_accepted_name_is_safe_everywhere(name: str) -> None:
    try:
        validate_name(name)
    except AgentmuxError:
        return
    assert 0 < len(name) <= MAX_NAME_LENGTH
    assert not name.startswith("-")
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in name)
    check = subprocess.run(
        ["git", "check-ref-format", f"refs/heads/agentmux/{name}"], capture_output=True, check=False
    )
    assert check.returncode == 0


def test_next_free_name() -> None:
    assert next_free_name("demo", set()) == "demo-1"
    assert next_free_name("demo", {"demo-1", "demo-2"}) == "demo-3"
    assert validate_name(next_free_name("weird agent!", set()))


def test_a_trailing_newline_is_not_a_valid_name() -> None:
    with pytest.raises(AgentmuxError):
        validate_name("ok\n")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("max_sessions = true\n", "max_sessions"),
        ('max_sessions = "5"\n', "max_sessions"),
        ("max_sessions = 1.5\n", "max_sessions"),
        ("idle_seconds = true\n", "idle_seconds"),
        ('idle_seconds = "3"\n', "idle_seconds"),
        ("budget_usd = false\n", "budget_usd"),
        ("warn_agents_on_overlap = 1\n", "warn_agents_on_overlap"),
        ('warn_agents_on_overlap = "yes"\n', "warn_agents_on_overlap"),
        ("theme = 5\n", "theme"),
        ('[agents.x]\ncommand = ["x"]\nready_timeout = true\n', "agents.x.ready_timeout"),
        ('[agents.x]\ncommand = ["x"]\nsubmit_delay = "0.5"\n', "agents.x.submit_delay"),
        ('[agents.x]\ncommand = ["x"]\nenv = { A = 1 }\n', "agents.x.env.A"),
    ],
)
def test_config_values_of_the_wrong_type_are_refused(
    repo: Path, home: object, text: str, field: str
) -> None:
    """`max_sessions = true` is not 1 session, nor "5" five: each is one sentence naming it."""
    folder = Path(os.environ["XDG_CONFIG_HOME"]) / "agentmux"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text("# mine\n" + text)
    line = text.count("\n") + 1
    result = run_cli(repo, "new", "--agent", "demo")
    assert_one_sentence_error(
        result.err, result.code, f"config error in {folder / 'config.toml'}, line {line}: {field}:"
    )


def test_whole_numbers_are_accepted_where_a_number_is_asked() -> None:
    from agentmux.core.config.settings import Config

    config = Config.model_validate({"idle_seconds": 2, "budget_usd": 5, "max_sessions": 3})
    assert config.idle_seconds == 2 and config.budget_usd == 5 and config.max_sessions == 3
