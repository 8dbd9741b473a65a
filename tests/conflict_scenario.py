"""A scripted history of collisions on real worktrees, and what it must give (the known truth).

Sessions a, b, c (demo agents) in real worktrees; the radar's scans are recorded at scripted times
(``T0 + k`` seconds) instead of sleeping:

- T0      nothing edited: every pair and every session against main is clean;
- T0+10   a and b change README.md's one line differently: a × b conflict;
- T0+15   the same again: nothing new;
- T0+40   b's edit is undone: a × b ends (30 s);
- T0+60   c changes the same line: a × c conflict;
- T0+70   a and c commit theirs, b commits a new file: nothing new;
- then a real ``merge --all`` lands b and a and leaves c out (it conflicts with a in README.md),
  at wall-clock time; the merge's own scan ends a × c (a is merged) and starts c × main.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from agentmux.core.git.conflict_history import ConflictHistory, Transition
from agentmux.core.git.conflicts import ConflictRadar
from agentmux.core.git.merge import MergePlan
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git


@dataclass
class Scenario:
    """What the script did: times and the transitions each scan recorded."""

    t0: float
    ids: dict[str, str]
    worktrees: dict[str, Path]
    recorded: dict[float, list[Transition]]
    plan: MergePlan
    landing: tuple[float, float]  # wall-clock time just before and just after the merge landed


def scan(
    manager: SessionManager, radar: ConflictRadar, history: ConflictHistory, at: float
) -> list[Transition]:
    """One scan of every live session, recorded as seen at ``at``."""
    return history.record(radar.scan(manager.sessions()), now=at)


def commit(worktree: Path, message: str) -> None:
    git(worktree, "add", "--all")
    git(worktree, "commit", "--quiet", "-m", message)


def run_scenario(manager: SessionManager) -> Scenario:
    """Play the script (see the module docstring) and return what happened."""
    names = ("a", "b", "c")
    records = {n: manager.create(agent="demo", name=n) for n in names}
    trees = {n: Path(r.worktree) for n, r in records.items()}
    radar = manager.conflict_radar()
    history = ConflictHistory(manager.store)
    # Far enough back that the real merge comes well after the scripted scans.
    t0 = float(int(time.time()) - 1000)
    recorded: dict[float, list[Transition]] = {}

    def step(offset: float) -> None:
        recorded[offset] = scan(manager, radar, history, t0 + offset)

    step(0)
    (trees["a"] / "README.md").write_text("from a\n")
    (trees["b"] / "README.md").write_text("from b\n")
    step(10)
    step(15)
    (trees["b"] / "README.md").write_text("hello\n")
    step(40)
    (trees["c"] / "README.md").write_text("from c\n")
    step(60)
    commit(trees["a"], "a's readme")
    commit(trees["c"], "c's readme")
    (trees["b"] / "b.txt").write_text("from b\n")
    commit(trees["b"], "b's file")
    step(70)
    plan = manager.merge_plan(None)
    before = time.time()
    manager.land_merge(plan)
    after = time.time()
    return Scenario(
        t0, {n: r.id for n, r in records.items()}, trees, recorded, plan, (before, after)
    )
