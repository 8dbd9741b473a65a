"""`rm` and git repositories nested in a worktree: their commits and work count as work at risk,
and `rm --force` keeps them reachable from the outer repository (or refuses, naming them, before
anything is stopped)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from agentmux.core.errors import AgentmuxError
from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git, run_cli, write_config


def stopped_session(manager: SessionManager, name: str) -> Path:
    record = manager.create(agent="demo", name=name)
    manager.stop(name)
    return Path(record.worktree)


def nested_repo(path: Path, files: dict[str, bytes], *, commit: bool = True) -> None:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "--quiet", "--initial-branch=main")
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    if commit:
        git(path, "add", "--all")
        git(path, "commit", "--quiet", "-m", f"nested commit in {path.name}")


def has_object(repo: Path, obj: str) -> bool:
    proc = subprocess.run(
        ["git", "cat-file", "-e", obj], cwd=repo, capture_output=True, check=False
    )
    return proc.returncode == 0


def archive_refs(repo: Path) -> set[str]:
    out = git(repo, "for-each-ref", "--format=%(refname)", "refs/agentmux/")
    return set(out.split())


def gitlink(repo: Path, tree_ish: str, path: str) -> str:
    entry = git(repo, "ls-tree", tree_ish, "--", path)
    mode, kind, obj = entry.split("\t")[0].split()
    assert (mode, kind) == ("160000", "commit"), entry
    return obj


def test_rm_force_keeps_a_nested_repository_commits_and_work(repo: Path) -> None:
    manager = SessionManager.open(repo)
    try:
        worktree = stopped_session(manager, "nest")
    finally:
        manager.close()
    inner = worktree / "vendor" / "lib"
    nested_repo(inner, {"lib.py": b"committed\n"})
    committed = git(inner, "rev-parse", "HEAD")
    git(inner, "checkout", "--quiet", "-b", "side")
    (inner / "side.txt").write_text("only on a side branch\n")
    git(inner, "add", "side.txt")
    git(inner, "commit", "--quiet", "-m", "side work")
    side = git(inner, "rev-parse", "HEAD")
    git(inner, "checkout", "--quiet", "main")
    (inner / "lib.py").write_text("edited, not committed\n")
    (inner / "new.txt").write_text("untracked in the nested repo\n")
    nested_repo(inner / "deeper", {"d.txt": b"two levels down\n"})
    (inner / "deeper" / "d.txt").write_text("two levels down, edited\n")

    refused = run_cli(repo, "rm", "nest")
    assert refused.code != 0
    assert "vendor/lib" in refused.err and "nested repositor" in refused.err, refused.err
    assert worktree.exists()

    done = run_cli(repo, "rm", "nest", "--force")
    assert done.code == 0, done.err
    assert not worktree.exists()
    made = archive_refs(repo)
    listed = set(re.findall(r"refs/agentmux/\S+?(?=[,;)\s]|$)", done.err))
    assert made and made == listed, (made, done.err)
    assert "nested" in done.err

    main_ref = next(r for r in made if r.count(".nested") == 0)
    snap = gitlink(repo, main_ref, "vendor/lib")
    assert has_object(repo, snap), "the gitlink points at a commit the outer repo has"
    assert git(repo, "show", f"{snap}:lib.py") == "edited, not committed"
    assert git(repo, "show", f"{snap}:new.txt") == "untracked in the nested repo"
    for commit in (committed, side, snap):
        assert any(git(repo, "rev-list", ref).split().count(commit) for ref in made), (
            f"{commit} is reachable from an archive ref"
        )
    deeper = gitlink(repo, snap, "deeper")
    assert has_object(repo, deeper)
    assert git(repo, "show", f"{deeper}:d.txt") == "two levels down, edited"
    assert any(deeper in git(repo, "rev-list", ref).split() for ref in made)


def test_rm_force_keeps_every_byte_of_a_nested_repository_with_no_commit(
    repo: Path, manager: SessionManager
) -> None:
    record = manager.create(agent="demo", name="fresh")
    worktree = Path(record.worktree)
    data = {
        "blob.bin": bytes(range(256)) * 40,
        "dir/text.txt": b"no commit yet\n",
        "dir/crlf.txt": b"a\r\nb\r\n",
    }
    nested_repo(worktree / "scratch", data, commit=False)
    with pytest.raises(AgentmuxError, match="scratch"):
        manager.remove("fresh")
    removed = manager.remove("fresh", force=True)
    assert removed.status is Status.REMOVED, "the running agent is stopped and the rest works"
    assert not worktree.exists()
    assert removed.archive_ref is not None
    snap = gitlink(repo, removed.archive_ref, "scratch")
    assert has_object(repo, snap)
    for name, content in data.items():
        shown = subprocess.run(
            ["git", "cat-file", "blob", f"{snap}:{name}"], cwd=repo, capture_output=True, check=True
        ).stdout
        assert shown == content, name
    assert any(snap in git(repo, "rev-list", ref).split() for ref in archive_refs(repo))


def test_rm_force_refuses_an_unreadable_nested_repository_before_stopping_the_agent(
    repo: Path, manager: SessionManager
) -> None:
    record = manager.create(agent="demo", name="broken")
    worktree = Path(record.worktree)
    nested_repo(worktree / "odd", {"work.txt": b"work\n"})
    (worktree / "odd" / "work.txt").write_text("edited\n")
    (worktree / "odd" / ".git" / "index").write_bytes(b"not an index")
    with pytest.raises(AgentmuxError, match="odd"):
        manager.remove("broken", force=True)
    assert worktree.exists()
    assert record.id in manager.panes_by_session(), "the agent was not stopped"
    assert manager.get("broken").status is Status.RUNNING
    assert not archive_refs(repo)


def submodule_repo(repo: Path, tmp_path: Path) -> Path:
    """Give the test repository a submodule ``lib`` (from a local repository)."""
    origin = tmp_path / "lib-origin"
    nested_repo(origin, {"lib.txt": b"lib\n"})
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "--quiet", str(origin), "lib")
    git(repo, "commit", "--quiet", "-m", "add lib")
    return origin


def populated_submodule(manager: SessionManager, name: str) -> Path:
    worktree = stopped_session(manager, name)
    git(worktree, "-c", "protocol.file.allow=always", "submodule", "update", "--init", "--quiet")
    return worktree


def test_rm_counts_a_submodule_commit_on_another_branch_as_work(repo: Path, tmp_path: Path) -> None:
    submodule_repo(repo, tmp_path)
    manager = SessionManager.open(repo)
    try:
        worktree = populated_submodule(manager, "sub")
        lib = worktree / "lib"
        recorded = git(lib, "rev-parse", "HEAD")
        git(lib, "checkout", "--quiet", "-b", "agent-work")
        (lib / "lib.txt").write_text("the agent's change\n")
        git(lib, "commit", "--quiet", "-am", "agent commit in the submodule")
        local = git(lib, "rev-parse", "HEAD")
        git(lib, "checkout", "--quiet", recorded)
        assert git(worktree, "status", "--porcelain") == "", "the outer worktree looks clean"
        with pytest.raises(AgentmuxError, match=r"nested repositor.*lib"):
            manager.remove("sub")
        assert worktree.exists()
        removed = manager.remove("sub", force=True)
        assert removed.archive_ref is not None
        assert has_object(repo, local)
        assert any(local in git(repo, "rev-list", ref).split() for ref in archive_refs(repo))
        snap = gitlink(repo, removed.archive_ref, "lib")
        assert git(repo, "show", f"{snap}:lib.txt") == "lib"
    finally:
        manager.close()


def test_rm_of_a_clean_populated_submodule_needs_no_force(repo: Path, tmp_path: Path) -> None:
    submodule_repo(repo, tmp_path)
    manager = SessionManager.open(repo)
    try:
        worktree = populated_submodule(manager, "plain")
        assert manager.work_at_risk(manager.get("plain")).empty
        manager.remove("plain")
        assert not worktree.exists()
    finally:
        manager.close()


# Ends by leaving a nested repository git cannot read: the archive after the stop fails.
SPOILER = (
    "trap 'git init -q spoiled && echo junk > spoiled/.git/index; exit 0' TERM; "
    "echo ready; while :; do sleep 0.1; done"
)


def test_an_archive_failing_after_the_stop_deletes_nothing_and_can_be_run_again(
    repo: Path,
) -> None:
    write_config(repo, f'[agents.spoiler]\ncommand = ["sh", "-c", {json.dumps(SPOILER)}]\n')
    manager = SessionManager.open(repo)
    try:
        record = manager.create(agent="spoiler", name="late")
        worktree = Path(record.worktree)
        (worktree / "work.txt").write_text("work\n")
        with pytest.raises(AgentmuxError, match=r"after stopping its agent.*spoiled.*run again"):
            manager.remove("late", force=True)
        assert (worktree / "work.txt").exists(), "nothing was deleted"
        assert not archive_refs(repo)
        assert manager.get("late").status is not Status.REMOVED
        (worktree / "spoiled" / ".git" / "index").unlink()
        removed = manager.remove("late", force=True)
        assert removed.status is Status.REMOVED and removed.archive_ref is not None
        assert git(repo, "show", f"{removed.archive_ref}:work.txt") == "work"
    finally:
        manager.close()
