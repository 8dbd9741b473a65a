"""The conflict radar on real repositories, worktrees and demo sessions."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from agentmux.core.git.conflicts import ConflictReport, Verdict
from agentmux.core.git.merge_tree import ConflictKind, changed_paths, changed_paths_many
from agentmux.core.git.snapshots import common_dir, read_branch, read_git_dir, read_head
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git, run_cli


def session(manager: SessionManager, name: str) -> Path:
    return Path(manager.create(agent="demo", name=name).worktree)


def commit_all(worktree: Path, message: str = "work") -> None:
    git(worktree, "add", "--all")
    git(worktree, "commit", "--quiet", "-m", message)


def kinds(report: ConflictReport, a: str, b: str) -> dict[str, ConflictKind]:
    pair = report.pair(a, b)
    assert pair is not None
    return {c.path: c.kind for c in pair.conflicts}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_uncommitted_edit_conflicts_with_a_commit_without_touching_the_worktree(
    repo: Path, manager: SessionManager
) -> None:
    a, b = session(manager, "a"), session(manager, "b")
    (a / "src" / "app.py").write_text("print('from a')\n")  # uncommitted
    (b / "src" / "app.py").write_text("print('from b')\n")
    commit_all(b)
    index_a = Path(git(a, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    before = (
        digest(index_a),
        index_a.stat().st_mtime_ns,
        git(a, "--no-optional-locks", "status", "--porcelain"),
    )
    objects_before = git(repo, "count-objects", "-v")

    radar = manager.conflict_radar()
    report = radar.scan(manager.sessions())

    pair = report.pair("a", "b")
    assert pair is not None and pair.verdict is Verdict.CONFLICT
    assert kinds(report, "a", "b") == {"src/app.py": ConflictKind.CONTENT}
    hunks = radar.hunks(pair)["src/app.py"]
    assert [(h.ours, h.theirs) for h in hunks] == [(("print('from a')",), ("print('from b')",))]
    assert report.has_conflict
    after = (
        digest(index_a),
        index_a.stat().st_mtime_ns,
        git(a, "--no-optional-locks", "status", "--porcelain"),
    )
    assert after == before, "the worktree and its index must not be touched"
    assert not Path(str(index_a) + ".lock").exists()
    assert git(a, "stash", "list") == ""
    assert git(repo, "count-objects", "-v") == objects_before, "no objects in the user's store"
    snap = next(s for s in report.sessions if s.name == "a").snapshot
    assert snap is not None
    missing = subprocess.run(["git", "cat-file", "-e", snap], cwd=repo, check=False)
    assert missing.returncode != 0


def test_conflict_kinds(repo: Path, manager: SessionManager) -> None:
    (repo / "logo.bin").write_bytes(b"\0\1base")
    (repo / "notes.txt").write_text("notes\n")
    (repo / "old.txt").write_text("\n".join(f"line {i}" for i in range(20)) + "\n")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "more files")
    a, b = session(manager, "a"), session(manager, "b")
    (a / "new.txt").write_text("added by a\n")  # untracked on both sides: add/add
    (b / "new.txt").write_text("added by b\n")
    (a / "logo.bin").write_bytes(b"\0\1from a")
    (b / "logo.bin").write_bytes(b"\0\1from b")
    (a / "README.md").unlink()
    (b / "README.md").write_text("edited by b\n")
    git(a, "mv", "old.txt", "renamed.txt")
    (b / "old.txt").unlink()
    (a / "notes.txt").write_text("notes\nmore\n")
    (b / "notes.txt").write_text("notes\nother\n")

    report = manager.conflict_radar().scan(manager.sessions())

    assert kinds(report, "a", "b") == {
        "new.txt": ConflictKind.ADD_ADD,
        "logo.bin": ConflictKind.BINARY,
        "README.md": ConflictKind.MODIFY_DELETE,
        "old.txt": ConflictKind.RENAME,  # renamed by a, deleted by b: git names both paths
        "renamed.txt": ConflictKind.RENAME,
        "notes.txt": ConflictKind.CONTENT,
    }


def test_clean_overlap_and_clean_pairs(repo: Path, manager: SessionManager) -> None:
    (repo / "long.txt").write_text("".join(f"line {i}\n" for i in range(30)))
    git(repo, "add", "long.txt")
    git(repo, "commit", "--quiet", "-m", "long")
    a, b, c = session(manager, "a"), session(manager, "b"), session(manager, "c")
    text = (a / "long.txt").read_text()
    (a / "long.txt").write_text("first\n" + text)
    (b / "long.txt").write_text(text + "last\n")
    commit_all(b)
    (c / "elsewhere.txt").write_text("c\n")

    radar = manager.conflict_radar()
    report = radar.scan(manager.sessions())

    ab = report.pair("a", "b")
    assert ab is not None and ab.verdict is Verdict.OVERLAP and ab.overlaps == ("long.txt",)
    assert [p.verdict for p in (report.pair("a", "c"), report.pair("b", "c")) if p] == [
        Verdict.CLEAN,
        Verdict.CLEAN,
    ]
    assert not report.has_conflict
    assert radar.merges_run == 1, "pairs with no shared path need no merge"


def test_conflict_only_with_the_updated_base(repo: Path, manager: SessionManager) -> None:
    a = session(manager, "a")
    session(manager, "b")
    (a / "README.md").write_text("a's readme\n")
    radar = manager.conflict_radar()
    first = radar.scan(manager.sessions())
    assert not first.has_conflict

    (repo / "README.md").write_text("main's readme\n")
    git(repo, "commit", "--quiet", "-am", "main moves on")
    report = radar.scan(manager.sessions(), changed={})

    base = report.pair("a", "main")
    assert base is not None and base.verdict is Verdict.CONFLICT
    assert [c.path for c in base.conflicts] == ["README.md"]
    ab = report.pair("a", "b")
    assert ab is not None and ab.verdict is Verdict.CLEAN


def test_results_are_cached_and_updates_are_incremental(
    repo: Path, manager: SessionManager
) -> None:
    a, b = session(manager, "a"), session(manager, "b")
    (a / "README.md").write_text("a\n")
    (b / "README.md").write_text("b\n")
    radar = manager.conflict_radar()
    radar.scan(manager.sessions())
    runs = radar.merges_run
    radar.scan(manager.sessions())  # a full rescan of unchanged worktrees
    radar.scan(manager.sessions(), changed={})
    assert radar.merges_run == runs

    (b / "README.md").write_text("a\n")  # b now agrees with a
    id_b = manager.get("b").id
    report = radar.scan(manager.sessions(), changed={id_b: [b / "README.md"]})
    ab = report.pair("a", "b")
    assert ab is not None and ab.verdict is Verdict.OVERLAP
    assert radar.merges_run == runs + 1


def test_ignored_files_do_not_count(repo: Path, manager: SessionManager) -> None:
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "--quiet", "-m", "ignore logs")
    a, b = session(manager, "a"), session(manager, "b")
    (a / "debug.log").write_text("a\n")
    (b / "debug.log").write_text("b\n")
    radar = manager.conflict_radar()
    report = radar.scan(manager.sessions())
    ab = report.pair("a", "b")
    assert ab is not None and ab.verdict is Verdict.CLEAN
    id_a = manager.get("a").id
    report = radar.scan(manager.sessions(), changed={id_a: [a / "debug.log"]})
    ab = report.pair("a", "b")
    assert ab is not None and ab.verdict is Verdict.CLEAN


def test_a_worktree_mid_merge_is_reported_not_snapshotted(
    repo: Path, manager: SessionManager
) -> None:
    a = session(manager, "a")
    session(manager, "b")
    (repo / "README.md").write_text("main\n")
    git(repo, "commit", "--quiet", "-am", "main")
    (a / "README.md").write_text("a\n")
    commit_all(a)
    subprocess.run(["git", "merge", "main"], cwd=a, capture_output=True, check=False)
    assert (Path(git(a, "rev-parse", "--absolute-git-dir")) / "MERGE_HEAD").exists()

    report = manager.conflict_radar().scan(manager.sessions())

    state = next(s for s in report.sessions if s.name == "a")
    assert state.unavailable == "its worktree is in the middle of a merge"
    ab = report.pair("a", "b")
    assert ab is not None and ab.verdict is Verdict.UNKNOWN
    assert "middle of a merge" in (ab.reason or "")
    assert not report.has_conflict


def test_conflicts_cli_exit_status_and_json(repo: Path, manager: SessionManager) -> None:
    a, b = session(manager, "a"), session(manager, "b")
    clean = run_cli(repo, "conflicts")
    assert clean.code == 0, clean.err
    assert "no conflicts" in clean.out.lower()

    (a / "README.md").write_text("a\n")
    (b / "README.md").write_text("b\n")
    found = run_cli(repo, "conflicts", "--json")
    assert found.code == 1, found.err
    data = json.loads(found.out)
    assert data["conflict"] is True
    (pair,) = [p for p in data["pairs"] if p["verdict"] == "conflict"]
    assert (pair["a"], pair["b"]) == ("a", "b")
    (conflict,) = pair["conflicts"]
    assert conflict["path"] == "README.md" and conflict["kind"] == "content"
    assert conflict["hunks"] == [{"line": 1, "a": ["a"], "b": ["b"]}]
    assert {s["name"] for s in data["sessions"]} == {"a", "b"}
    assert [p["verdict"] for p in data["against_base"]] == ["clean", "clean"]
    table = run_cli(repo, "conflicts")
    assert table.code == 1
    assert "README.md" in table.out and "content" in table.out


def test_conflicts_cli_errors_exit_2(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "conflicts")
    assert result.code == 2
    assert "not inside a git repository" in result.err


@pytest.mark.parametrize("verb", ["conflicts"])
def test_conflicts_with_no_sessions(repo: Path, verb: str) -> None:
    result = run_cli(repo, verb)
    assert result.code == 0
    assert "no sessions" in result.out.lower()


def test_snapshot_commits_are_what_commit_tree_makes(repo: Path, manager: SessionManager) -> None:
    a = session(manager, "a")
    (a / "README.md").write_text("a\n")
    radar = manager.conflict_radar()
    report = radar.scan(manager.sessions())
    state = next(s for s in report.sessions if s.name == "a")
    assert state.snapshot is not None
    tree = radar.store.git(["rev-parse", f"{state.snapshot}^{{tree}}"])
    head = git(a, "rev-parse", "HEAD")
    env = {
        **radar.store.env,
        "GIT_AUTHOR_NAME": "agentmux",
        "GIT_AUTHOR_EMAIL": "agentmux@localhost",
        "GIT_COMMITTER_NAME": "agentmux",
        "GIT_COMMITTER_EMAIL": "agentmux@localhost",
        "GIT_AUTHOR_DATE": "@0 +0000",
        "GIT_COMMITTER_DATE": "@0 +0000",
    }
    expected = subprocess.run(
        ["git", "commit-tree", tree, "-p", head, "-m", "agentmux snapshot"],
        cwd=repo,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert state.snapshot == expected
    assert radar.store.git(["cat-file", "-t", state.snapshot]) == "commit"
    fsck = subprocess.run(
        ["git", "fsck", "--no-dangling", "--connectivity-only", state.snapshot],
        cwd=repo,
        env={**os.environ, **radar.store.env},
        capture_output=True,
        check=False,
    )
    assert fsck.returncode == 0, fsck.stderr


def test_heads_read_from_files_agree_with_git(repo: Path, manager: SessionManager) -> None:
    a, b = session(manager, "a"), session(manager, "b")
    (b / "x.txt").write_text("x\n")
    commit_all(b)
    git(repo, "pack-refs", "--all")  # a's branch and main now live in packed-refs only
    (a / "y.txt").write_text("y\n")
    commit_all(a)  # a loose ref again, shadowing the packed one
    git(b, "checkout", "--quiet", "--detach")
    for worktree in (a, b, repo):
        git_dir = read_git_dir(worktree)
        assert git_dir is not None
        assert git_dir.resolve() == Path(git(worktree, "rev-parse", "--absolute-git-dir")).resolve()
        assert read_head(git_dir) == git(worktree, "rev-parse", "HEAD")
    assert read_branch(common_dir(read_git_dir(a) or a), "refs/heads/main") == git(
        repo, "rev-parse", "main"
    )
    radar = manager.conflict_radar()
    report = radar.scan(manager.sessions())
    for state, worktree in zip(report.sessions, (a, b), strict=True):
        assert state.snapshot is not None
        assert radar.store.git(["rev-parse", f"{state.snapshot}^"]) == git(
            worktree, "rev-parse", "HEAD"
        )


def test_merge_bases_of_stacked_and_unrelated_sessions(repo: Path, manager: SessionManager) -> None:
    a, b, c = session(manager, "a"), session(manager, "b"), session(manager, "c")
    (a / "README.md").write_text("a\n")
    commit_all(a)
    git(b, "reset", "--quiet", "--hard", git(a, "rev-parse", "HEAD"))  # b builds on a's commit
    (b / "other.txt").write_text("b\n")
    commit_all(b)
    (repo / "main.txt").write_text("main moves\n")
    commit_all(repo)
    git(c, "checkout", "--quiet", "--orphan", "fresh")  # c shares no history with anyone
    (c / "README.md").write_text("c\n")
    commit_all(c)

    radar = manager.conflict_radar()
    report = radar.scan(manager.sessions())

    heads = {name: git(w, "rev-parse", "HEAD") for name, w in (("a", a), ("b", b), ("c", c))}
    heads["main"] = git(repo, "rev-parse", "main")
    for x, y in (("a", "b"), ("a", "main"), ("b", "main"), ("a", "c"), ("c", "main")):
        done = subprocess.run(
            ["git", "merge-base", heads[x], heads[y]],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
        )
        assert radar._merge_base(heads[x], heads[y]) == (done.stdout.strip() or None), (x, y)
    ab = report.pair("a", "b")
    assert ab is not None and ab.verdict is Verdict.CLEAN  # b has a's change: nothing to merge
    ac = report.pair("a", "c")
    assert ac is not None and ac.verdict is Verdict.UNKNOWN and ac.reason == "no common history"


def test_batched_change_sets_equal_one_diff_at_a_time(repo: Path, manager: SessionManager) -> None:
    a = session(manager, "a")
    (a / "src" / "app.py").unlink()
    (a / "with space\nand newline.txt").write_text("odd\n")
    (a / "README.md").chmod(0o755)
    (a / "src" / "tool").symlink_to("../README.md")
    radar = manager.conflict_radar()
    report = radar.scan(manager.sessions())
    state = report.sessions[0]
    assert state.snapshot is not None and state.changed == 4
    base = git(repo, "rev-parse", "main")
    pairs = [(base, state.snapshot), (base, base), (state.snapshot, base)]
    batched = changed_paths_many(radar.store.git, pairs)
    assert batched == [changed_paths(radar.store.git, x, y) for x, y in pairs]
    assert batched[0] == {
        "src/app.py": "D",
        "with space\nand newline.txt": "A",
        "README.md": "M",
        "src/tool": "A",
    }
