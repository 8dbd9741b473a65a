"""The conflict history and the conflict rate, on real worktrees, against a scripted truth
(tests/conflict_scenario.py says what the script does)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentmux.core.errors import AgentmuxError
from agentmux.core.git.conflict_history import (
    ENDED,
    KINDS,
    LEFT_OUT,
    MERGE,
    SEEN,
    STARTED,
    ConflictHistory,
    Ledger,
    Transition,
    pair_key,
)
from agentmux.core.git.conflicts import ConflictRadar, ConflictReport
from agentmux.core.git.radar_watch import RadarWatcher
from agentmux.core.metrics.conflict_stats import NOT_RUN, build_stats, conflict_stats, session_cells
from agentmux.core.metrics.cost_report import seconds_text
from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.state import StateStore
from tests.conflict_scenario import Scenario, commit, run_scenario
from tests.conftest import run_cli, wait_for


def kinds_of(recorded: list[Any]) -> list[tuple[str, tuple[str, str | None], str | None]]:
    return [(t.kind, t.key, t.why) for t in recorded]


def history_events(manager: SessionManager, *kinds: str) -> list[dict[str, Any]]:
    return manager.store.events(kinds=kinds or KINDS)


def order(row: tuple[str, str, str | None, str | None, float]) -> tuple[float, str, str]:
    return (row[4], row[1], row[0])


def merge_time(s: Scenario, manager: SessionManager) -> float:
    """When the merge's own scan looked: inside the wall-clock span around the landing."""
    (merge,) = history_events(manager, MERGE)
    at = float(merge["ts"])
    assert s.landing[0] <= at <= s.landing[1]
    return at


def test_scenario_records_only_real_transitions(repo: Path, manager: SessionManager) -> None:
    s = run_scenario(manager)
    a, b, c = s.ids["a"], s.ids["b"], s.ids["c"]
    ab, ac, bc = pair_key(a, b), pair_key(a, c), pair_key(b, c)
    seen = {(SEEN, k, None) for k in (ab, ac, bc, (a, None), (b, None), (c, None))}
    assert set(kinds_of(s.recorded[0])) == seen and len(s.recorded[0]) == 6
    assert kinds_of(s.recorded[10]) == [(STARTED, ab, None)]
    assert s.recorded[15] == [], "a rescan with the same conflict records nothing"
    assert kinds_of(s.recorded[40]) == [(ENDED, ab, "resolved")]
    assert kinds_of(s.recorded[60]) == [(STARTED, ac, None)]
    assert s.recorded[70] == [], "committing the same content changes nothing"

    assert [step.name for step in s.plan.steps] == ["b", "a"]
    assert [x.name for x in s.plan.left_out] == ["c"]
    at = merge_time(s, manager)
    rows = [
        (e["session_id"], e["kind"], e["data"].get("other"), e["data"].get("why"), e["ts"])
        for e in history_events(manager, STARTED, ENDED)
    ]
    t0 = s.t0
    # The two rows of one transition come in key order: compare by time, kind, session.
    assert sorted(rows, key=order) == sorted(
        [
            (a, STARTED, b, None, t0 + 10),
            (b, STARTED, a, None, t0 + 10),
            (a, ENDED, b, "resolved", t0 + 40),
            (b, ENDED, a, "resolved", t0 + 40),
            (a, STARTED, c, None, t0 + 60),
            (c, STARTED, a, None, t0 + 60),
            # The merge's scan: a is merged (its work is in main), so a × c is over; c now
            # conflicts with main, which has a's README.
            (a, ENDED, c, "merged", at),
            (c, ENDED, a, "merged", at),
            (c, STARTED, None, None, at),
        ],
        key=order,
    )
    assert [r[4] for r in rows] == sorted(r[4] for r in rows), "recorded in time order"
    started = next(e for e in history_events(manager, STARTED) if e["session_id"] == a)
    assert started["data"] == {"other": b, "name": "b", "base": None, "files": ["README.md"]}
    (left,) = history_events(manager, LEFT_OUT)
    assert left["session_id"] == c
    assert left["data"] == {
        "into": "main",
        "commit": s.plan.result,
        "reason": s.plan.left_out[0].reason,
    }
    assert "README.md" in left["data"]["reason"]

    # After the merge: a and b merged and unchanged, c × main still going: nothing new.
    again = ConflictHistory(manager.store).record(manager.conflict_radar().scan(manager.sessions()))
    assert again == []


