"""A nested repository with no commit yet inside a session's worktree (an agent ran `git init`
in a subdirectory) must not make the session's conflicts unknown."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from agentmux.core.git.conflicts import Verdict
from agentmux.core.git.snapshots import SnapshotStore
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git, run_cli
from tests.core.git.test_conflicts import kinds, session


def test_a_nested_repository_without_commits_leaves_the_conflict_known(
    repo: Path, manager: SessionManager
) -> None:
    a, b = session(manager, "a"), session(manager, "b")
    for worktree, text in ((a, "from a\n"), (b, "from b\n")):
        (worktree / "README.md").write_text(text)
    nested = a / "vendor [x]*"  # pathspec magic characters in its name, too
    nested.mkdir()
    git(nested, "init", "--quiet")
    (nested / "lib.txt").write_text("nested work\n")
    (a / "own.txt").write_text("a's own new file\n")
    report = manager.conflict_radar().scan(manager.sessions())
    pair = report.pair("a", "b")
    assert pair is not None and pair.verdict is Verdict.CONFLICT, pair
    assert list(kinds(report, "a", "b")) == ["README.md"]
    store = SnapshotStore(manager.repo, manager.home / "snapshots")
    snapshot = store.take(manager.get("a").id, a)
    assert snapshot.unavailable is None and snapshot.commit is not None
    env = {**os.environ, **store.env}
    tree = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", snapshot.commit],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert "own.txt" in tree and "README.md" in tree
    assert not any(path.startswith("vendor") for path in tree)
    assert (nested / "lib.txt").read_text() == "nested work\n"


def test_commit_leaves_out_a_nested_repository_without_commits_and_says_so(
    repo: Path, manager: SessionManager
) -> None:
    a = session(manager, "a")
    nested = a / "vendor [x]*"
    nested.mkdir()
    git(nested, "init", "--quiet")
    (nested / "lib.txt").write_text("nested work\n")
    (a / "own.txt").write_text("a's own new file\n")
    result = run_cli(repo, "commit", "a", "-m", "a's work", "--force")
    assert result.code == 0, result.err
    assert "committed 1 file(s) of a" in result.out
    assert "left out vendor [x]*/: a nested git repository with no commit yet" in result.out
    tree = git(a, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert "own.txt" in tree and not any(p.startswith("vendor") for p in tree)
    assert (nested / "lib.txt").read_text() == "nested work\n"
    assert git(a, "status", "--porcelain") == '?? "vendor [x]*/"'
