"""Signals and kills while `merge` lands or checks (issue 11 item 4): the repository ends up
untouched or fully landed, never half; no lock is left; the next merge works and says what it
finished. Real processes: `agentmux merge` leads its own process group, as in a terminal, and the
test sends the group what a Ctrl-C, a closed terminal or `kill -9` would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmux.core.git.merge_landing import JOURNAL, PAUSE_ENV
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git, run_cli, wait_for
from tests.core.git.test_merge import commit, session, state


def start_merge(repo: Path, *args: str, pause: str | None = None) -> subprocess.Popen[bytes]:
    """`agentmux merge ARGS` leading a process group of its own, like a terminal's job."""
    env = dict(os.environ)
    if pause is not None:
        env[PAUSE_ENV] = pause
    return subprocess.Popen(
        [sys.executable, "-m", "agentmux", "merge", *args],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def agentmux_dir(repo: Path) -> Path:
    return repo / ".git" / "agentmux"


def paused(repo: Path, point: str) -> Path:
    marker = agentmux_dir(repo) / f"test-pause-{point}"
    wait_for(marker.exists, timeout=30, what=f"merge paused at {point}")
    return marker


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie nobody reaps does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def no_locks(repo: Path) -> None:
    assert not (repo / ".git" / "index.lock").exists()
    assert not (repo / ".git" / "refs" / "heads" / "main.lock").exists()


def fully_landed(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        assert (repo / name).read_text() == text, name
    assert git(repo, "status", "--porcelain") == ""
    subjects = git(repo, "log", "--format=%s", "main").splitlines()
    assert any(s.startswith("Merge agentmux session a ") for s in subjects)
    no_locks(repo)


def merged_names(manager: SessionManager) -> list[str]:
    merged = [e for e in manager.store.events() if e["kind"] == "merged"]
    return sorted(manager.store.session(e["session_id"]).name for e in merged)


@pytest.fixture
def two(repo: Path, manager: SessionManager) -> Iterator[tuple[Path, Path]]:
    """Session a with three files to land, and session b to merge next."""
    a, b = session(manager, "a"), session(manager, "b")
    for name in ("a.txt", "slow.txt", "z.txt"):
        commit(a, name, f"{name}\n")
    commit(b, "b.txt", "b\n")
    yield a, b


A_FILES = {"a.txt": "a.txt\n", "slow.txt": "slow.txt\n", "z.txt": "z.txt\n"}


def slow_checkout(repo: Path, command: str) -> None:
    """Make git's own checkout of slow.txt run ``command`` first (a smudge filter): the moment
    git is writing the main worktree's files, without any hook in agentmux."""
    git(repo, "config", "filter.slow.smudge", f"{command}; cat")
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("slow.txt filter=slow\n")


def test_ctrl_c_while_git_writes_the_files_lands_everything(
    repo: Path, manager: SessionManager, two: tuple[Path, Path]
) -> None:
    marker = repo.parent / "writing"
    slow_checkout(repo, f"touch {marker}; sleep 1")
    proc = start_merge(repo, "a", "--keep")
    wait_for(marker.exists, timeout=30, what="git writing the files")
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    fully_landed(repo, A_FILES)
    assert proc.returncode == 130, err
    assert b"interrupted after the merge landed: main is at" in err
    assert merged_names(manager) == ["a"]
    assert run_cli(repo, "merge", "b", "--keep").code == 0


def test_kill_9_of_the_group_while_git_writes_the_files(
    repo: Path, manager: SessionManager, two: tuple[Path, Path]
) -> None:
    marker = repo.parent / "writing"
    slow_checkout(repo, f"touch {marker}; sleep 1")
    proc = start_merge(repo, "a", "--keep")
    wait_for(marker.exists, timeout=30, what="git writing the files")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # git, in a session of its own, was not killed with agentmux: it finishes its write.
    wait_for(lambda: git(repo, "status", "--porcelain") == "", what="git's checkout finished")
    fully_landed(repo, A_FILES)
    assert (agentmux_dir(repo) / JOURNAL).exists()
    assert merged_names(manager) == []

    again = run_cli(repo, "merge", "b", "--keep")
    assert again.code == 0, again.err
    assert "note: an interrupted merge of a into main was finished: main is at" in again.out
    assert merged_names(manager) == ["a", "b"]
    assert not (agentmux_dir(repo) / JOURNAL).exists()


def test_git_killed_half_way_through_the_files_is_finished_next_time(
    repo: Path, manager: SessionManager, two: tuple[Path, Path]
) -> None:
    marker = repo.parent / "writing"
    slow_checkout(repo, f"echo $PPID > {marker}; sleep 60")
    proc = start_merge(repo, "a", "--keep")
    wait_for(lambda: marker.exists() and marker.read_text().strip(), what="git writing")
    git_pid = int(marker.read_text())
    os.killpg(os.getpgid(git_pid), signal.SIGKILL)  # git and its filter, nothing else
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert b"main now holds the merge, but the files in" in err
    assert b"run agentmux merge again to finish" in err
    lock = repo / ".git" / "index.lock"
    assert lock.exists(), "git died holding the index lock"
    assert (repo / "a.txt").exists() and not (repo / "slow.txt").exists(), "half written"
    (repo / "a.txt").write_text("a torn wr")  # as if git died inside this file's write
    git(repo, "config", "--unset", "filter.slow.smudge")

    again = run_cli(repo, "merge", "b", "--keep")
    assert again.code == 0, again.err
    assert "an interrupted merge of a into main was finished" in again.out
    assert "files it found half-written were moved to" in again.out, again.out
    fully_landed(repo, {**A_FILES, "b.txt": "b\n"})
    (aside,) = (agentmux_dir(repo) / "recovered").iterdir()
    assert (aside / "a.txt").read_text() == "a torn wr", "moved aside, never deleted"
    assert merged_names(manager) == ["a", "b"]


def test_kill_9_before_the_branch_moves_changes_nothing(
    repo: Path, manager: SessionManager, two: tuple[Path, Path]
) -> None:
    before = state(repo)
    proc = start_merge(repo, "a", "--keep", pause="landing")
    paused(repo, "landing")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert state(repo) == before
    no_locks(repo)
    again = run_cli(repo, "merge", "a", "--keep")
    assert again.code == 0, again.err
    assert "note: an interrupted merge of a into main had not landed" in again.out
    fully_landed(repo, A_FILES)


def test_kill_9_after_the_branch_moved_is_finished_next_time(
    repo: Path, manager: SessionManager, two: tuple[Path, Path]
) -> None:
    proc = start_merge(repo, "a", "--keep", pause="landed-ref")
    paused(repo, "landed-ref")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (repo / "a.txt").exists(), "the branch moved, the files not yet"
    no_locks(repo)
    plan = run_cli(repo, "merge", "--all", "--dry-run", "--json")
    data = json.loads(plan.out)
    assert data["notes"][0].startswith("an interrupted merge of a into main was finished")
    assert [s["name"] for s in data["order"]] == ["b"]
    fully_landed(repo, A_FILES)
    assert merged_names(manager) == ["a"]


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM), (signal.SIGHUP, -signal.SIGHUP)],
)
def test_signals_wait_for_the_landing(
    repo: Path, manager: SessionManager, two: tuple[Path, Path], signum: int, code: int
) -> None:
    proc = start_merge(repo, "a", "--keep", pause="landing")
    marker = paused(repo, "landing")
    os.killpg(proc.pid, signum)
    marker.unlink()
    proc.communicate(timeout=30)
    assert proc.returncode == code
    fully_landed(repo, A_FILES)
    assert merged_names(manager) == ["a"]
    assert not (agentmux_dir(repo) / JOURNAL).exists()