def test_scenario_stats_match_the_script(repo: Path, manager: SessionManager) -> None:
    s = run_scenario(manager)
    at = merge_time(s, manager)
    now = s.landing[1] + 5.0
    stats = conflict_stats(manager.store, now=now)
    a_c = at - (s.t0 + 60)

    assert stats.since == s.t0
    assert stats.alive_together == 3
    assert (stats.any_time.compared, stats.any_time.conflicted) == (3, 2)
    assert stats.any_time.value == pytest.approx(2 / 3)
    assert (stats.at_merge.compared, stats.at_merge.conflicted) == (3, 1)  # a × c
    assert (stats.merges, stats.merges_unscanned) == (1, 0)
    assert (stats.with_base.compared, stats.with_base.conflicted) == (3, 1)  # c × main
    assert stats.malformed == 0

    by_name = {x.name: x for x in stats.sessions}
    sa, sb, sc = by_name["a"], by_name["b"], by_name["c"]
    assert (sa.compared, sa.collided_with, sa.ongoing) == (2, 2, False)
    assert {c.name: (c.spans, c.seconds, c.ongoing) for c in sa.collisions} == {
        "b": (1, 30.0, False),
        "c": (1, a_c, False),
    }
    assert sa.seconds == pytest.approx(30.0 + a_c)  # the two never overlapped
    assert sa.base is None and sa.base_compared
    assert (sb.compared, sb.collided_with, sb.seconds, sb.ongoing) == (2, 1, 30.0, False)
    assert (sc.compared, sc.collided_with, sc.seconds) == (2, 1, a_c)
    assert sc.base is not None
    assert (sc.base.name, sc.base.spans, sc.base.ongoing) == ("main", 1, True)
    assert sc.base.seconds == pytest.approx(now - at)
    assert [(x.name, x.into, x.reason) for x in stats.left_out] == [
        ("c", "main", s.plan.left_out[0].reason)
    ]
    assert sc.left_out == stats.left_out and not sa.left_out and not sb.left_out
    assert session_cells(sb) == ("b", "2", "1 (a)", "30.0s", "none", "-")
    assert session_cells(sc)[2:] == (
        "1 (a)",
        seconds_text(a_c),
        f"{seconds_text(now - at)}, ongoing",
        "by 1 merge",
    )


def test_conflicts_stats_cli_json_and_text(repo: Path, manager: SessionManager) -> None:
    s = run_scenario(manager)
    at = merge_time(s, manager)
    before = time.time()
    result = run_cli(repo, "conflicts", "--stats", "--json")
    after = time.time()
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["schema"] == 1
    assert data["pairs"] == {
        "alive_together": 3,
        "compared": 3,
        "conflicted": 2,
        "rate": 2 / 3,
        "unknown": None,
    }
    assert data["at_merge"] == {
        "merges": 1,
        "merges_unscanned": 0,
        "compared": 3,
        "conflicted": 1,
        "rate": 1 / 3,
        "unknown": None,
    }
    assert data["with_base"]["conflicted"] == 1
    sessions = {x["name"]: x for x in data["sessions"]}
    assert [c["name"] for c in sessions["a"]["collisions"]] == ["b", "c"]
    assert sessions["b"]["collisions"][0]["seconds"] == 30.0
    assert sessions["c"]["collisions"][0]["seconds"] == at - (s.t0 + 60)
    base = sessions["c"]["base"]
    assert base["ongoing"] is True
    assert before - at <= base["seconds"] <= after - at
    assert [x["session"] for x in data["left_out"]] == ["c"]
    assert data["left_out"][0]["reason"] == s.plan.left_out[0].reason

    text = run_cli(repo, "conflicts", "--stats")
    assert text.code == 0, text.err
    flat = " ".join(text.out.split())
    assert "pairs of sessions that conflicted: 2 of 3 pairs compared (66.7%)" in flat
    assert "at merge time: 1 of 3 pairs in flight (33.3%) · 1 merge" in flat
    assert f"left out c: {s.plan.left_out[0].reason}" in flat


