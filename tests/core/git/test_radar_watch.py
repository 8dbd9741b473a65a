"""The radar follows the worktrees: a saved file or a moved base branch updates the answer."""

from __future__ import annotations

import queue
from pathlib import Path

from agentmux.core.git.conflicts import ConflictReport, Verdict, new_conflicts
from agentmux.core.git.radar_watch import RadarWatcher
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git


def next_report(
    reports: queue.Queue[ConflictReport], want: object, timeout: float = 10.0
) -> ConflictReport:
    """The first report for which ``want(report)`` holds."""
    while True:
        report = reports.get(timeout=timeout)
        if want(report):  # type: ignore[operator]
            return report


def test_watcher_reports_new_conflicts_from_saves_and_base_moves(
    repo: Path, manager: SessionManager
) -> None:
    a = Path(manager.create(agent="demo", name="a").worktree)
    b = Path(manager.create(agent="demo", name="b").worktree)
    reports: queue.Queue[ConflictReport] = queue.Queue()
    watcher = RadarWatcher(manager.conflict_radar(), manager.repo.common_dir, reports.put)
    watcher.set_records(manager.sessions())
    watcher.start()
    try:
        first = next_report(reports, lambda r: len(r.sessions) == 2)
        assert not first.has_conflict

        (a / "src" / "app.py").write_text("print('a')\n")
        (b / "src" / "app.py").write_text("print('b')\n")
        second = next_report(reports, lambda r: r.has_conflict)
        assert new_conflicts(first, second) == [("a", "b", "src/app.py")]

        (repo / "README.md").write_text("main moved\n")
        git(repo, "commit", "--quiet", "-am", "main moves")
        (a / "README.md").write_text("a's readme\n")
        third = next_report(
            reports,
            lambda r: (p := r.pair("a", "main")) is not None and p.verdict is Verdict.CONFLICT,
        )
        assert ("a", "main", "README.md") in new_conflicts(second, third)

        git(a, "add", "--all")
        git(a, "commit", "--quiet", "-m", "a commits")  # content unchanged: same answer
        fourth = next_report(
            reports, lambda r: r.sessions[0].snapshot != third.sessions[0].snapshot
        )
        assert new_conflicts(third, fourth) == []
        assert fourth.has_conflict
    finally:
        watcher.stop()
    assert watcher.errors == []
