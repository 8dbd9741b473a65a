"""Resume from the TUI: the one-time offer after a tmux restart (a reboot), `r` on a lost, exited
or stopped session, the palette. Real tmux (its server really killed), git and demo agents."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.screen import Screen

from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.app import AgentmuxApp
from agentmux.ui.modals import ConfirmScreen
from agentmux.ui.pane_view import LOST_ROWS, PaneView
from tests.conftest import demo_prompts as prompts
from tests.conftest import wait_for
from tests.ui.test_tui import SIZE, RecordingApp, demo_sessions, until
from tests.ui.test_tui_review import asking

OFFER = "lost (the tmux server restarted, or the machine did)"


class OfferCountingApp(RecordingApp):
    """The real app, recording the questions it asks."""

    def __init__(self, manager: SessionManager, **kwargs: object) -> None:
        super().__init__(manager, **kwargs)
        self.questions: list[str] = []

    def push_screen(self, screen: Screen[Any] | str, *args: Any, **kwargs: Any) -> Any:
        if isinstance(screen, ConfirmScreen):
            self.questions.append(screen.question)
        return super().push_screen(screen, *args, **kwargs)


def pane(app: AgentmuxApp, manager: SessionManager, name: str) -> PaneView:
    return app.grid.panes[manager.get(name).id]


def title(app: AgentmuxApp, manager: SessionManager, name: str) -> str:
    return str(pane(app, manager, name).border_title)


def notified(app: AgentmuxApp, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def test_lost_sessions_are_offered_once_and_resumed_in_the_same_conversation(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "keep", "also")
    manager.send("keep", b"write first.txt before the reboot")
    worktree = Path(manager.get("keep").worktree)
    wait_for(lambda: (worktree / "first.txt").exists(), what="the first turn")
    wait_for(lambda: "write first.txt before the reboot" in prompts(manager, "keep"))
    conversation = manager.get("keep").agent_session_id
    manager.tmux.kill_server()  # a reboot, as far as tmux knows

    app = OfferCountingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: asking(app, OFFER), what="the offer")
        question = app.questions[0]
        assert "2 sessions were lost" in question and "keep, also" in question
        assert "Resume them all?" in question
        # The grid is laid out behind the question, the lost panes saying how to resume them.
        assert len(app.grid.panes) == 2
        assert "lost · press r to resume" in title(app, manager, "keep")
        assert pane(app, manager, "keep").rows == LOST_ROWS
        assert any("Press" in row and "to resume it" in row for row in LOST_ROWS)
        await pilot.press("y")
        await until(
            lambda: all(manager.get(n).status is Status.RUNNING for n in ("keep", "also")),
            what="both running again",
        )
        short = conversation.partition("-")[0]
        await until(
            lambda: notified(app, f"resumed keep (same conversation {short})"),
            what="keep's outcome",
        )
        # "also" was never given a prompt: nothing to continue, and it says so.
        assert notified(app, "also restarted fresh: its agent had not begun a conversation yet")
        await until(
            lambda: "press r to resume" not in title(app, manager, "keep"), what="the title"
        )
        await until(
            lambda: any("demo ❯" in row for row in pane(app, manager, "keep").rows),
            what="its new screen mirrored",
        )
        assert manager.get("keep").agent_session_id == conversation
        manager.send("keep", b"write second.txt after the reboot")
        await until((worktree / "second.txt").exists, what="a turn after the resume")
        await until(
            lambda: "write second.txt after the reboot" in prompts(manager, "keep"),
            what="the new turn in the transcript",
        )
        said = prompts(manager, "keep")
        assert said.index("write first.txt before the reboot") < said.index(
            "write second.txt after the reboot"
        ), "the same conversation goes on, the earlier turn first"
        await asyncio.sleep(1.5)  # several refreshes (every 0.3 s): no second offer
        assert sum(OFFER in q for q in app.questions) == 1, app.questions


async def test_declining_the_offer_leaves_them_lost_and_r_resumes_one(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "one", "two")
    manager.tmux.kill_server()
    app = OfferCountingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: asking(app, OFFER), what="the offer")
        await pilot.press("n")
        await asyncio.sleep(1.5)
        assert [q for q in app.questions if OFFER in q] == [app.questions[0]], "asked once"
        assert not isinstance(app.screen, ConfirmScreen)
        assert {manager.get(n).status for n in ("one", "two")} == {Status.LOST}
        await pilot.press("2", "r")
        await until(lambda: manager.get("two").status is Status.RUNNING, what="two resumed")
        await until(lambda: notified(app, "two restarted fresh"), what="its outcome")
        assert manager.get("one").status is Status.LOST, "only the focused one"
        await until(
            lambda: any("demo ❯" in row for row in pane(app, manager, "two").rows),
            what="its screen",
        )
        assert sum(OFFER in q for q in app.questions) == 1


async def test_r_resumes_a_stopped_and_an_exited_session(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "stopme", "quits", "busy")
    manager.stop("stopme")
    manager.send("quits", b"exit 3")
    wait_for(lambda: manager.reconcile() and manager.get("quits").status is Status.EXITED)
    app = OfferCountingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 3, what="panes")
        await until(lambda: "stopped · press r to resume" in title(app, manager, "stopme"))
        await until(lambda: "exited 3 · press r to resume" in title(app, manager, "quits"))
        assert "press r to resume" not in title(app, manager, "busy")
        assert app.questions == [], "nothing was lost: no offer"
        await pilot.press("1", "r")
        await until(lambda: manager.get("stopme").status is Status.RUNNING, what="stopme back")
        await pilot.press("2", "r")
        await until(lambda: manager.get("quits").status is Status.RUNNING, what="quits back")
        await until(lambda: "press r to resume" not in title(app, manager, "quits"))
        await pilot.press("3", "r")
        await until(lambda: notified(app, "busy is already running"), what="the refusal")
        assert manager.get("busy").status is Status.RUNNING


async def test_the_palette_resumes_every_lost_session(repo: Path, manager: SessionManager) -> None:
    demo_sessions(manager, "p1", "p2")
    manager.stop("p2")
    manager.tmux.kill_server()
    app = OfferCountingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: asking(app, OFFER), what="the offer")
        assert "1 session was lost" in app.questions[0] and "p1" in app.questions[0]
        assert "p2" not in app.questions[0], "a stopped session is not lost"
        await pilot.press("n")
        await pilot.press("ctrl+p")
        await pilot.press(*("space" if c == " " else c for c in "Resume all lost"))
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(lambda: manager.get("p1").status is Status.RUNNING, what="p1 resumed")
        assert manager.get("p2").status is Status.STOPPED, "the stopped one stays stopped"
