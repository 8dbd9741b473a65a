"""`new`'s prompt and prompts sent later reach the agent in the order they were given, whatever
happens to the `new` that waits for the agent (real CLI processes, a slow-starting demo agent)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import run_cli, wait_for
from tests.core.sessions.test_sessions import user_prompts

# The demo agent shows its prompt this long after it starts: `new` is waiting meanwhile.
START_DELAY = "4"


def new_waiting_for_the_agent(repo: Path) -> subprocess.Popen[bytes]:
    """`agentmux new ... "write first.txt 1"`, once it waits for the (slow) agent to be ready."""
    env = {**os.environ, "AGENTMUX_DEMO_START_DELAY": START_DELAY}
    new = ["new", "--agent", "demo", "--name", "slow", "write first.txt 1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentmux", *new],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    mgr = SessionManager.open(repo)
    try:

        def started() -> bool:
            record = mgr.store.session_by_name("slow")
            return record is not None and record.status is Status.RUNNING

        wait_for(started, what="the agent started")
        time.sleep(0.5)  # `new` is inside its wait for the agent now (it shows nothing for 4 s)
    finally:
        mgr.close()
    return proc


def prompts_once_idle(repo: Path, wanted: str) -> list[str]:
    """The prompts the agent has read, once ``wanted`` has run and any queue tick is done."""
    mgr = SessionManager.open(repo)
    worktree = Path(mgr.get("slow").worktree)
    wait_for((worktree / wanted).exists, timeout=30, what=wanted)
    # What would type a pending prompt later (a hook, another session's exit, the TUI).
    assert run_cli(repo, "_tick").code == 0
    marker = run_cli(repo, "send", "slow", "write last.txt 3")
    assert marker.code == 0, marker.err
    wait_for((worktree / "last.txt").exists, timeout=30, what="the last prompt")
    return user_prompts(mgr, "slow")


@pytest.mark.slow
def test_ctrl_c_while_new_waits_cancels_its_prompt(repo: Path) -> None:
    proc = new_waiting_for_the_agent(repo)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("agentmux: the prompt was not typed: cancelled"), last
    assert "Traceback" not in err.decode()
    mgr = SessionManager.open(repo)
    record = mgr.get("slow")
    assert not record.prompt_pending
    assert "prompt_cancelled" in [e["kind"] for e in mgr.store.events(record.id)]
    sent = run_cli(repo, "send", "slow", "write second.txt 2")
    assert sent.code == 0, sent.err
    assert prompts_once_idle(repo, "second.txt") == ["write second.txt 2", "write last.txt 3"]
    assert not (Path(record.worktree) / "first.txt").exists()


@pytest.mark.slow
def test_a_prompt_left_pending_by_a_killed_new_goes_before_a_later_one(repo: Path) -> None:
    proc = new_waiting_for_the_agent(repo)
    proc.kill()
    proc.wait()
    assert SessionManager.open(repo).get("slow").prompt_pending
    sent = run_cli(repo, "send", "slow", "write second.txt 2")
    assert sent.code == 0, sent.err
    assert prompts_once_idle(repo, "second.txt") == [
        "write first.txt 1",
        "write second.txt 2",
        "write last.txt 3",
    ]


@pytest.mark.slow
def test_a_prompt_sent_while_new_waits_goes_after_news(repo: Path) -> None:
    proc = new_waiting_for_the_agent(repo)
    sent = run_cli(repo, "send", "slow", "write second.txt 2")
    assert sent.code == 0, sent.err
    assert proc.wait(timeout=30) == 0
    assert prompts_once_idle(repo, "second.txt") == [
        "write first.txt 1",
        "write second.txt 2",
        "write last.txt 3",
    ]


@pytest.mark.slow
def test_prompts_sent_at_once_reach_the_agent_whole(repo: Path) -> None:
    made = run_cli(repo, "new", "--agent", "demo", "--name", "slow", "write first.txt 1")
    assert made.code == 0, made.err
    mgr = SessionManager.open(repo)
    worktree = Path(mgr.get("slow").worktree)
    wait_for((worktree / "first.txt").exists, timeout=30, what="first.txt")
    # Long prompts: a paste takes a while, so two typed at once would interleave.
    texts = [f"write f{n}.txt {'x' * 3000}" for n in range(3)]
    sends = [
        subprocess.Popen(
            [sys.executable, "-m", "agentmux", "send", "slow", text],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for text in texts
    ]
    for proc in sends:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    for n in range(3):
        wait_for((worktree / f"f{n}.txt").exists, timeout=60, what=f"f{n}.txt")
    assert sorted(user_prompts(mgr, "slow")[1:]) == sorted(texts)
