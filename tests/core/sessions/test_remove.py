"""`rm` never loses work: refusals name what is at risk; --force archives it on a ref first."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import psutil
import pytest

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as coregit
from agentmux.core.git.worktree_commit import snapshot_commit
from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git, run_cli, wait_for, write_config


def stopped_session(manager: SessionManager, name: str) -> Path:
    record = manager.create(agent="demo", name=name)
    manager.stop(name)
    return Path(record.worktree)


def test_rm_clean_session_removes_worktree_and_keeps_branch(
    repo: Path, manager: SessionManager
) -> None:
    worktree = stopped_session(manager, "clean")
    removed = manager.remove("clean")
    assert removed.status is Status.REMOVED
    assert not worktree.exists()
    assert git(repo, "rev-parse", "--verify", "refs/heads/agentmux/clean")
    assert removed.archive_ref is None
    assert str(worktree) not in git(repo, "worktree", "list")
    assert manager.sessions() == []
    assert [r.name for r in manager.sessions(include_removed=True)] == ["clean"]


def test_rm_refuses_running_agent(manager: SessionManager) -> None:
    manager.create(agent="demo", name="live")
    with pytest.raises(AgentmuxError, match="still running"):
        manager.remove("live")
    assert manager.get("live").status is Status.RUNNING


@pytest.mark.parametrize("kind", ["modified", "untracked", "deleted", "staged"])
def test_rm_refuses_uncommitted_work(repo: Path, manager: SessionManager, kind: str) -> None:
    worktree = stopped_session(manager, "dirty")
    if kind == "modified":
        (worktree / "README.md").write_text("changed\n")
    elif kind == "untracked":
        (worktree / "new.txt").write_text("new\n")
    elif kind == "deleted":
        (worktree / "README.md").unlink()
    else:
        (worktree / "staged.txt").write_text("s\n")
        git(worktree, "add", "staged.txt")
    with pytest.raises(AgentmuxError, match="uncommitted or untracked"):
        manager.remove("dirty")
    assert worktree.exists()


def test_rm_refuses_commits_not_in_base(repo: Path, manager: SessionManager) -> None:
    worktree = stopped_session(manager, "ahead")
    (worktree / "feature.txt").write_text("f\n")
    git(worktree, "add", "feature.txt")
    git(worktree, "commit", "--quiet", "-m", "feature")
    with pytest.raises(AgentmuxError, match=r"1 commit\(s\) not in main"):
        manager.remove("ahead")
    # Once merged into the base, nothing is at risk.
    git(repo, "merge", "--quiet", "--ff-only", "agentmux/ahead")
    manager.remove("ahead")
    assert not worktree.exists()


def test_rm_force_archives_everything_then_removes(repo: Path, manager: SessionManager) -> None:
    worktree = stopped_session(manager, "gone")
    (worktree / "committed.txt").write_text("c\n")
    git(worktree, "add", "committed.txt")
    git(worktree, "commit", "--quiet", "-m", "committed work")
    (worktree / "README.md").write_text("modified, not committed\n")
    (worktree / "untracked.txt").write_text("untracked\n")
    (worktree / ".gitignore").write_text("ignored.log\n")
    (worktree / "ignored.log").write_text("ignored\n")
    removed = manager.remove("gone", force=True, delete_branch=True)
    assert removed.archive_ref is not None
    assert removed.archive_ref.startswith("refs/agentmux/archive/gone/")
    ref = removed.archive_ref
    assert git(repo, "show", f"{ref}:README.md") == "modified, not committed"
    assert git(repo, "show", f"{ref}:untracked.txt") == "untracked"
    assert git(repo, "show", f"{ref}:committed.txt") == "c"
    assert "ignored.log" not in git(repo, "ls-tree", "-r", "--name-only", ref)
    assert git(repo, "log", "--format=%s", f"{ref}~1", "-1") == "committed work"
    assert not worktree.exists()
    assert not coregit.ref_exists(manager.repo, "refs/heads/agentmux/gone")


def test_rm_force_stops_a_running_agent(repo: Path, manager: SessionManager) -> None:
    record = manager.create(agent="demo", name="busy")
    manager.remove("busy", force=True)
    assert record.id not in manager.panes_by_session()
    assert git(repo, "rev-parse", "--verify", "refs/heads/agentmux/busy")


def test_rm_works_when_the_worktree_was_deleted_behind_our_back(
    repo: Path, manager: SessionManager
) -> None:
    worktree = stopped_session(manager, "vanished")
    shutil.rmtree(worktree)
    removed = manager.remove("vanished")
    assert removed.status is Status.REMOVED
    assert str(worktree) not in git(repo, "worktree", "list")


def test_snapshot_never_touches_the_worktree_index(repo: Path, manager: SessionManager) -> None:
    worktree = stopped_session(manager, "snap")
    (worktree / "README.md").write_text("edited\n")
    (worktree / "extra.txt").write_text("extra\n")
    index = Path(git(worktree, "rev-parse", "--path-format=absolute", "--git-path", "index"))
    before = hashlib.sha256(index.read_bytes()).hexdigest()
    status_before = git(worktree, "status", "--porcelain")
    commit = snapshot_commit(worktree, "snapshot\n")
    assert hashlib.sha256(index.read_bytes()).hexdigest() == before
    assert git(worktree, "status", "--porcelain") == status_before
    assert git(repo, "show", f"{commit}:extra.txt") == "extra"


def test_snapshot_with_private_object_dir_keeps_user_store_clean(
    repo: Path, manager: SessionManager, tmp_path: Path
) -> None:
    worktree = stopped_session(manager, "private")
    (worktree / "fresh.txt").write_text("only in the private store\n")
    objects = tmp_path / "objects"
    commit = snapshot_commit(worktree, "snap\n", object_dir=objects)
    missing = coregit.run_git(["cat-file", "-e", commit], repo, check=False)
    assert missing.returncode != 0, "the user's object store did not gain the snapshot"
    env = {
        "GIT_OBJECT_DIRECTORY": str(objects),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(repo / ".git" / "objects"),
    }
    shown = coregit.run_git(["show", f"{commit}:fresh.txt"], repo, env=env)
    assert shown.stdout == b"only in the private store\n"


def test_rm_refuses_commits_made_on_a_detached_head(repo: Path, manager: SessionManager) -> None:
    worktree = stopped_session(manager, "detached")
    git(worktree, "checkout", "--quiet", "--detach")
    (worktree / "orphan.txt").write_text("o\n")
    git(worktree, "add", "orphan.txt")
    git(worktree, "commit", "--quiet", "-m", "only on a detached HEAD")
    with pytest.raises(AgentmuxError, match=r"1 commit\(s\) not in main"):
        manager.remove("detached")
    removed = manager.remove("detached", force=True, delete_branch=True)
    assert removed.archive_ref is not None
    assert git(repo, "log", "--format=%s", removed.archive_ref, "-2").splitlines()[1] == (
        "only on a detached HEAD"
    )


def test_rm_force_archive_keeps_the_branch_tip_too(repo: Path, manager: SessionManager) -> None:
    worktree = stopped_session(manager, "twotips")
    (worktree / "on-branch.txt").write_text("b\n")
    git(worktree, "add", "on-branch.txt")
    git(worktree, "commit", "--quiet", "-m", "on the branch")
    branch_tip = git(repo, "rev-parse", "agentmux/twotips")
    git(worktree, "checkout", "--quiet", "--detach", "HEAD~1")
    removed = manager.remove("twotips", force=True, delete_branch=True)
    assert removed.archive_ref is not None
    parents = git(repo, "rev-list", "--parents", "-n", "1", removed.archive_ref).split()[1:]
    assert branch_tip in parents, "the deleted branch's commits stay reachable"


def test_rm_delete_branch_checked_out_elsewhere_changes_nothing(
    repo: Path, manager: SessionManager
) -> None:
    worktree = stopped_session(manager, "busybranch")
    git(worktree, "checkout", "--quiet", "--detach")
    git(repo, "checkout", "--quiet", "agentmux/busybranch")
    with pytest.raises(AgentmuxError, match="checked out in"):
        manager.remove("busybranch", force=True, delete_branch=True)
    assert worktree.exists()
    assert manager.get("busybranch").status is Status.STOPPED


def test_removing_the_last_session_stops_the_private_server(
    repo: Path, manager: SessionManager
) -> None:
    stopped_session(manager, "only")
    assert manager.tmux.is_running()
    manager.remove("only")
    assert not manager.tmux.is_running()


def test_rm_refuses_while_an_untagged_process_is_in_the_worktree(
    repo: Path, manager: SessionManager
) -> None:
    worktree = stopped_session(manager, "occupied")
    squatter = subprocess.Popen(["sleep", "300"], cwd=worktree)
    try:
        refused = run_cli(repo, "rm", "occupied")
        assert refused.code != 0
        assert f"{squatter.pid} (sleep 300)" in refused.err, refused.err
        assert refused.err.count("\n") == 1, refused.err
        assert worktree.exists()
        assert manager.get("occupied").status is Status.STOPPED
        done = run_cli(repo, "rm", "occupied", "--force")
        assert done.code == 0, done.err
        assert squatter.wait(timeout=15) != 0, "rm --force ended it as it ends an agent"
        assert not worktree.exists()
    finally:
        squatter.kill()
        squatter.wait()


def test_rm_refuses_while_an_untagged_pane_of_our_tmux_runs_in_the_worktree(
    repo: Path, manager: SessionManager
) -> None:
    worktree = stopped_session(manager, "ghost")
    socket = str(manager.tmux.socket_path)
    raw = ["tmux", "-S", socket, "new-session", "-d", "-s", "ghost2", "-c", str(worktree)]
    subprocess.run([*raw, "sleep", "301"], check=True)
    wait_for(lambda: pids_running("sleep 301"), what="the untagged pane's process")
    pids = pids_running("sleep 301")
    with pytest.raises(AgentmuxError, match=rf"{pids[0]} \(sleep 301\)"):
        manager.remove("ghost")
    assert worktree.exists()
    manager.remove("ghost", force=True)
    assert not worktree.exists()
    assert not any(psutil.pid_exists(pid) and not zombie(pid) for pid in pids)


def pids_running(cmdline: str) -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if " ".join(p.info["cmdline"] or []) == cmdline
    ]


def zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def recreate_as_plain_directory(worktree: Path) -> None:
    shutil.rmtree(worktree)
    worktree.mkdir()
    (worktree / "notes.txt").write_text("written after the worktree was deleted\n")


def test_rm_refuses_a_worktree_recreated_as_a_plain_directory(
    repo: Path, manager: SessionManager
) -> None:
    worktree = stopped_session(manager, "plain")
    recreate_as_plain_directory(worktree)
    refused = run_cli(repo, "rm", "plain")
    assert refused.code != 0
    assert str(worktree) in refused.err and "plain directory" in refused.err, refused.err
    assert refused.err.count("\n") == 1, refused.err
    assert (worktree / "notes.txt").read_text() == "written after the worktree was deleted\n"
    assert manager.get("plain").status is Status.STOPPED


def test_rm_force_keeps_the_files_of_a_worktree_recreated_as_a_plain_directory(
    repo: Path, manager: SessionManager
) -> None:
    worktree = stopped_session(manager, "plain")
    (worktree / "wip.txt").write_text("w\n")
    git(worktree, "add", "wip.txt")
    git(worktree, "commit", "--quiet", "-m", "committed before the deletion")
    git(worktree, "checkout", "--quiet", "--detach")
    (worktree / "detached.txt").write_text("d\n")
    git(worktree, "add", "detached.txt")
    git(worktree, "commit", "--quiet", "-m", "on a detached HEAD")
    detached = git(worktree, "rev-parse", "HEAD")
    recreate_as_plain_directory(worktree)
    done = run_cli(repo, "rm", "plain", "--force", "--delete-branch")
    assert done.code == 0, done.err
    assert str(worktree) in done.err and "left" in done.err, done.err
    assert (worktree / "notes.txt").read_text() == "written after the worktree was deleted\n"
    assert str(worktree) not in git(repo, "worktree", "list")
    assert not (repo / ".git" / "worktrees" / "plain").exists()
    removed = manager.sessions(include_removed=True)[0]
    assert removed.status is Status.REMOVED and removed.archive_ref is not None
    assert detached in git(repo, "rev-list", removed.archive_ref).split()
    assert run_cli(repo, "ls").code == 0


def test_a_queued_session_never_starts_in_a_plain_directory_at_its_worktree_path(
    repo: Path,
) -> None:
    write_config(repo, "max_sessions = 1\n")
    manager = SessionManager.open(repo)
    try:
        manager.create(agent="demo", name="first")
        queued = manager.create(agent="demo", name="second")
        assert queued.status is Status.QUEUED
        recreate_as_plain_directory(Path(queued.worktree))
        manager.stop("first")
        second = manager.get("second")
        assert second.status is Status.LOST, "not started in a directory that is no worktree"
        assert second.id not in manager.panes_by_session()
    finally:
        manager.close()


def test_rm_counts_detached_commits_of_a_worktree_deleted_behind_our_back(
    repo: Path, manager: SessionManager
) -> None:
    worktree = stopped_session(manager, "detached-gone")
    git(worktree, "checkout", "--quiet", "--detach")
    (worktree / "lost.txt").write_text("only on a detached HEAD\n")
    git(worktree, "add", "lost.txt")
    git(worktree, "commit", "--quiet", "-m", "detached, then the worktree was deleted")
    detached = git(worktree, "rev-parse", "HEAD")
    shutil.rmtree(worktree)
    with pytest.raises(AgentmuxError, match=r"1 commit\(s\) not in main"):
        manager.remove("detached-gone")
    removed = manager.remove("detached-gone", force=True)
    assert removed.archive_ref is not None
    assert detached in git(repo, "rev-list", removed.archive_ref).split()
    assert str(worktree) not in git(repo, "worktree", "list")
