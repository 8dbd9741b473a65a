"""`agentmux merge`: a safe order, all or nothing, never a half-done merge."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git, run_cli


def session(manager: SessionManager, name: str) -> Path:
    return Path(manager.create(agent="demo", name=name).worktree)


def commit(worktree: Path, path: str, text: str) -> None:
    target = worktree / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git(worktree, "add", "--all")
    git(worktree, "commit", "--quiet", "-m", f"edit {path}")


def state(repo: Path) -> tuple[str, str, str]:
    """The base branch, the main worktree's status and its files, to prove nothing moved."""
    files = "".join(
        f"{p.relative_to(repo)}={p.read_text()}"
        for p in sorted(repo.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    )
    return git(repo, "rev-parse", "main"), git(repo, "status", "--porcelain"), files


def test_merge_all_orders_sessions_and_leaves_out_the_conflicting_one(
    repo: Path, manager: SessionManager
) -> None:
    a, b, c = session(manager, "a"), session(manager, "b"), session(manager, "c")
    commit(a, "README.md", "from a\n")
    commit(b, "README.md", "from b\n")
    commit(c, "c.txt", "from c\n")

    plan = run_cli(repo, "merge", "--all", "--dry-run", "--json")
    assert plan.code == 1, plan.err  # b would be left out
    data = json.loads(plan.out)
    assert [s["name"] for s in data["order"]] == ["c", "a"]
    assert [x["name"] for x in data["left_out"]] == ["b"]
    assert "conflicts with c, a in README.md" in data["left_out"][0]["reason"]
    assert git(repo, "rev-parse", "main") == data["base_before"], "a dry run changes nothing"

    result = run_cli(repo, "merge", "--all", "--keep")
    assert result.code == 1, result.err
    assert "left out b" in " ".join(result.out.split())
    assert (repo / "README.md").read_text() == "from a\n"
    assert (repo / "c.txt").read_text() == "from c\n"
    assert git(repo, "status", "--porcelain") == ""
    parents = git(repo, "log", "--format=%P", "-2", "main").splitlines()
    assert all(len(line.split()) == 2 for line in parents), "real merge commits"
    merged = [e for e in manager.store.events() if e["kind"] == "merged"]
    assert sorted(manager.store.session(e["session_id"]).name for e in merged) == ["a", "c"]


def test_failing_check_lands_nothing(repo: Path, manager: SessionManager) -> None:
    a = session(manager, "a")
    commit(a, "README.md", "from a\n")
    before = state(repo)
    worktrees = git(repo, "worktree", "list")

    result = run_cli(repo, "merge", "a", "--check", "test ! -e README.md || exit 3")
    assert result.code == 1
    assert "the check failed (exit status 3); nothing was merged" in result.err
    assert state(repo) == before
    assert git(repo, "worktree", "list") == worktrees, "the integration worktree is gone"


def test_passing_check_runs_on_the_whole_result(repo: Path, manager: SessionManager) -> None:
    a, b = session(manager, "a"), session(manager, "b")
    commit(a, "a.txt", "a\n")
    commit(b, "b.txt", "b\n")
    result = run_cli(repo, "merge", "a", "b", "--check", "test -e a.txt && test -e b.txt", "--keep")
    assert result.code == 0, result.err
    assert (repo / "a.txt").exists() and (repo / "b.txt").exists()


def test_dirty_main_worktree_is_refused(repo: Path, manager: SessionManager) -> None:
    a = session(manager, "a")
    commit(a, "a.txt", "a\n")
    (repo / "README.md").write_text("local edit\n")
    before = state(repo)
    result = run_cli(repo, "merge", "a")
    assert result.code == 1
    assert "has uncommitted changes (README.md)" in result.err
    assert state(repo) == before


def test_uncommitted_session_work_is_left_out(repo: Path, manager: SessionManager) -> None:
    a, b = session(manager, "a"), session(manager, "b")
    commit(a, "a.txt", "a\n")
    (a / "extra.txt").write_text("not committed\n")
    commit(b, "b.txt", "b\n")
    result = run_cli(repo, "merge", "--all", "--keep")
    assert result.code == 1
    assert "uncommitted or untracked" in result.out
    assert not (repo / "a.txt").exists() and (repo / "b.txt").exists()


def test_squash_and_a_base_branch_not_checked_out(repo: Path, manager: SessionManager) -> None:
    a = session(manager, "a")
    commit(a, "a.txt", "a\n")
    commit(a, "a2.txt", "a2\n")
    git(repo, "switch", "--quiet", "-c", "elsewhere")
    result = run_cli(repo, "merge", "a", "--into", "main", "--squash", "--keep")
    assert result.code == 0, result.err
    assert git(repo, "log", "--format=%P", "-1", "main").count(" ") == 0, "one parent"
    assert git(repo, "show", "main:a2.txt") == "a2"
    assert git(repo, "branch", "--show-current") == "elsewhere"
    assert not (repo / "a.txt").exists(), "the checked-out branch is not touched"


def test_merge_then_remove_keeps_the_safety_rules(repo: Path, manager: SessionManager) -> None:
    a, b = session(manager, "a"), session(manager, "b")
    commit(a, "a.txt", "a\n")
    commit(b, "b.txt", "b\n")
    manager.stop("a")
    result = run_cli(repo, "merge", "a", "b", "--remove")
    assert result.code == 0, result.err
    assert not a.exists(), "a was stopped and merged: removed"
    assert b.exists() and "kept b" in result.err and "still running" in result.err


def test_merge_errors(repo: Path, manager: SessionManager) -> None:
    assert "name the sessions" in run_cli(repo, "merge").err
    session(manager, "a")
    nothing = run_cli(repo, "merge", "a")
    assert nothing.code == 1
    assert "no commits that are not already merged" in nothing.out
    missing = run_cli(repo, "merge", "ghost")
    assert missing.code == 1 and "ghost" in missing.err


def test_a_broken_session_is_left_out_and_the_others_merge(
    repo: Path, manager: SessionManager
) -> None:
    """Issue 11 item 9: one session's failure never aborts the whole plan."""
    gone, broken, missing, fine = (
        session(manager, n) for n in ("gone", "broken", "missing", "fine")
    )
    for worktree, name in (
        (gone, "gone"),
        (broken, "broken"),
        (missing, "missing"),
        (fine, "fine"),
    ):
        commit(worktree, f"{name}.txt", f"{name}\n")
    # Deleted by hand, then made again as a plain directory by the agent still running there.
    shutil.rmtree(gone)
    gone.mkdir()
    (gone / "notes.md").write_text("written after the worktree was deleted\n")
    # A worktree git cannot read (its index is garbage): left out with git's reason.
    index = Path(git(broken, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    index.write_bytes(b"not an index")
    git(repo, "update-ref", "-d", "refs/heads/agentmux/missing")

    result = run_cli(repo, "merge", "--all", "--keep", "--json")
    assert result.code == 1, result.err
    data = json.loads(result.out)
    assert [s["name"] for s in data["order"]] == ["gone", "fine"], (
        "the plain directory is a missing worktree"
    )
    reasons = {x["name"]: x["reason"] for x in data["left_out"]}
    assert reasons["missing"] == "its branch agentmux/missing no longer exists"
    assert reasons["broken"].startswith("it could not be read (git status failed in ")
    assert "index" in reasons["broken"]
    assert (repo / "fine.txt").exists() and (repo / "gone.txt").exists()
    assert not (repo / "broken.txt").exists()


def test_a_squash_merged_session_is_merged(repo: Path, manager: SessionManager) -> None:
    """Issue 11 item 14: no empty duplicate commit, and removal sees the squashed work as merged."""
    a, b = session(manager, "a"), session(manager, "b")
    commit(a, "a.txt", "a\n")
    commit(a, "a2.txt", "a2\n")
    first = run_cli(repo, "merge", "a", "--squash", "--keep")
    assert first.code == 0, first.err
    landed = git(repo, "rev-parse", "main")

    again = run_cli(repo, "merge", "--all", "--squash", "--keep", "--dry-run", "--json")
    reasons = {x["name"]: x["reason"] for x in json.loads(again.out)["left_out"]}
    assert reasons["a"] == "it is already squash-merged into main"
    commit(b, "b.txt", "b\n")
    second = run_cli(repo, "merge", "--all", "--squash", "--keep")
    assert second.code == 1, second.err
    assert git(repo, "rev-list", "--count", f"{landed}..main") == "1", "only b's commit"
    assert git(repo, "show", "--stat", "--format=", "main").split()[0] == "b.txt"

    # Newer work after the squash merge is merged again; only its subject is listed, and until
    # then removal still protects it.
    commit(a, "a3.txt", "a3\n")
    manager.stop("a")
    refused = run_cli(repo, "rm", "a")
    assert refused.code == 1 and "1 commit(s) not in main" in refused.err
    third = run_cli(repo, "merge", "a", "--squash", "--keep")
    assert third.code == 0, third.err
    assert git(repo, "log", "-1", "--format=%b", "main").strip() == "- edit a3.txt"
    removed = run_cli(repo, "rm", "a")
    assert removed.code == 0, removed.err
