"""`agentmux diff` and `agentmux commit`: review a session's whole change and commit its work in
progress, with real git, tmux and the demo agent (issue 12, "Review and finish")."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from agentmux.core.errors import AgentmuxError
from agentmux.core.sessions.commit_work import AgentBusyError, commit_work, uncommitted_files
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.sessions.session_diff import file_patch, session_diff
from tests.conftest import GIT_IDENTITY, demo_transcript, git, run_cli, wait_for
from tests.core.agents.test_agent_events import hook_names

BINARY_BEFORE = bytes(range(256)) * 4
BINARY_AFTER = bytes(reversed(range(256))) * 4
OLD_TEXT = "".join(f"line {n} of a file that will be renamed\n" for n in range(20))


def _base_files(repo: Path) -> None:
    """More files on main, for every kind of change (committed, so the main tree stays clean)."""
    (repo / "old.txt").write_text(OLD_TEXT)
    (repo / "del.txt").write_text("to be deleted\n")
    (repo / "img.bin").write_bytes(BINARY_BEFORE)
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "link.txt").write_text("a file, to become a symlink\n")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "more files")


def _every_kind_of_change(worktree: Path) -> None:
    """Committed, uncommitted, untracked, deleted, binary and renamed changes, and an ignored
    file that must not show."""
    (worktree / "src" / "app.py").write_text("print('app, committed')\n")
    (worktree / "committed.txt").write_text("one\ntwo\n")
    git(worktree, "add", "--all")
    git(worktree, "commit", "--quiet", "-m", "committed work")
    (worktree / "README.md").write_text("hello\nmore, not committed\n")
    (worktree / "del.txt").unlink()
    (worktree / "img.bin").write_bytes(BINARY_AFTER)
    (worktree / "old.txt").rename(worktree / "new.txt")
    (worktree / "notes").mkdir()
    (worktree / "notes" / "u.txt").write_text("untracked\nfile\n")
    (worktree / "build.log").write_text("ignored\n")
    (worktree / "link.txt").unlink()
    (worktree / "link.txt").symlink_to("README.md")


def _untouched_state(worktree: Path) -> dict[str, object]:
    """Everything a diff must leave as it was: the index (bytes and mtime), the status, the files,
    and no index lock."""
    git_dir = Path(git(worktree, "rev-parse", "--absolute-git-dir"))
    index = git_dir / "index"
    status = subprocess.run(
        ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"],
        cwd=worktree,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},  # the test's own look refreshes nothing
        capture_output=True,
        check=True,
    ).stdout
    files = {
        str(p.relative_to(worktree)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(worktree.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.name != ".git"
    }
    return {
        "index": hashlib.sha256(index.read_bytes()).hexdigest(),
        "index_mtime": index.stat().st_mtime_ns,
        "status": status,
        "files": files,
        "locks": sorted(p.name for p in git_dir.iterdir() if p.name.endswith(".lock")),
        "head": git(worktree, "rev-parse", "HEAD"),
    }


def _independent_diff(
    repo: Path, worktree: Path, fork: str, tmp_path: Path
) -> tuple[dict[str, tuple[str, str | None, int | None, int | None]], str]:
    """What git's porcelain says of a copy of the worktree's files against the fork point: path
    -> (status letter, old path, added, deleted), and the patch. The copy has its own index."""
    copy = tmp_path / "copy"
    shutil.copytree(worktree, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    common = Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir"))
    env = {
        **os.environ,
        "GIT_DIR": str(common),
        "GIT_WORK_TREE": str(copy),
        "GIT_INDEX_FILE": str(tmp_path / "copy.index"),
    }

    def run(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=copy, env=env, capture_output=True, text=True, check=True
        ).stdout

    run("read-tree", fork)
    run("add", "--all")
    kinds: dict[str, tuple[str, str | None]] = {}
    for line in run("diff", "--cached", "-M", "--name-status", fork).splitlines():
        parts = line.split("\t")
        kinds[parts[-1]] = (parts[0][:1], parts[1] if len(parts) == 3 else None)
    found: dict[str, tuple[str, str | None, int | None, int | None]] = {}
    for line in run("diff", "--cached", "-M", "--numstat", fork).splitlines():
        added, deleted, path = line.split("\t")
        if " => " in path:
            path = path.split(" => ")[1]
        letter, old = kinds[path]
        found[path] = (
            letter,
            old,
            None if added == "-" else int(added),
            None if deleted == "-" else int(deleted),
        )
    return found, run("diff", "--cached", "-M", fork)


def by_change(data: dict[str, Any], path: str) -> str:
    return str(next(f["change"] for f in data["files"] if f["path"] == path))


def test_diff_shows_every_kind_of_change_and_touches_nothing(
    repo: Path, manager: SessionManager, tmp_path: Path
) -> None:
    _base_files(repo)
    worktree = Path(manager.create(agent="demo", name="rev").worktree)
    _every_kind_of_change(worktree)
    before = _untouched_state(worktree)

    as_json = run_cli(repo, "diff", "rev", "--json")
    assert as_json.code == 0, as_json.err
    data = json.loads(as_json.out)
    plain = run_cli(repo, "diff", "rev")
    stat = run_cli(repo, "diff", "rev", "--stat")
    assert plain.code == 0 and stat.code == 0
    assert _untouched_state(worktree) == before, "diff touched the worktree, its index or lock"

    fork = git(repo, "merge-base", "agentmux/rev", "main")
    assert data["fork_point"] == fork
    assert data["head"] == git(worktree, "rev-parse", "HEAD")
    expected, expected_patch = _independent_diff(repo, worktree, fork, tmp_path)
    letters = {"added": "A", "modified": "M", "deleted": "D", "renamed": "R", "type-changed": "T"}
    got = {
        f["path"]: (letters[f["change"]], f["old_path"], f["added"], f["deleted"])
        for f in data["files"]
    }
    assert got == expected
    assert set(got) == {
        "src/app.py", "committed.txt", "README.md", "del.txt", "img.bin", "new.txt", "notes/u.txt",
        "link.txt",
    }  # fmt: skip
    assert by_change(data, "link.txt") == "type-changed"
    assert "build.log" not in plain.out, "ignored files are not part of the change"
    by_path = {f["path"]: f for f in data["files"]}
    assert by_path["img.bin"]["binary"] is True and by_path["img.bin"]["added"] is None
    assert by_path["new.txt"]["old_path"] == "old.txt"
    uncommitted = {p for p, f in by_path.items() if f["uncommitted"]}
    assert uncommitted == {"README.md", "del.txt", "img.bin", "new.txt", "notes/u.txt", "link.txt"}
    assert plain.out == expected_patch, "the plain output is git's own unified diff"
    assert "Binary files a/img.bin and b/img.bin differ" in plain.out

    lines = stat.out.splitlines()
    assert any(line.startswith("R old.txt -> new.txt") for line in lines)
    assert any(line.startswith("M img.bin") and "binary" in line for line in lines)
    assert lines[-1].startswith("8 file(s) changed, ")
    assert "6 not committed yet" in lines[-1]

    diff = session_diff(manager, "rev")
    renamed = file_patch(manager, diff, "new.txt")
    assert "rename from old.txt\nrename to new.txt" in renamed
    assert "Binary files a/img.bin and b/img.bin differ" in file_patch(manager, diff, "img.bin")
    assert file_patch(manager, diff, "build.log") == ""
    assert "+more, not committed" in file_patch(manager, diff, "README.md")
    assert _untouched_state(worktree) == before


def test_diff_and_commit_say_one_sentence_for_a_missing_or_mid_rebase_worktree(
    repo: Path, manager: SessionManager
) -> None:
    worktree = Path(manager.create(agent="demo", name="reb").worktree)
    (worktree / "README.md").write_text("from the session\n")
    git(worktree, "commit", "--quiet", "-am", "session edit")
    (repo / "README.md").write_text("from main\n")
    git(repo, "commit", "--quiet", "-am", "main edit")
    rebase = subprocess.run(
        ["git", "rebase", "main"], cwd=worktree, capture_output=True, check=False
    )
    assert rebase.returncode != 0, "the rebase stops on its conflict"
    for verb in (("diff", "reb"), ("diff", "reb", "--json"), ("commit", "reb")):
        result = run_cli(repo, *verb)
        assert result.code == 1
        assert result.err.count("\n") == 1 and "in the middle of a rebase" in result.err
    mid = session_diff(manager, "reb")
    assert mid.files == () and mid.snapshot is None
    assert mid.unavailable == "reb: its worktree is in the middle of a rebase, so there is no diff."
    git(worktree, "rebase", "--abort")

    gone = Path(manager.create(agent="demo", name="gone").worktree)
    shutil.rmtree(gone)
    for verb in (("diff", "gone"), ("commit", "gone")):
        result = run_cli(repo, *verb)
        assert result.code == 1 and result.err.count("\n") == 1
        assert f"gone's worktree {gone} is missing" in result.err
    missing = session_diff(manager, "gone")
    assert missing.files == () and missing.unavailable is not None
    assert missing.fork_point == git(repo, "rev-parse", "agentmux/gone")
    with pytest.raises(AgentmuxError, match="is missing"):
        uncommitted_files(manager, "gone")
    nobody = run_cli(repo, "diff", "nobody")
    assert nobody.code == 1 and "there is no session named 'nobody'" in nobody.err


def test_commit_refuses_during_a_turn_and_names_the_work_after_the_first_prompt(
    repo: Path, manager: SessionManager
) -> None:
    record = manager.create(
        agent="demo", name="wip", prompt=b"  write notes.txt first draft  \nsleep 30"
    )
    worktree = Path(record.worktree)
    wait_for(lambda: (worktree / "notes.txt").exists(), what="the agent's edit")
    wait_for(lambda: hook_names(manager, "wip")[-1] == "PreToolUse", what="the agent asleep")
    (worktree / "build.log").write_text("ignored\n")
    (repo / ".git" / "info" / "exclude").write_text("*.log\n")
    tip = git(repo, "rev-parse", "agentmux/wip")
    assert uncommitted_files(manager, "wip") == 1

    refused = run_cli(repo, "commit", "wip")
    assert refused.code == 1
    assert "wip's agent is in the middle of a turn" in refused.err
    assert "--force" in refused.err and refused.err.count("\n") == 1
    assert git(repo, "rev-parse", "agentmux/wip") == tip, "nothing was committed"
    with pytest.raises(AgentBusyError):
        commit_work(manager, "wip")

    forced = run_cli(repo, "commit", "wip", "--force")
    assert forced.code == 0, forced.err
    assert "committed 1 file(s) of wip on agentmux/wip" in forced.out
    assert git(worktree, "log", "-1", "--format=%s") == "wip: write notes.txt first draft"
    assert git(worktree, "show", "--name-only", "--format=", "HEAD") == "notes.txt"
    assert (worktree / "build.log").read_text() == "ignored\n", "ignored files stay, uncommitted"
    assert git(worktree, "status", "--porcelain") == ""

    manager.tmux.send_keys_tagged(record.tmux_pane_id or "", record.id, "C-c")
    mark = "[Request interrupted by user]"
    wait_for(
        lambda: any(mark in json.dumps(r) for r in demo_transcript(manager, "wip")),
        what="the interruption",
    )
    wait_for(lambda: not manager.in_turn(manager.get("wip")), what="the agent idle")
    (worktree / "notes.txt").write_text("second draft\n")
    (worktree / "more.txt").write_text("more\n")
    after = run_cli(repo, "commit", "wip", "-m", "by hand", "--json")
    assert after.code == 0, after.err
    result = json.loads(after.out)
    assert result["files"] == 2 and result["message"] == "by hand"
    assert result["commit"] == git(repo, "rev-parse", "agentmux/wip")
    assert git(worktree, "log", "-1", "--format=%B") == "by hand"

    nothing = run_cli(repo, "commit", "wip")
    assert nothing.code == 0
    assert "nothing to commit in wip" in nothing.out
    assert git(repo, "rev-parse", "agentmux/wip") == result["commit"]


def test_commit_runs_the_repositorys_hooks_and_a_refusing_hook_commits_nothing(
    repo: Path, manager: SessionManager, tmp_path: Path
) -> None:
    worktree = Path(manager.create(agent="demo", name="hooked").worktree)
    ran = tmp_path / "hook-ran"
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\necho ran >> {ran}\nexit 0\n")
    hook.chmod(0o755)
    (worktree / "a.txt").write_text("a\n")
    git(worktree, "add", "a.txt")  # staged, as the agent left it
    (worktree / "b.txt").write_text("b\n")
    ok = run_cli(repo, "commit", "hooked")
    assert ok.code == 0, ok.err
    assert ran.read_text() == "ran\n"
    assert git(worktree, "show", "--name-only", "--format=", "HEAD").split() == ["a.txt", "b.txt"]
    assert git(worktree, "log", "-1", "--format=%s") == "hooked: work in progress"

    hook.write_text("#!/bin/sh\necho 'lint: trailing whitespace in c.txt' >&2\nexit 1\n")
    (worktree / "c.txt").write_text("c \n")
    (worktree / "d.txt").write_text("d\n")
    git(worktree, "add", "c.txt")
    index = Path(git(worktree, "rev-parse", "--git-path", "index"))
    index = index if index.is_absolute() else worktree / index
    saved = index.read_bytes()
    tip = git(repo, "rev-parse", "agentmux/hooked")
    refused = run_cli(repo, "commit", "hooked")
    assert refused.code == 1 and refused.err.count("\n") == 1
    assert "lint: trailing whitespace in c.txt" in refused.err
    assert "nothing was committed" in refused.err
    assert git(repo, "rev-parse", "agentmux/hooked") == tip
    assert index.read_bytes() == saved, "the index is as the agent left it"
    assert git(worktree, "status", "--porcelain") == "A  c.txt\n?? d.txt"


def test_commit_without_a_git_identity_says_how_to_set_one(
    repo: Path, manager: SessionManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    worktree = Path(manager.create(agent="demo", name="anon").worktree)
    (worktree / "a.txt").write_text("a\n")
    config = tmp_path / "no-identity.gitconfig"
    config.write_text("[user]\n\tuseConfigOnly = true\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    for key in (*GIT_IDENTITY, "EMAIL"):
        monkeypatch.delenv(key, raising=False)
    result = run_cli(repo, "commit", "anon")
    assert result.code == 1 and result.err.count("\n") == 1
    assert "git has no identity to make the commit with" in result.err
    assert "git config --global user.email" in result.err and "commit anon again" in result.err
    assert git(worktree, "status", "--porcelain") == "?? a.txt"


def test_commit_never_touches_another_worktree(repo: Path, manager: SessionManager) -> None:
    one = Path(manager.create(agent="demo", name="one").worktree)
    two = Path(manager.create(agent="demo", name="two").worktree)
    (one / "one.txt").write_text("1\n")
    (two / "two.txt").write_text("2\n")
    (repo / "main-wip.txt").write_text("main\n")
    before_two = _untouched_state(two)
    before_main = git(repo, "status", "--porcelain")
    time.sleep(0.01)
    assert run_cli(repo, "commit", "one").code == 0
    assert _untouched_state(two) == before_two
    assert git(repo, "status", "--porcelain") == before_main
    assert git(repo, "rev-parse", "main") == git(repo, "rev-parse", "agentmux/two")


def test_the_default_message_takes_the_first_prompt_sent_and_shortens_a_long_one(
    repo: Path, manager: SessionManager
) -> None:
    worktree = Path(manager.create(agent="demo", name="later").worktree)
    words = " ".join(f"word{n}" for n in range(15))
    sent = run_cli(repo, "send", "later", f"write x.txt {words}")
    assert sent.code == 0, sent.err
    wait_for(lambda: (worktree / "x.txt").exists(), what="the agent's edit")
    wait_for(lambda: "Stop" in hook_names(manager, "later"), what="the turn's end")
    manager.send("later", b"write y.txt second prompt")
    wait_for(lambda: (worktree / "y.txt").exists(), what="the second edit")
    wait_for(lambda: hook_names(manager, "later").count("Stop") == 2, what="idle again")
    result = run_cli(repo, "commit", "later", "--json")
    assert result.code == 0, result.err
    message = json.loads(result.out)["message"]
    subject, _, body = message.partition("\n\n")
    assert len(subject) == 72 and subject.endswith("...")
    assert subject.startswith("later: write x.txt word0 word1")
    assert f"First prompt: write x.txt {words}" in body
    assert git(worktree, "log", "-1", "--format=%B") == message.strip()