def test_removed_session_ends_its_conflicts_at_its_removal(
    repo: Path, manager: SessionManager
) -> None:
    x = Path(manager.create(agent="demo", name="x").worktree)
    y = Path(manager.create(agent="demo", name="y").worktree)
    (x / "README.md").write_text("from x\n")
    (y / "README.md").write_text("from y\n")
    radar = manager.conflict_radar()
    history = ConflictHistory(manager.store)
    t0 = time.time() - 100
    assert history.record(radar.scan([]), now=t0) == [], "a scan of nothing says nothing"
    started = history.record(radar.scan(manager.sessions()), now=t0)
    key = pair_key(manager.get("x").id, manager.get("y").id)
    assert (STARTED, key, None) in kinds_of(started)
    # A scanner whose list of sessions is older than the store (y still live) ends nothing.
    assert history.record(radar.scan([manager.get("x")]), now=t0 + 1) == []

    y_id = manager.get("y").id
    manager.remove("y", force=True)
    removed_at = manager.store.session(y_id).removed_at
    assert removed_at is not None
    ended = history.record(radar.scan(manager.sessions()))
    assert kinds_of(ended) == [(ENDED, key, "removed")]
    assert ended[0].ts == removed_at
    rows = history_events(manager, ENDED)
    assert {e["session_id"] for e in rows} == set(key), "recorded on both, the removed one too"
    stats = conflict_stats(manager.store)
    sy = next(x for x in stats.sessions if x.name == "y")
    assert sy.removed and sy.collisions[0].seconds == removed_at - t0
    assert not sy.collisions[0].ongoing


def conflicting_pair(manager: SessionManager) -> None:
    for name in ("p", "q"):
        tree = Path(manager.create(agent="demo", name=name).worktree)
        (tree / "README.md").write_text(f"from {name}\n")


