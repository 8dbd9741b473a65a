"""`new` killed right after tmux made the agent's pane: the agent is found and adopted, never
left running unseen as `lost` (real CLI processes, real tmux, real demo agents)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentmux.core.agents.events import AGENT_EVENT
from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import run_cli, wait_for


def killed_after_new_session(repo: Path, name: str) -> SessionManager:
    """Run `agentmux new`, SIGKILL it the moment tmux has made the pane, before it recorded the
    start; a manager on the repository (which has not looked at tmux yet)."""
    env = {**os.environ, "AGENTMUX_TEST_PAUSE_AT": "after_new_session"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentmux", "new", "--agent", "demo", "--name", name, "hello"],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if b"paused at after_new_session" in line:
            break
    proc.kill()
    proc.wait()
    mgr = SessionManager.open(repo)
    assert mgr.get(name).status is Status.STARTING
    return mgr


def pane_of_tmux_session(mgr: SessionManager, name: str) -> str:
    panes = [p for p in mgr.tmux.panes() if p.session_name == name]
    assert len(panes) == 1
    return panes[0].pane_id


def untag(mgr: SessionManager, pane_id: str) -> None:
    """What an agentmux killed between making the pane and tagging it left (before tagging was
    part of the same tmux call)."""
    mgr.tmux.cmd("set-option", "-p", "-u", "-t", pane_id, "@agentmux_id")


def lifecycle_kinds(mgr: SessionManager, session_id: str) -> list[str]:
    """The session's event kinds without what its agent reported: the demo agent's hook may
    report at any moment after adoption (seen in CI)."""
    return [e["kind"] for e in mgr.store.events(session_id) if e["kind"] != AGENT_EVENT]


def ls(repo: Path) -> dict[str, dict[str, object]]:
    result = run_cli(repo, "ls", "--json")
    assert result.code == 0, result.err
    return {row["name"]: row for row in json.loads(result.out)}


@pytest.mark.parametrize("left_as", ["starting", "lost"])
def test_an_untagged_agent_of_a_killed_new_is_adopted(repo: Path, left_as: str) -> None:
    mgr = killed_after_new_session(repo, "orphan")
    record = mgr.get("orphan")
    pane_id = pane_of_tmux_session(mgr, "orphan")
    pid = next(p.pane_pid for p in mgr.tmux.panes() if p.pane_id == pane_id)
    untag(mgr, pane_id)
    if left_as == "lost":
        # An older agentmux requeued it, failed to start it again (the name was taken) and
        # called it lost.
        mgr.store.update_session(record.id, "lost", status=Status.LOST)
    row = ls(repo)["orphan"]
    assert row["status"] == "running"
    assert isinstance(row["tmux"], dict) and row["tmux"]["pane_id"] == pane_id
    pane = mgr.panes_by_session()[record.id]
    assert (pane.pane_id, pane.pane_pid) == (pane_id, pid), "the same agent, tagged again"
    kinds = lifecycle_kinds(mgr, record.id)
    assert "orphan_tagged" in kinds and kinds[-1] == "adopted"
    sent = run_cli(repo, "send", "orphan", "write adopted.txt yes")
    assert sent.code == 0, sent.err
    wait_for((Path(record.worktree) / "adopted.txt").exists, what="the adopted agent working")


def test_a_killed_new_leaves_a_tagged_agent_that_the_next_run_adopts(repo: Path) -> None:
    mgr = killed_after_new_session(repo, "tagged")
    record = mgr.get("tagged")
    pane_id = pane_of_tmux_session(mgr, "tagged")
    # The tag was set by the same tmux call that made the pane: it is there already.
    assert mgr.panes_by_session()[record.id].pane_id == pane_id
    assert ls(repo)["tagged"]["status"] == "running"
    assert lifecycle_kinds(mgr, record.id)[-1] == "adopted"


def test_an_untagged_pane_started_elsewhere_is_never_adopted(repo: Path, tmp_path: Path) -> None:
    mgr = killed_after_new_session(repo, "lookalike")
    record = mgr.get("lookalike")
    mgr.tmux.cmd("kill-session", "-t", "=lookalike")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # Someone's own pane on agentmux's server, in a tmux session of the same name.
    mgr.tmux.cmd("new-session", "-d", "-s", "lookalike", "-c", str(elsewhere), "sleep 600")
    pane_id = pane_of_tmux_session(mgr, "lookalike")
    assert ls(repo)["lookalike"]["status"] != "running"
    pane = next(p for p in mgr.tmux.panes() if p.pane_id == pane_id)
    assert not pane.agentmux_id and not pane.dead, "left alone: untagged and running"
    assert record.id not in mgr.panes_by_session()
