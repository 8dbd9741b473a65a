"""What goes wrong in a day of real use: each fault, and what agentmux does about it."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil

from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git, run_cli, wait_for


def commit(worktree: Path, path: str, text: str) -> None:
    (worktree / path).write_text(text)
    git(worktree, "add", "--all")
    git(worktree, "commit", "--quiet", "-m", f"edit {path}")


def test_agent_process_killed_is_recorded_and_counted(repo: Path, manager: SessionManager) -> None:
    record = manager.create(agent="demo", name="victim")
    assert record.tmux_pane_id is not None
    pane = next(p for p in manager.tmux.panes() if p.pane_id == record.tmux_pane_id)
    assert pane.pane_pid is not None
    wrapper = psutil.Process(pane.pane_pid)

    def agents() -> list[psutil.Process]:
        return [
            c
            for c in wrapper.children(recursive=True)
            if c.name().startswith("python") and "agentmux.demo_agent" in c.cmdline()
        ]

    wait_for(agents, what="the demo agent running under the pane's wrapper")
    agents()[0].kill()
    wait_for(lambda: manager.reconcile()[0].status is Status.EXITED, what="the exit recorded")
    assert manager.get("victim").exit_signal == signal.SIGKILL
    (row,) = json.loads(run_cli(repo, "cost", "--json").out)["sessions"]
    assert row["failures"][-1]["kind"] == "exit"
    assert "signal 9" in row["failures"][-1]["reason"]


def test_kill_9_mid_merge_leaves_the_base_branch_untouched(
    repo: Path, manager: SessionManager
) -> None:
    a = Path(manager.create(agent="demo", name="a").worktree)
    commit(a, "a.txt", "a\n")
    before = git(repo, "rev-parse", "main")
    marker = repo.parent / "check-started"
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentmux", "merge", "a", "--keep", "--check",
         f"touch {marker}; sleep 30"],
        cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_for(marker.exists, what="the check running")
    proc.kill()
    proc.wait()
    assert git(repo, "rev-parse", "main") == before
    assert git(repo, "status", "--porcelain") == ""
    again = run_cli(repo, "merge", "a", "--keep")
    assert again.code == 0, again.err
    assert (repo / "a.txt").read_text() == "a\n"


def test_kill_9_while_writing_state_keeps_the_database_intact(
    repo: Path, manager: SessionManager
) -> None:
    record = manager.create(agent="demo", name="s")
    db = manager.store.path
    writer = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys\n"
            "from pathlib import Path\n"
            "from agentmux.core.state import StateStore\n"
            "s = StateStore(Path(sys.argv[1]))\n"
            "i = 0\n"
            "while True:\n"
            "    s.record_event(sys.argv[2], 'load', {'i': i, 'pad': 'x' * 2000}); i += 1\n"
        ), str(db), record.id],
    )  # fmt: skip
    wait_for(
        lambda: len(manager.store.events(record.id, kinds=("load",))) > 200, what="writes under way"
    )
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    written = manager.store.events(record.id, kinds=("load",))
    assert [e["data"]["i"] for e in written] == list(range(len(written))), "no gap, no torn row"
    assert run_cli(repo, "ls").code == 0


def _no_bigger_files(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, not the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_disk_full_while_writing_state_is_one_sentence_and_loses_nothing(
    repo: Path, manager: SessionManager
) -> None:
    manager.create(agent="demo", name="s")
    big = "x" * 200_000  # a prompt is kept in the state database until it is typed
    done = subprocess.run(
        [sys.executable, "-m", "agentmux", "new", "--agent", "demo", "--name", "t", "-"],
        cwd=repo,
        input=big,
        capture_output=True,
        text=True,
        preexec_fn=lambda: _no_bigger_files(64 * 1024),
        check=False,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("agentmux: ") and done.stderr.count("\n") == 1, done.stderr
    assert "is the disk full?" in done.stderr and "move it aside" not in done.stderr
    listing = run_cli(repo, "ls", "--json")
    assert listing.code == 0 and [r["name"] for r in json.loads(listing.out)] == ["s"]
    assert "agentmux/t" not in git(repo, "branch", "--list"), "nothing half-created"


def test_worktree_deleted_behind_agentmux_back(repo: Path, manager: SessionManager) -> None:
    a = Path(manager.create(agent="demo", name="a").worktree)
    manager.create(agent="demo", name="b")
    manager.stop("a")
    subprocess.run(["rm", "-rf", str(a)], check=True)
    report = run_cli(repo, "conflicts", "--json")
    assert report.code == 0, report.err
    data = json.loads(report.out)
    state = next(s for s in data["sessions"] if s["name"] == "a")
    assert state["unavailable"] == "its worktree is missing"
    assert run_cli(repo, "rm", "a").code == 0
    assert run_cli(repo, "cost").code == 0


def test_tmux_server_killed_then_agentmux_recovers(repo: Path, manager: SessionManager) -> None:
    manager.create(agent="demo", name="a")
    subprocess.run(["tmux", "-S", str(manager.tmux.socket_path), "kill-server"], check=False)
    listing = run_cli(repo, "ls", "--json")
    assert listing.code == 0
    assert json.loads(listing.out)[0]["status"] == "lost"
    fresh = run_cli(repo, "new", "--agent", "demo", "--name", "b")
    assert fresh.code == 0, fresh.err
    assert os.path.exists(manager.tmux.socket_path)
    time.sleep(0.1)
