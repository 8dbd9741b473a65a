"""SVG snapshots of the main layouts in every built-in theme, from fixed data, at 120x36.

Regenerate after a deliberate change with
``UPDATE_SNAPSHOTS=1 pytest tests/ui/test_tui_snapshots.py`` and look at the SVGs before
committing them.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable

from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.sessions.session_diff import ChangedFile, SessionDiff
from agentmux.core.tmux.control import Screen
from agentmux.ui.app import AgentmuxApp
from agentmux.ui.messages import SessionsRefreshed, SessionView
from agentmux.ui.review_screen import DiffLoaded, PatchLoaded, ReviewScreen

SNAPSHOTS = Path(__file__).parents[1] / "snapshots"
THEMES = ("agentmux-dark", "agentmux-light", "agentmux-high-contrast")
SIZE = (120, 36)


class SnapshotApp(AgentmuxApp):
    """The real app with its data fixed: no reconcile, no mirror, no clock."""

    def refresh_sessions(self) -> None:  # type: ignore[override]
        """Nothing live: the test posts the sessions."""

    def _watch_state(self) -> None:  # type: ignore[override]
        """Nothing live."""

    def _start_radar(self) -> None:  # type: ignore[override]
        """Nothing live."""

    def _ask_hosts(self) -> None:  # type: ignore[override]
        """Nothing live."""

    def _refresh_metrics(self) -> None:  # type: ignore[override]
        """Nothing live."""


def record(
    n: int, status: Status = Status.RUNNING, exit_status: int | None = None
) -> SessionRecord:
    names = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota"]
    name = names[n]
    return SessionRecord(
        id=f"00000000-0000-0000-0000-00000000000{n}",
        name=name,
        agent="claude" if n % 2 else "demo",
        agent_kind="demo",
        agent_session_id=f"s{n}",
        branch=f"agentmux/{name}",
        worktree=f"/work/{name}",
        base_ref="main",
        base_commit="0" * 40,
        status=status,
        created_at=0.0,
        exit_status=exit_status,
        tmux_pane_id=f"%{n}",
        tmux_window_id=f"@{n}",
        tmux_session_id=f"${n}",
    )


def screen_rows(n: int) -> tuple[str, ...]:
    return (
        "\x1b[1;36m✻ agentmux demo agent\x1b[0m",
        "",
        f"\x1b[1;35mdemo ❯\x1b[0m write src/module_{n}.py",
        "\x1b[33m⏺ Working…\x1b[0m",
        f"\x1b[32m⎿ Wrote src/module_{n}.py\x1b[0m",
        "",
        "\x1b[1;35mdemo ❯\x1b[0m ",
    )


def normalise(svg: str) -> str:
    # Rich names the SVG's CSS classes after a hash of the whole terminal; keep them stable.
    return re.sub(r"terminal-\d+", "terminal", svg)


async def snapshot(manager: SessionManager, theme: str, count: int) -> str:
    app = SnapshotApp(manager, theme=theme, mirror=False, refresh_seconds=3600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        views = []
        for n in range(count):
            status, code = Status.RUNNING, None
            if n == 2:
                status, code = Status.EXITED, 1
            views.append(SessionView(record(n, status, code), 1.0 if n % 3 else 30.0))
        app.post_message(SessionsRefreshed(views))
        await pilot.pause()
        for n in range(count):
            # As the mirror delivers them (coalesced per pane).
            now = time.monotonic()
            app.grid._on_screen(Screen(f"%{n}", screen_rows(n), (7, 6), 80, 20, now, record(n).id))
        await pilot.pause()
        await pilot.pause()
        return normalise(app.export_screenshot(title=f"agentmux {theme}"))


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("count", [0, 4, 9])
async def test_layout_snapshot(manager: SessionManager, theme: str, count: int) -> None:
    svg = await snapshot(manager, theme, count)
    check_snapshot(svg, SNAPSHOTS / f"grid{count}-{theme}.svg")


def check_snapshot(svg: str, path: Path) -> None:
    """Compare with the committed snapshot (write it when asked to, or when it is new)."""
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        if os.environ.get("CI") and not path.exists():
            pytest.fail(f"snapshot {path.name} is missing; generate it and commit it")
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(svg)
    assert svg == path.read_text(), f"{path.name} changed (UPDATE_SNAPSHOTS=1 to accept)"


REVIEW_FILES = (
    ChangedFile("README.md", "modified", None, False, False, 2, 1),
    ChangedFile("src/module_1.py", "added", None, True, False, 6, 0),
    ChangedFile("src/old_name.py", "renamed", "src/util.py", True, False, 1, 1),
    ChangedFile("docs/logo.png", "added", None, True, True, None, None),
    ChangedFile("setup.cfg", "deleted", None, False, False, 0, 4),
)
REVIEW_PATCH = """\
diff --git a/src/module_1.py b/src/module_1.py
new file mode 100644
index 0000000..3b18e51
--- /dev/null
+++ b/src/module_1.py
@@ -0,0 +1,6 @@
+\"\"\"Module one, written by the demo agent.\"\"\"
+
+
+def answer() -> int:
+    return 42
+
"""


class FixedReviewScreen(ReviewScreen):
    """The review screen with its data fixed: no git."""

    def load(self) -> None:  # type: ignore[override]
        """A fixed change."""
        diff = SessionDiff("alpha", "0" * 40, "1" * 40, "2" * 40, REVIEW_FILES, None, "/work/alpha")
        self.post_message(DiffLoaded(diff))

    def load_patch(self, diff: SessionDiff, path: str) -> None:  # type: ignore[override]
        """A fixed diff for whichever file."""
        self.post_message(PatchLoaded(diff.snapshot, path, REVIEW_PATCH))


async def review_snapshot(manager: SessionManager, theme: str) -> str:
    app = SnapshotApp(manager, theme=theme, mirror=False, refresh_seconds=3600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.push_screen(FixedReviewScreen(manager, "alpha", "agentmux/alpha", lambda *_: None))
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FixedReviewScreen)
        screen.query_one("#files", DataTable).move_cursor(row=1)
        await pilot.pause()
        await pilot.pause()
        assert screen.shown == "src/module_1.py"
        return normalise(app.export_screenshot(title=f"agentmux review {theme}"))


@pytest.mark.parametrize("theme", THEMES)
async def test_review_snapshot(manager: SessionManager, theme: str) -> None:
    svg = await review_snapshot(manager, theme)
    check_snapshot(svg, SNAPSHOTS / f"review-{theme}.svg")
