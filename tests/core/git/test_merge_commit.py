"""`agentmux merge --commit`: work in progress is committed first, per session; a session that
cannot be committed (its agent in a turn) or that conflicts is left out with its work intact."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git, run_cli, wait_for
from tests.core.agents.test_agent_events import hook_names
from tests.core.git.test_merge import commit, session


def _files(worktree: Path) -> dict[str, str]:
    return {
        str(p.relative_to(worktree)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(worktree.rglob("*"))
        if p.is_file() and p.name != ".git"
    }


def _status(worktree: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain=v1", "--untracked-files=all"],
        cwd=worktree,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_merge_commit_lands_work_in_progress_and_leaves_out_the_rest_intact(
    repo: Path, manager: SessionManager
) -> None:
    a, b, c = session(manager, "a"), session(manager, "b"), session(manager, "c")
    busy = Path(
        manager.create(agent="demo", name="busy", prompt=b"write busy.txt x\nsleep 30").worktree
    )
    (a / "README.md").write_text("from a, not committed\n")
    (a / "a-new.txt").write_text("untracked in a\n")
    (b / "README.md").write_text("from b, not committed\n")  # conflicts with a
    (b / "b-new.txt").write_text("untracked in b\n")
    commit(c, "c.txt", "committed in c\n")
    (c / "c-wip.txt").write_text("untracked in c\n")
    wait_for(lambda: (busy / "busy.txt").exists(), what="the busy agent's edit")
    wait_for(lambda: hook_names(manager, "busy")[-1] == "PreToolUse", what="the agent asleep")
    tips = {n: git(repo, "rev-parse", f"agentmux/{n}") for n in ("a", "b", "c", "busy")}
    files_b, status_b = _files(b), _status(b)
    status_busy, files_busy = _status(busy), _files(busy)

    without = run_cli(repo, "merge", "--all", "--dry-run")
    assert without.code == 1
    assert "left out a: it has 2 uncommitted or untracked file(s); commit them" in without.out
    assert "(agentmux commit a), or merge with --commit" in without.out

    dry = run_cli(repo, "merge", "--all", "--commit", "--dry-run", "--json")
    assert dry.code == 1, dry.err
    plan = json.loads(dry.out)
    assert [s["name"] for s in plan["order"]] == ["c", "a"]
    assert [s["committed_files"] for s in plan["order"]] == [1, 2]
    left = {x["name"]: x for x in plan["left_out"]}
    assert "conflicts with c, a in README.md" in left["b"]["reason"]
    assert left["b"]["committed_files"] == 2
    assert "its agent is in the middle of a turn" in left["busy"]["reason"]
    assert sorted((w["name"], w["files"], w["commit"]) for w in plan["committed"]) == [
        ("a", 2, None), ("b", 2, None), ("c", 1, None),
    ]  # fmt: skip
    for name, tip in tips.items():
        assert git(repo, "rev-parse", f"agentmux/{name}") == tip, "a dry run commits nothing"
    assert _status(b) == status_b and "?? a-new.txt" in _status(a)
    words = run_cli(repo, "merge", "--all", "--commit", "--dry-run")
    assert "a (agentmux/a and its 2 uncommitted file(s), to be committed first)" in words.out
    assert "(its 2 uncommitted file(s) would be committed on its branch)" in words.out

    result = run_cli(repo, "merge", "--all", "--commit", "--keep", "--json")
    assert result.code == 1, result.err
    landed = json.loads(result.out)
    assert landed["merged"] is True
    assert [s["name"] for s in landed["order"]] == ["c", "a"]
    assert (repo / "README.md").read_text() == "from a, not committed\n"
    for path in ("a-new.txt", "c.txt", "c-wip.txt"):
        assert (repo / path).exists(), path
    assert not (repo / "b-new.txt").exists() and not (repo / "busy.txt").exists()
    assert git(repo, "status", "--porcelain") == ""

    # b conflicted: its work was committed on its own branch, its files are byte for byte as
    # they were, and its commit holds them.
    assert _files(b) == files_b
    assert _status(b) == ""
    assert git(repo, "rev-parse", "agentmux/b^") == tips["b"]
    assert git(repo, "show", "agentmux/b:b-new.txt") == "untracked in b"
    committed = {w["name"]: w for w in landed["committed"]}
    assert committed["b"]["commit"] == git(repo, "rev-parse", "agentmux/b")
    # busy was in a turn: nothing of it was touched.
    assert git(repo, "rev-parse", "agentmux/busy") == tips["busy"]
    assert _status(busy) == status_busy and _files(busy) == files_busy
    left = {x["name"]: x["reason"] for x in landed["left_out"]}
    assert "in the middle of a turn" in left["busy"] and "conflicts" in left["b"]


def test_merge_commit_printed_plan_names_what_was_committed(
    repo: Path, manager: SessionManager
) -> None:
    a = session(manager, "a")
    (a / "a.txt").write_text("a\n")
    result = run_cli(repo, "merge", "a", "--commit", "--keep")
    assert result.code == 0, result.err
    tip = git(repo, "rev-parse", "agentmux/a")
    assert f"a (agentmux/a at {tip[:10]}, its 1 uncommitted file(s) committed)" in result.out
    assert "merged a into main" in result.out
    assert (repo / "a.txt").read_text() == "a\n"