# --- merge --check ------------------------------------------------------------------------------


def start_check(repo: Path, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    shell, sleeper = tmp_path / "shell.pid", tmp_path / "sleep.pid"
    check = f"echo $$ > {shell}; sleep 47 & echo $! > {sleeper}; wait"
    proc = start_merge(repo, "a", "--keep", "--check", check)
    wait_for(lambda: sleeper.exists() and sleeper.read_text().strip(), what="the check running")
    return proc, shell, sleeper


def integration_trees(repo: Path) -> list[str]:
    listing = git(repo, "worktree", "list", "--porcelain")
    return [line for line in listing.splitlines() if "/agentmux/integration/" in line]


@pytest.mark.parametrize(
    ("signum", "group", "code"),
    [
        (signal.SIGINT, True, 130),
        (signal.SIGTERM, False, -signal.SIGTERM),
        (signal.SIGHUP, True, -signal.SIGHUP),
    ],
)
def test_a_signal_during_the_check_ends_it_and_removes_its_worktree(
    repo: Path,
    manager: SessionManager,
    two: tuple[Path, Path],
    tmp_path: Path,
    signum: int,
    group: bool,
    code: int,
) -> None:
    before = state(repo)
    proc, shell, sleeper = start_check(repo, tmp_path)
    assert integration_trees(repo)
    if group:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    proc.communicate(timeout=30)
    assert proc.returncode == code
    assert integration_trees(repo) == []
    assert list((agentmux_dir(repo) / "integration").iterdir()) == []
    assert not alive(int(shell.read_text())) and not alive(int(sleeper.read_text()))
    assert state(repo) == before


def test_kill_9_during_the_check_is_cleaned_up_next_time(
    repo: Path, manager: SessionManager, two: tuple[Path, Path], tmp_path: Path
) -> None:
    before = state(repo)
    proc, shell, sleeper = start_check(repo, tmp_path)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert state(repo) == before
    assert integration_trees(repo), "left behind by the killed run"
    again = run_cli(repo, "merge", "b", "--keep")
    assert again.code == 0, again.err
    assert "left by a killed merge --check" in again.out
    assert integration_trees(repo) == []
    assert list((agentmux_dir(repo) / "integration").iterdir()) == []
    assert not alive(int(shell.read_text())) and not alive(int(sleeper.read_text()))
