"""The review screen (`v`): a session's changed files and diffs, commit (`C`) and merge (`m`) from
it; and the merge flow's offer to commit work in progress first. Real tmux, git and demo agents."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.widgets import DataTable, Static

from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.app import AgentmuxApp
from agentmux.ui.modals import ConfirmScreen
from agentmux.ui.review_screen import ReviewScreen
from tests.conftest import git
from tests.ui.test_tui import SIZE, RecordingApp, demo_sessions, until


def commit(worktree: Path, path: str, text: str) -> None:
    (worktree / path).write_text(text)
    git(worktree, "add", "--all")
    git(worktree, "commit", "--quiet", "-m", f"edit {path}")


def file_rows(screen: ReviewScreen) -> list[tuple[str, str, str, str]]:
    """The file list as shown: uncommitted mark, change, lines, path."""
    table = screen.query_one("#files", DataTable)
    return [
        tuple(str(cell) for cell in table.get_row_at(row))  # type: ignore[misc]
        for row in range(table.row_count)
    ]


def shown_patch(screen: ReviewScreen) -> str:
    """The text of the diff on screen."""
    return str(screen.query_one("#patch", Static).content)


def status(screen: ReviewScreen) -> str:
    return str(screen.query_one("#status", Static).content)


def confirm_text(app: AgentmuxApp) -> str:
    screen = app.screen
    return screen.question if isinstance(screen, ConfirmScreen) else ""


def asking(app: AgentmuxApp, text: str = "") -> bool:
    """A question is on screen, composed, with ``text`` in it."""
    screen = app.screen
    return (
        isinstance(screen, ConfirmScreen) and bool(screen.query(Static)) and text in screen.question
    )


async def test_review_lists_files_marks_work_in_progress_and_shows_diffs(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "other", "rev")
    worktree = Path(manager.get("rev").worktree)
    commit(worktree, "README.md", "hello\nfrom rev\n")
    (worktree / "src" / "app.py").write_text("print('changed')\n")
    (worktree / "notes.txt").write_text("an untracked note\n")
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 2, what="panes")
        await pilot.press("2", "v")
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.session == "rev"
        await until(lambda: len(file_rows(screen)) == 3, what="the files")
        rows = {path: (mark, change, lines) for mark, change, lines, path in file_rows(screen)}
        assert rows == {
            "README.md": ("", "modified", "+1 -0"),
            "notes.txt": ("●", "added", "+1 -0"),
            "src/app.py": ("●", "modified", "+1 -1"),
        }
        summary = str(screen.query_one("#summary", Static).content)
        assert "Review rev" in summary and "3 file(s) changed" in summary
        assert "2 uncommitted (●)" in summary
        first = file_rows(screen)[0][3]
        await until(lambda: f"+++ b/{first}" in shown_patch(screen), what="the first diff")
        table = screen.query_one("#files", DataTable)
        paths = [row[3] for row in file_rows(screen)]
        table.move_cursor(row=paths.index("src/app.py"))
        await until(lambda: "+print('changed')" in shown_patch(screen), what="the selected diff")
        assert "-print('app')" in shown_patch(screen)
        table.move_cursor(row=paths.index("notes.txt"))
        await until(lambda: "+an untracked note" in shown_patch(screen), what="untracked diff")
        highlighted = screen.query_one("#patch", Static).content
        assert isinstance(highlighted, Text)
        line = highlighted.plain.index("+an untracked note")
        styles = [str(span.style) for span in highlighted.spans if span.start == line]
        assert "bright_green" in styles, "an added line is highlighted as one"
        await pilot.press("escape")
        assert not isinstance(app.screen, ReviewScreen)
        # (The helper strips the first line's leading space: " M src/app.py".)
        status_after = git(worktree, "status", "--porcelain")
        assert status_after == "M src/app.py\n?? notes.txt", "reviewing touches nothing"


async def test_commit_from_the_review_lands_on_the_branch(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "wip")
    worktree = Path(manager.get("wip").worktree)
    (worktree / "src" / "app.py").write_text("print('changed')\n")
    (worktree / "notes.txt").write_text("an untracked note\n")
    tip = git(repo, "rev-parse", "agentmux/wip")
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        await until(lambda: len(file_rows(screen)) == 2, what="the files")
        assert git(repo, "rev-parse", "agentmux/wip") == tip, "nothing committed by opening"
        await pilot.press("C")
        await until(lambda: git(repo, "rev-parse", "agentmux/wip") != tip, what="the commit")
        head = git(repo, "rev-parse", "agentmux/wip")
        assert git(repo, "rev-parse", f"{head}^") == tip
        committed = git(repo, "show", "--name-only", "--format=", head).split()
        assert committed == ["notes.txt", "src/app.py"]
        assert git(worktree, "log", "-1", "--format=%s") == "wip: work in progress"
        await until(lambda: "committed 2 file(s) of wip" in status(screen), what="the result")
        assert head[:10] in status(screen)
        await until(lambda: [row[0] for row in file_rows(screen)] == ["", ""], what="marks cleared")
        await pilot.press("C")
        await until(lambda: "nothing to commit in wip" in status(screen), what="nothing left")
        assert git(repo, "rev-parse", "agentmux/wip") == head
        await pilot.press("escape")
        assert not isinstance(app.screen, ReviewScreen)


async def test_commit_during_a_turn_is_refused_then_forced(
    repo: Path, manager: SessionManager
) -> None:
    record = manager.create(agent="demo", name="busy", prompt=b"write draft.txt first\nsleep 30")
    worktree = Path(record.worktree)
    await until(lambda: (worktree / "draft.txt").exists(), what="the agent's edit")
    await until(lambda: manager.in_turn(manager.get("busy")), what="the agent in its turn")
    tip = git(repo, "rev-parse", "agentmux/busy")
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        await until(lambda: len(file_rows(screen)) == 1, what="the files")
        await pilot.press("C")
        await until(lambda: asking(app), what="the refusal")
        assert "busy's agent is in the middle of a turn" in confirm_text(app)
        assert "Commit anyway?" in confirm_text(app)
        assert "in the middle of a turn" in status(screen)
        assert git(repo, "rev-parse", "agentmux/busy") == tip, "nothing committed on refusal"
        await pilot.press("n")
        assert isinstance(app.screen, ReviewScreen)
        assert git(repo, "rev-parse", "agentmux/busy") == tip
        await pilot.press("C")
        await until(lambda: asking(app), what="the refusal again")
        await pilot.press("y")
        await until(lambda: git(repo, "rev-parse", "agentmux/busy") != tip, what="forced commit")
        assert git(worktree, "show", "--name-only", "--format=", "HEAD") == "draft.txt"
        await until(lambda: "committed 1 file(s) of busy" in status(screen), what="the result")


async def test_merge_from_the_review_plans_this_session_alone(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "alpha", "beta")
    commit(Path(manager.get("alpha").worktree), "a.txt", "from alpha\n")
    commit(Path(manager.get("beta").worktree), "b.txt", "from beta\n")
    before = git(repo, "rev-parse", "main")
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 2, what="panes")
        await pilot.press("2", "v")
        screen = app.screen
        assert isinstance(screen, ReviewScreen) and screen.session == "beta"
        await until(lambda: len(file_rows(screen)) == 1, what="the files")
        await pilot.press("m")
        await until(lambda: asking(app), what="the plan")
        plan_text = confirm_text(app)
        assert "1. beta (agentmux/beta at" in plan_text
        assert "alpha" not in plan_text and "2." not in plan_text
        assert git(repo, "rev-parse", "main") == before, "nothing lands before yes"
        await pilot.press("y")
        await until(lambda: git(repo, "rev-parse", "main") != before, what="landing")
        assert git(repo, "show", "main:b.txt") == "from beta"
        assert not (repo / "a.txt").exists() and (repo / "b.txt").exists()
        await until(
            lambda: asking(app, "Remove the merged"),
            what="the removal offer",
        )
        assert "beta" in confirm_text(app)
        await pilot.press("n")
        assert isinstance(app.screen, ReviewScreen)
        await until(lambda: file_rows(screen) == [], what="the review read again: merged")
        assert "No change since it forked" in shown_patch(screen)
        await pilot.press("escape")
        assert not isinstance(app.screen, ReviewScreen)
        assert manager.store.session_by_name("beta") is not None


async def test_merge_offers_to_commit_work_in_progress_first(
    repo: Path, manager: SessionManager
) -> None:
    demo_sessions(manager, "done", "dirty")
    commit(Path(manager.get("done").worktree), "done.txt", "done\n")
    dirty = Path(manager.get("dirty").worktree)
    (dirty / "src" / "app.py").write_text("print('dirty')\n")
    (dirty / "new.txt").write_text("new\n")
    dirty_tip = git(repo, "rev-parse", "agentmux/dirty")
    before = git(repo, "rev-parse", "main")
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 2, what="panes")

        async def offered() -> str:
            await pilot.press("m")
            await until(
                lambda: asking(app, "uncommitted work"),
                what="the offer to commit first",
            )
            return confirm_text(app)

        offer = await offered()
        assert "1 session has uncommitted work: dirty (2 file(s))" in offer
        # No: the plan as it is, the session with work in progress left out, nothing committed.
        await pilot.press("n")
        await until(
            lambda: asking(app, "Land it?"),
            what="the plan without it",
        )
        assert "1. done" in confirm_text(app) and "left out dirty" in confirm_text(app)
        assert git(repo, "rev-parse", "agentmux/dirty") == dirty_tip
        await pilot.press("n")
        assert git(repo, "rev-parse", "main") == before

        # Yes: its work is committed on its branch first, then both are planned and landed.
        await offered()
        await pilot.press("y")
        await until(
            lambda: asking(app, "Land it?"),
            what="the plan with it",
        )
        plan_text = confirm_text(app)
        assert "left out" not in plan_text
        assert "dirty (agentmux/dirty at" in plan_text
        assert "its 2 uncommitted file(s) committed" in plan_text
        committed = git(repo, "rev-parse", "agentmux/dirty")
        assert committed != dirty_tip and git(repo, "rev-parse", f"{committed}^") == dirty_tip
        assert git(dirty, "status", "--porcelain") == ""
        await pilot.press("y")
        await until(lambda: git(repo, "rev-parse", "main") != before, what="landing")
        assert (repo / "done.txt").exists() and (repo / "new.txt").read_text() == "new\n"
        assert (repo / "src" / "app.py").read_text() == "print('dirty')\n"
        await until(
            lambda: asking(app, "Remove the merged"),
            what="the removal offer",
        )
        await pilot.press("n")


async def test_the_command_palette_opens_the_review(repo: Path, manager: SessionManager) -> None:
    demo_sessions(manager, "pal")
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 1, what="pane")
        await pilot.press("ctrl+p")
        # agentmux's own actions are offered, not only Textual's (it once looked at the
        # palette's own screen, so it offered none).
        await pilot.press(*"Review")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ReviewScreen), what="the review")
        assert isinstance(app.screen, ReviewScreen) and app.screen.session == "pal"
