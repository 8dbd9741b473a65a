"""`new` and `merge` run from a linked worktree, on remote and tag bases, without a git identity,
and the sentences they fail with (issue 11 items 12, 13 and 17)."""

from __future__ import annotations

import os
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from agentmux.core.git.demo_repo import make_demo_repo
from agentmux.core.git.repo import GitError, discover_repo, run_git
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import GIT_IDENTITY, git, run_cli
from tests.core.git.test_merge import commit, session, state


def test_new_and_merge_from_a_linked_worktree_use_its_branch(repo: Path, tmp_path: Path) -> None:
    """Item 12: the branch checked out where the command runs, and that worktree's files."""
    linked = tmp_path / "feature-tree"
    git(repo, "worktree", "add", "--quiet", "-b", "feature", str(linked))
    commit(linked, "feature.txt", "feature\n")
    with closing(SessionManager.open(linked)) as manager:
        record = manager.create(agent="demo", name="a")
        assert record.base_ref == "feature"
        assert record.base_commit == git(linked, "rev-parse", "HEAD")
        commit(Path(record.worktree), "a.txt", "a\n")
    main_before = state(repo)

    result = run_cli(linked, "merge", "a", "--keep")
    assert result.code == 0, result.err
    assert "into feature" in result.out
    assert (linked / "a.txt").read_text() == "a\n", "the linked worktree's files are updated"
    assert git(linked, "status", "--porcelain") == ""
    assert state(repo) == main_before, "the main worktree and main are not touched"
    assert discover_repo(linked / "src").here == linked


def test_git_errors_keep_the_file_the_cause_and_the_fix(
    repo: Path, manager: SessionManager
) -> None:
    """Item 13: not git's last line ("Aborting", "remove the file manually to continue")."""
    a = session(manager, "a")
    commit(a, "a.txt", "a\n")
    (repo / "a.txt").write_text("mine, untracked\n")
    before = state(repo)
    blocked = run_cli(repo, "merge", "a", "--keep")
    assert blocked.code == 1
    assert "Aborting" not in blocked.err
    assert "'a.txt' would be overwritten" in blocked.err
    assert "move or remove it, then merge again" in blocked.err
    assert len(blocked.err.strip().splitlines()) == 1, blocked.err
    assert state(repo) == before

    (repo / "a.txt").unlink()
    lock = repo / ".git" / "index.lock"
    lock.write_text("")  # not agentmux's: no interrupted merge of its own is pending
    locked = run_cli(repo, "merge", "a", "--keep")
    assert locked.code == 1
    assert f"{lock} exists" in locked.err
    assert "if no git process is running, delete that file" in locked.err
    assert lock.exists(), "a lock agentmux cannot prove is its own stays"
    lock.unlink()

    # The same for every git command agentmux runs: the lines that say what and where.
    (repo / "src" / "app.py").write_text("changed\n")
    git(repo, "switch", "--quiet", "-c", "other")
    git(repo, "commit", "--quiet", "-am", "other")
    git(repo, "switch", "--quiet", "main")
    (repo / "src" / "app.py").write_text("local edit\n")
    with pytest.raises(GitError) as caught:
        run_git(["switch", "other"], repo)
    message = caught.value.message
    assert f"git switch failed in {repo}: " in message
    assert "would be overwritten by checkout: src/app.py" in message
    assert "commit your changes or stash them" in message


@pytest.mark.parametrize(
    ("base", "why"),
    [
        ("origin/main", "it is a remote-tracking branch, not a local branch"),
        ("v1.0", "it is a tag, not a branch"),
    ],
)
def test_remote_and_tag_bases(repo: Path, base: str, why: str) -> None:
    """Item 13: a remote or tag base resolves; merging into it says what it is and what to do."""
    git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(repo, "tag", "v1.0")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "main moves on")
    created = run_cli(repo, "new", "--agent", "demo", "--name", "a", "--base", base)
    assert created.code == 0, created.err
    with closing(SessionManager.open(repo)) as manager:
        record = manager.get("a")
        assert record.base_commit == git(repo, "rev-parse", "main~1")
        commit(Path(record.worktree), "a.txt", "a\n")
    result = run_cli(repo, "merge", "--all")
    assert result.code == 1
    assert f"agentmux: cannot merge into {base!r}: {why}; name a local branch with --into" in (
        result.err
    )
    assert "refs/heads" not in result.err
    into_main = run_cli(repo, "merge", "--all", "--into", "refs/heads/main", "--keep")
    assert into_main.code == 0, into_main.err
    assert (repo / "a.txt").exists()
    assert git(repo, "for-each-ref", "refs/heads/refs") == "", "no branch named refs/heads/main"
    commit_id = git(repo, "rev-parse", "HEAD~1")
    detached = run_cli(repo, "merge", "a", "--into", commit_id)
    assert f"cannot merge into {commit_id!r}: it is a commit, not a branch" in detached.err
    nowhere = run_cli(repo, "merge", "a", "--into", "nope")
    assert "cannot merge into 'nope': there is no such branch in this repository" in nowhere.err


def _without_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-home"
    empty.mkdir()
    (empty / "gitconfig").write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty / "gitconfig"))
    monkeypatch.setenv("HOME", str(empty))
    for key in (*GIT_IDENTITY, "EMAIL"):
        monkeypatch.delenv(key, raising=False)
    probe = subprocess.run(
        ["git", "var", "GIT_COMMITTER_IDENT"], cwd=tmp_path, capture_output=True, check=False
    )
    if probe.returncode == 0:
        pytest.skip("git can guess an identity on this host (its name has a domain)")


def test_merge_without_a_git_identity_says_how_to_set_one(
    repo: Path, manager: SessionManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Item 17: checked before planning, with the commands that fix it."""
    a = session(manager, "a")
    commit(a, "a.txt", "a\n")
    _without_identity(monkeypatch, tmp_path)
    before = state(repo)
    result = run_cli(repo, "merge", "a")
    assert result.code == 1
    assert "agentmux: git has no identity to make the merge commits with" in result.err
    assert "git config --global user.name" in result.err
    assert "git config --global user.email" in result.err
    assert "commit-tree" not in result.err
    assert state(repo) == before
    git(repo, "config", "user.name", "Someone")
    git(repo, "config", "user.email", "someone@example.invalid")
    assert run_cli(repo, "merge", "a", "--keep").code == 0


def test_the_demo_repository_has_its_own_identity(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Item 17: `make run` on a machine without a git identity can still merge in the TUI."""
    _without_identity(monkeypatch, tmp_path)
    root = make_demo_repo(tmp_path / "demo")
    ident = subprocess.run(
        ["git", "var", "GIT_COMMITTER_IDENT"], cwd=root, capture_output=True, text=True, check=False
    )
    assert ident.returncode == 0, ident.stderr
    assert os.environ.get("GIT_AUTHOR_NAME") is None
