"""A restarted tmux server hands out the same pane ids again: a lost session's stored ids must
never reach the agent that got them (real tmux, real demo agents, the real TUI)."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from pathlib import Path

import pytest

import agentmux
from agentmux.core.errors import AgentmuxError
from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import demo_transcript, wait_for
from tests.core.sessions.test_sessions import user_prompts
from tests.ui.test_tui import SIZE, RecordingApp, until

SGR = re.compile(r"\x1b\[[0-9;:]*m")


def live_screen(mgr: SessionManager, name: str) -> str:
    """The screen of the pane tagged with the session's id (never by a stored id alone)."""
    record = mgr.get(name)
    pane = mgr.panes_by_session().get(record.id)
    text = None if pane is None else mgr.tmux.capture_tagged(pane.pane_id, record.id)
    return text or ""


def shown(rows: tuple[str, ...] | list[str]) -> str:
    """A pane's rows as one plain string: a line tmux wrapped reads as it was printed (rows are
    captured with their trailing spaces), whatever scrolled off the top of a small pane."""
    return "".join(SGR.sub("", row) for row in rows)


def identity(mgr: SessionManager, name: str) -> str:
    """Text only that session's screen shows: the end of its worktree path in its banner (the
    start of the banner may have scrolled off a small pane)."""
    worktree = Path(mgr.get(name).worktree)
    return f"{worktree.parent.name}/{worktree.name} "


def wait_ready(mgr: SessionManager, *names: str) -> None:
    for name in names:
        # 30 s: right after a server restart, with a TUI reconnecting, on a loaded machine.
        wait_for(
            lambda n=name: "demo ❯" in live_screen(mgr, n),  # type: ignore[misc]
            timeout=30,
            what=f"{name} ready",
        )


def restart_with_new_sessions(mgr: SessionManager, old: list[str | None]) -> None:
    """Kill the tmux server (a reboot) and start two sessions that get the old pane ids."""
    mgr.tmux.kill_server()
    made = [mgr.create(agent="demo", name=name) for name in ("c", "d")]
    # A TUI reconnecting meanwhile may make its view session between the two, taking one of the
    # old ids itself: at least one lost session's id must go to a new agent.
    reused = {str(r.tmux_pane_id) for r in made} & set(map(str, old))
    assert reused, "ids reused"
    wait_ready(mgr, "c", "d")


def test_no_core_path_types_into_the_agent_that_got_a_lost_sessions_ids(
    repo: Path, manager: SessionManager
) -> None:
    a = manager.create(agent="demo", name="a", prompt=b"write from-a.txt A", deliver=False)
    b = manager.create(agent="demo", name="b", prompt=b"hello")
    turn = lambda: any(r.get("type") == "assistant" for r in demo_transcript(manager, "b"))  # noqa: E731
    wait_for(turn, what="b's first turn")
    manager.send("b", b"sleep 30")  # b is in a turn when the server dies: a budget stop is due
    wait_for(lambda: "thinking" in live_screen(manager, "b"), what="b working")
    stale = manager.sessions()  # what a TUI holds between two refreshes
    restart_with_new_sessions(manager, [a.tmux_pane_id, b.tmux_pane_id])

    lost = {r.name: r for r in manager.reconcile() if r.status is Status.LOST}
    assert sorted(lost) == ["a", "b"]
    # deliver: a's prompt is still pending, and the agent that now has a's pane id is ready.
    assert manager.deliver_prompt(a.id) is False
    # send, broadcast, attach: refused or not reaching a lost session.
    with pytest.raises(AgentmuxError):
        manager.send("a", b"write from-a.txt again")
    with pytest.raises(AgentmuxError):
        manager.attach_argv("a")
    assert sorted(manager.broadcast(b"write all.txt x", "all")) == ["c", "d"]
    # budget: an interrupt for b, decided on the stale record that still says "running".
    manager.set_budget("b", Decimal("0.000001"))
    stale_b = [r for r in stale if r.name == "b"]
    assert manager.enforce_budgets(manager.metrics(stale_b)) == ["b"]

    # Each agent takes one more prompt; anything typed into it before was handled first.
    for name in ("c", "d"):
        manager.send(name, b"write marker.txt done")
    for name in ("c", "d"):
        worktree = Path(manager.get(name).worktree)
        wait_for((worktree / "marker.txt").exists, what=f"{name} marker")
        assert not (worktree / "from-a.txt").exists(), f"a's prompt reached {name}"
        assert user_prompts(manager, name) == ["write all.txt x", "write marker.txt done"]
        assert "press Ctrl-C again" not in live_screen(manager, name), f"b's interrupt hit {name}"
    assert all(r.tmux_pane_id is None for r in lost.values()), "a lost session's ids are cleared"


async def test_a_lost_sessions_pane_shows_and_takes_nothing_of_the_agent_with_its_ids(
    repo: Path, manager: SessionManager
) -> None:
    first = [manager.create(agent="demo", name=name) for name in ("a", "b")]
    wait_ready(manager, "a", "b")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 2, what="panes")
        a_pane = app.grid.panes[first[0].id]
        await until(lambda: identity(manager, "a") in shown(a_pane.rows), what="a's screen")
        await pilot.press("1", "i")
        assert app.grid.insert_mode and app.grid.insert_target is a_pane
        other = SessionManager.open(repo)  # another agentmux process, as the user would run
        await asyncio.to_thread(restart_with_new_sessions, other, [r.tmux_pane_id for r in first])
        # The TUI reconnects to the restarted server with a backoff: slow on a loaded machine.
        await until(lambda: len(app.grid.panes) == 4, timeout=40, what="the new sessions' panes")
        c_pane = app.grid.panes[other.get("c").id]
        # (Not "session c": in a quarter of the screen the banner's first line may scroll off.)
        c_text = identity(other, "c")
        await until(lambda: c_text in shown(c_pane.rows), timeout=40, what="c mirrored")
        await until(lambda: a_pane.record.status is Status.LOST, what="a shown lost")
        await pilot.press(*"yoyo", "enter")
        await asyncio.sleep(1.0)  # a mirror that routes by pane id has shown c's screen by now
        for pane in app.grid.panes.values():
            if pane.record.name in ("a", "b"):
                text = shown(pane.rows)
                for other_name in ("c", "d"):
                    assert identity(other, other_name) not in text, pane.record.name
        assert any("lost" in row for row in a_pane.rows)
        assert "lost" in str(a_pane.border_title)
        still_inserting = app.grid.insert_mode
        told = any("is lost" in n.message for n in app._notifications)
    for name in ("c", "d"):
        await asyncio.to_thread(other.send, name, b"write marker.txt done")
        worktree = Path(other.get(name).worktree)
        await until((worktree / "marker.txt").exists, what=f"{name} marker")
        prompts = user_prompts(other, name)
        assert prompts == ["write marker.txt done"], f"keys typed into a lost pane reached {name}"
        assert "yoyo" not in live_screen(other, name)
    assert not still_inserting and told, "typing into a lost session ends insert mode, said so"


def test_nothing_in_agentmux_acts_on_a_pane_by_its_id_alone() -> None:
    # TmuxServer.send_keys/capture/kill_window/kill_session take a bare id, for tests; agentmux
    # itself uses the forms tmux checks against the pane's tag.
    root = Path(agentmux.__file__).parent
    bare = re.compile(r"\btmux\.(send_keys|capture|kill_window|kill_session)\(")
    found = [
        f"{path.relative_to(root)}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        for line in path.read_text().splitlines()
        if bare.search(line)
    ]
    assert not found, found
