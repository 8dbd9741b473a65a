"""The TUI's conflict panel (`c`), pane markers, new-conflict notices and the merge action (`m`)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static

from agentmux.core.sessions import SessionManager
from agentmux.ui.conflict_screen import ConflictScreen
from agentmux.ui.modals import ConfirmScreen
from tests.conftest import git
from tests.test_tui import SIZE, RecordingApp, until


def commit(worktree: Path, path: str, text: str) -> None:
    (worktree / path).write_text(text)
    git(worktree, "add", "--all")
    git(worktree, "commit", "--quiet", "-m", f"edit {path}")


async def test_conflict_panel_markers_and_notice(repo: Path, manager: SessionManager) -> None:
    a = Path(manager.create(agent="demo", name="a").worktree)
    b = Path(manager.create(agent="demo", name="b").worktree)
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.conflicts is not None and len(app.panes) == 2, what="radar")
        assert not app.conflicts.has_conflict  # type: ignore[union-attr]
        (a / "README.md").write_text("from a\nsecond line\n")
        (b / "README.md").write_text("from b\nsecond line\n")
        await until(lambda: app.conflicts is not None and app.conflicts.has_conflict, what="hit")
        await until(lambda: all("⚠ conflict" in str(p.border_title) for p in app.panes.values()))
        assert any("new conflict: a × b in README.md" in n.message for n in app._notifications)

        await pilot.press("c")
        assert isinstance(app.screen, ConflictScreen)
        matrix = app.screen.query_one("#matrix", DataTable)
        assert matrix.row_count == 2
        matrix.cursor_coordinate = matrix.cursor_coordinate._replace(row=0, column=2)
        files = app.screen.query_one("#files", DataTable)
        await until(lambda: files.row_count == 1, what="the pair's files")
        side_a = app.screen.query_one("#side-a", Static)
        side_b = app.screen.query_one("#side-b", Static)
        await until(lambda: "from a" in str(side_a.content), what="hunks")
        assert "from b" in str(side_b.content)
        assert "second line" not in str(side_a.content), "only the conflicting lines"
        await pilot.press("escape")
        assert not isinstance(app.screen, ConflictScreen)


async def test_merge_action_shows_the_plan_then_lands(repo: Path, manager: SessionManager) -> None:
    a = Path(manager.create(agent="demo", name="a").worktree)
    b = Path(manager.create(agent="demo", name="b").worktree)
    c = Path(manager.create(agent="demo", name="c").worktree)
    commit(a, "README.md", "from a\n")
    commit(b, "README.md", "from b\n")
    commit(c, "c.txt", "from c\n")
    before = git(repo, "rev-parse", "main")
    app = RecordingApp(manager, radar=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.panes) == 3, what="panes")
        await pilot.press("m")
        await until(lambda: isinstance(app.screen, ConfirmScreen), what="the plan")
        plan_text = str(app.screen.query_one(Static).content)
        assert "1. c" in plan_text and "2. a" in plan_text and "left out b" in plan_text
        assert git(repo, "rev-parse", "main") == before, "nothing lands before yes"
        await pilot.press("y")
        await until(lambda: (repo / "c.txt").exists(), what="landing")
        assert (repo / "README.md").read_text() == "from a\n"
        await until(
            lambda: (
                isinstance(app.screen, ConfirmScreen)
                and "Remove the merged" in str(app.screen.query_one(Static).content)
            ),
            what="the removal offer",
        )
        await pilot.press("n")
        assert a.exists() and c.exists()
