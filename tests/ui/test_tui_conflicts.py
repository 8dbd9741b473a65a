"""The TUI's conflict panel (`c`), pane markers, new-conflict notices and the merge action (`m`)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Static

from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.conflict_screen import ConflictScreen
from agentmux.ui.modals import ConfirmScreen
from tests.conftest import git
from tests.ui.test_tui import SIZE, RecordingApp, until


def commit(worktree: Path, path: str, text: str) -> None:
    (worktree / path).write_text(text)
    git(worktree, "add", "--all")
    git(worktree, "commit", "--quiet", "-m", f"edit {path}")


async def test_conflict_panel_markers_and_notice(repo: Path, manager: SessionManager) -> None:
    a = Path(manager.create(agent="demo", name="a").worktree)
    b = Path(manager.create(agent="demo", name="b").worktree)
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            lambda: app.conflicts_view.conflicts is not None and len(app.grid.panes) == 2,
            what="radar",
        )
        assert not app.conflicts_view.conflicts.has_conflict  # type: ignore[union-attr]
        (a / "README.md").write_text("from a\nsecond line\n")
        (b / "README.md").write_text("from b\nsecond line\n")
        await until(
            lambda: (
                app.conflicts_view.conflicts is not None
                and app.conflicts_view.conflicts.has_conflict
            ),
            what="hit",
        )
        await until(
            lambda: all("⚠ conflict" in str(p.border_title) for p in app.grid.panes.values())
        )
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


def side(screen: ConflictScreen, which: str) -> str:
    return str(screen.query_one(f"#side-{which}", Static).content)


def opened_on(screen: ConflictScreen) -> tuple[str, str, list[str], str, str]:
    """What the panel shows: its pair, the pair's files, the two sides' text."""
    assert screen.pair is not None, "no pair selected"
    files = screen.query_one("#files", DataTable)
    paths = [str(files.get_row_at(row)[0]) for row in range(files.row_count)]
    return screen.pair.a, screen.pair.b, paths, side(screen, "a"), side(screen, "b")


async def test_conflict_panel_opens_on_the_conflicting_pair(
    repo: Path, manager: SessionManager
) -> None:
    """No key moves the cursor: the panel opens on the pair that conflicts, with its file listed
    and that file's hunks side by side."""
    a = Path(manager.create(agent="demo", name="a").worktree)
    b = Path(manager.create(agent="demo", name="b").worktree)
    (a / "README.md").write_text("from a\n")
    (b / "README.md").write_text("from b\n")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            lambda: (
                app.conflicts_view.conflicts is not None
                and app.conflicts_view.conflicts.has_conflict
            ),
            what="hit",
        )
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, ConflictScreen)
        await until(lambda: "from a" in side(screen, "a"), what="the first file's hunks")
        pair_a, pair_b, paths, side_a, side_b = opened_on(screen)
        assert (pair_a, pair_b) == ("a", "b")
        assert paths == ["README.md"]
        assert "README.md" in side_a and "from b" in side_b
        matrix = screen.query_one("#matrix", DataTable)
        assert (matrix.cursor_row, matrix.cursor_column) == (0, 2), "the cursor is on a × b"


async def test_conflict_panel_opens_on_the_focused_sessions_pair(
    repo: Path, manager: SessionManager
) -> None:
    """Three sessions all conflict; with c focused the panel opens on a pair of c's."""
    for name in ("a", "b", "c"):
        worktree = Path(manager.create(agent="demo", name=name).worktree)
        (worktree / "README.md").write_text(f"from {name}\n")
    app = RecordingApp(manager)
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: len(app.grid.panes) == 3, what="panes")
        await until(
            lambda: (
                app.conflicts_view.conflicts is not None
                and len(app.conflicts_view.conflicts.conflict_keys()) == 3
            ),
            what="three conflicting pairs",
        )
        await pilot.press("3")
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, ConflictScreen)
        await until(lambda: "from c" in side(screen, "b"), what="c's hunks")
        pair_a, pair_b, paths, side_a, _ = opened_on(screen)
        assert (pair_a, pair_b) == ("a", "c")
        assert paths == ["README.md"] and "from a" in side_a
        matrix = screen.query_one("#matrix", DataTable)
        assert (matrix.cursor_row, matrix.cursor_column) == (2, 1), "c's row, a's column"


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
        await until(lambda: len(app.grid.panes) == 3, what="panes")
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
