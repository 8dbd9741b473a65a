"""The state directory watched: what another process changes reaches the grid at once, not at
the next timed look (a real TUI, real CLI processes, the state directory inside ``.git``)."""

from __future__ import annotations

from pathlib import Path

import watchfiles

from agentmux.core.paths import ensure_private_dir
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.app import AgentmuxApp
from agentmux.ui.state_watch import StateFilter
from tests.conftest import run_cli
from tests.ui.test_tui import SIZE, until


def test_the_filter_keeps_state_inside_git_and_drops_the_radars_snapshots(tmp_path: Path) -> None:
    home = tmp_path / ".git" / "agentmux"
    keep = StateFilter(home)
    # watchfiles' default filter drops all of these (a ".git" part): this one must not.
    assert keep(watchfiles.Change.modified, str(home / "state.db-wal"))
    assert keep(watchfiles.Change.added, str(home / "exit" / "some-session"))
    assert not keep(watchfiles.Change.added, str(home / "snapshots" / "objects" / "ab"))


def test_a_private_dir_that_is_private_already_is_left_alone(tmp_path: Path) -> None:
    """Asked for on every reconcile: a chmod each time would be a change its watchers see."""
    made = ensure_private_dir(tmp_path / "exit")
    changed = made.stat().st_ctime_ns
    assert ensure_private_dir(made) == made
    assert made.stat().st_ctime_ns == changed


async def test_a_session_made_by_another_process_appears_without_the_poll(
    repo: Path, manager: SessionManager
) -> None:
    # No poll, and no tmux client whose notifications would reconcile too: only the watch.
    app = AgentmuxApp(manager, refresh_seconds=3600, radar=False, mirror=False)
    async with app.run_test(size=SIZE):
        await until(lambda: app.grid.latest is not None, what="the first reconcile")
        assert not app.grid.panes
        made = run_cli(repo, "new", "--agent", "demo", "--name", "elsewhere")
        assert made.code == 0, made.err
        await until(
            lambda: [p.record.name for p in app.grid.panes.values()] == ["elsewhere"],
            timeout=10,
            what="the new session's pane",
        )