def test_two_processes_recording_at_once_write_each_transition_once(
    repo: Path, manager: SessionManager
) -> None:
    conflicting_pair(manager)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "agentmux", "conflicts"],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err  # 1: a conflict
    assert len(history_events(manager, STARTED)) == 2, "one start, on each of the two sessions"
    assert len(history_events(manager, SEEN)) == 3, "p × q, p × main, q × main, once each"

    # The same race made certain: two connections that both decided, before either wrote,
    # that the conflict ended.
    (Path(manager.get("q").worktree) / "README.md").write_text("hello\n")
    report = manager.conflict_radar().scan(manager.sessions())
    both_planned = threading.Barrier(2)

    class Racing(ConflictHistory):
        planned = False

        def _plan(self, report: ConflictReport, now: float) -> list[Transition]:
            planned = super()._plan(report, now)
            if not self.planned:
                self.planned = True
                both_planned.wait(timeout=10)
            return planned

    stores = [StateStore(manager.store.path) for _ in range(2)]
    written: list[int] = []
    threads = [
        threading.Thread(target=lambda st=st: written.append(len(Racing(st).record(report))))
        for st in stores
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert sorted(written) == [0, 1]
    assert len(history_events(manager, ENDED)) == 2


def test_corrupt_history_events_are_skipped_and_counted(
    repo: Path, manager: SessionManager
) -> None:
    conflicting_pair(manager)
    p = manager.get("p").id
    db = sqlite3.connect(manager.store.path)
    with db:
        for kind, data in (
            (STARTED, "not json {"),
            (ENDED, json.dumps({"other": 5})),
            (MERGE, json.dumps([1, 2])),
            (LEFT_OUT, json.dumps({"into": "main"})),
        ):
            db.execute(
                "INSERT INTO events (session_id, ts, kind, data) VALUES (?, ?, ?, ?)",
                (p, 1.0, kind, data),
            )
    db.close()
    history = ConflictHistory(manager.store)
    recorded = history.record(manager.conflict_radar().scan(manager.sessions()))
    assert [t.kind for t in recorded].count(STARTED) == 1, "the radar still records"
    assert history.ledger.malformed == 4
    stats = conflict_stats(manager.store)
    assert stats.malformed == 4
    assert (stats.any_time.compared, stats.any_time.conflicted) == (1, 1)
    result = run_cli(repo, "conflicts", "--stats")
    assert result.code == 0, result.err
    assert "4 unreadable history events skipped" in result.out


def test_unknown_is_unknown_never_zero(repo: Path, manager: SessionManager) -> None:
    empty = run_cli(repo, "conflicts", "--stats", "--json")
    assert empty.code == 0, empty.err
    data = json.loads(empty.out)
    assert data["history_since"] is None
    assert data["pairs"]["rate"] is None and data["pairs"]["unknown"] == NOT_RUN
    assert data["at_merge"]["rate"] is None and data["at_merge"]["unknown"] == NOT_RUN
    assert "unknown: the radar has not run" in run_cli(repo, "conflicts", "--stats").out

    conflicting_pair(manager)
    stats = conflict_stats(manager.store)
    assert stats.any_time.value is None and stats.any_time.unknown == NOT_RUN
    assert [x.compared for x in stats.sessions] == [None, None]
    assert [session_cells(x)[1:4] for x in stats.sessions] == [("unknown",) * 3] * 2

    # One session scanned alone: the radar ran, but compared no two sessions.
    history = ConflictHistory(manager.store)
    history.record(manager.conflict_radar().scan([manager.get("p")]))
    stats = conflict_stats(manager.store)
    assert stats.any_time.value is None
    assert stats.any_time.unknown == "no two sessions were compared yet"
    assert stats.with_base.value == 0.0, "p was compared with main: a known zero"
    assert stats.at_merge.unknown == "no merge has landed since the radar started recording"


def test_a_merge_whose_scan_fails_records_an_unknown_rate(
    repo: Path, manager: SessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = Path(manager.create(agent="demo", name="solo").worktree)
    (tree / "solo.txt").write_text("solo\n")
    commit(tree, "solo")

    def no_radar() -> ConflictRadar:
        raise AgentmuxError("the snapshot store is unreadable.")

    monkeypatch.setattr(manager, "conflict_radar", no_radar)
    manager.land_merge(manager.merge_plan(None))
    assert (repo / "solo.txt").exists(), "the merge landed"
    stats = conflict_stats(manager.store)
    assert (stats.merges, stats.merges_unscanned) == (1, 1)
    assert stats.at_merge.value is None
    assert stats.at_merge.unknown == (
        "the radar could not scan at the merge: the snapshot store is unreadable."
    )


def test_the_radar_watcher_records_what_it_sees(repo: Path, manager: SessionManager) -> None:
    a = Path(manager.create(agent="demo", name="a").worktree)
    b = Path(manager.create(agent="demo", name="b").worktree)
    watcher = RadarWatcher(manager.conflict_radar(), manager.repo.common_dir, lambda _r: None)
    watcher.set_records(manager.sessions())
    watcher.start()
    try:
        wait_for(lambda: len(history_events(manager, SEEN)) == 3, what="the first scan recorded")
        (a / "src" / "app.py").write_text("print('a')\n")
        (b / "src" / "app.py").write_text("print('b')\n")
        wait_for(lambda: len(history_events(manager, STARTED)) == 2, what="the conflict recorded")
        (b / "src" / "app.py").write_text("print('app')\n")
        wait_for(lambda: len(history_events(manager, ENDED)) == 2, what="its end recorded")
    finally:
        watcher.stop()
    assert watcher.errors == []
    assert [e["data"]["files"] for e in history_events(manager, STARTED)] == [["src/app.py"]] * 2


def record(n: int, created: float, removed: float | None = None) -> SessionRecord:
    return SessionRecord(
        id=f"s{n}",
        name=f"s{n}",
        agent="demo",
        agent_kind="demo",
        agent_session_id="x",
        branch=f"agentmux/s{n}",
        worktree="/nowhere",
        base_ref="main",
        base_commit="0" * 40,
        status=Status.REMOVED if removed else Status.RUNNING,
        created_at=created,
        removed_at=removed,
    )


def test_time_in_conflict_counts_overlapping_collisions_once() -> None:
    ledger = Ledger(keep=True)
    rows: list[tuple[int, str, float, str, Any]] = [
        (1, "s1", 100.0, SEEN, {"other": "s2"}),
        (2, "s1", 100.0, SEEN, {"other": "s3"}),
        (3, "s1", 100.0, STARTED, {"other": "s2", "files": ["f"]}),
        (4, "s1", 120.0, STARTED, {"other": "s3", "files": ["f"]}),
        (5, "s1", 150.0, ENDED, {"other": "s2", "why": "resolved"}),
        (6, "s1", 160.0, ENDED, {"other": "s3", "why": "resolved"}),
        (7, "s1", 170.0, STARTED, {"other": "s3", "files": ["g"]}),  # open: s3 removed at 175
    ]
    ledger.apply(rows)
    records = [record(1, 0.0), record(2, 0.0), record(3, 0.0, removed=175.0), record(4, 500.0)]
    stats = build_stats(ledger, records, since=90.0, now=1000.0)
    s1 = stats.sessions[0]
    assert {c.name: (c.spans, c.seconds) for c in s1.collisions} == {
        "s2": (1, 50.0),
        "s3": (2, 45.0),  # 120..160 and 170..175 (its removal)
    }
    assert s1.seconds == 65.0  # 100..160 and 170..175
    assert not s1.ongoing
    assert stats.alive_together == 5  # every pair but s3 × s4: s4 came after s3's removal
    assert stats.sessions[3].compared is None
