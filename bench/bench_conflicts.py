"""Time the conflict radar against plain ``git merge-tree`` over every pair, in the same run.

A synthetic repository of 50,000 files (500 directories x 100 files, packed) has 9 session
worktrees, each changing 100 files in its own band of directories; neighbouring bands (wrapping
around) share 40 directories, where edits hit different lines (clean overlaps) or the same line
(conflicts). The work is committed, so the baseline can merge branch tips; every worktree's index is
refreshed first, as an agent's ``git status`` would (after the files' second has passed, so the
index can vouch for them).

- floor: the least git itself must do for a cold look at work in progress: ``git status
  --porcelain`` in each of the 9 worktrees, then ``git merge-tree --write-tree`` for just the pairs
  that interact (change a file in common), one after another;
- baseline: ``git merge-tree --write-tree`` for all 36 pairs of branch tips, one after another;
- cold: a fresh radar and a fresh snapshot store: 9 snapshots of the worktrees as they are (work
  in progress included), then every pair and every session against main;
- update: a running radar watcher; one file saved in one worktree; time until the new report.

Prints medians, the cold radar's ratios to the floor and to the baseline of the same run, and the
update latency p50/p95.

    .venv/bin/python bench/bench_conflicts.py [--dirs 500] [--files-per-dir 100] [--rounds 3]
        [--saves 30] [--record [PATH]]

``--record`` also writes the figures to ``bench/results/bench_conflicts.json`` (see
``bench/record.py``).
"""

from __future__ import annotations

import argparse
import os
import queue
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

from isolation import IDENTITY, clean_up_on_sigterm, machine
from record import Baseline, Recorder, Target, add_option, figure, verdict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentmux.core.git.conflicts import ConflictRadar, ConflictReport
from agentmux.core.git.radar_watch import RadarWatcher
from agentmux.core.git.repo import discover_repo
from agentmux.core.git.snapshots import SnapshotStore
from agentmux.core.records import SessionRecord, Status

BENCH = "bench_conflicts"
#: Cold full matrix over the floor, and over plain merges of branch tips; update after a save, ms.
OVER_FLOOR = Target("<=", 1.2)
OVER_BASELINE = Target("<=", 1.0)
UPDATE = Target("<", 250)
SESSIONS = 9
CHANGED = 100
BAND = 60  # session i edits directories i*BAND .. i*BAND+99: neighbours share 40


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def make_repo(root: Path, dirs: int, per_dir: int) -> None:
    root.mkdir(parents=True)
    git(root, "init", "--quiet", "--initial-branch=main")
    for d in range(dirs):
        folder = root / f"d{d:03}"
        folder.mkdir()
        for f in range(per_dir):
            lines = "".join(f"line {i} of d{d:03}/f{f:03}\n" for i in range(20))
            (folder / f"f{f:03}.txt").write_text(lines)
    git(root, "add", "--all")
    git(root, "-c", "gc.auto=0", "commit", "--quiet", "-m", "base")
    git(root, "gc", "--quiet")


def make_sessions(root: Path, base: str, dirs: int) -> list[SessionRecord]:
    records = []
    for i in range(SESSIONS):
        name = f"s{i}"
        worktree = root.parent / name
        git(root, "worktree", "add", "--quiet", "-b", f"agentmux/{name}", str(worktree))
        for k in range(CHANGED):
            d = (i * BAND + k) % dirs
            path = worktree / f"d{d:03}" / "f000.txt"
            lines = path.read_text().splitlines()
            # In shared directories, even sessions edit line 2 and odd ones line 15; the lower
            # neighbour of a pair also edits line 10 in every fourth shared directory: a conflict
            # when both sides touch it.
            lines[2 if i % 2 == 0 else 15] = f"edited by {name}"
            if k % 4 == 0:
                lines[10] = f"contested by {name}"
            path.write_text("\n".join(lines) + "\n")
        git(worktree, "add", "--all")
        git(worktree, "commit", "--quiet", "-m", f"{name} work")
        records.append(
            SessionRecord(
                id=f"id-{name}",
                name=name,
                agent="demo",
                agent_kind="demo",
                agent_session_id="",
                branch=f"agentmux/{name}",
                worktree=str(worktree),
                base_ref="main",
                base_commit=base,
                status=Status.RUNNING,
                created_at=time.time() + i,
            )
        )
    # An index written in the same second as its files cannot vouch for them ("racily clean"),
    # and every one of them would be rehashed. Agents' files were written minutes earlier and
    # their `git status` refreshed the index since: wait out the second, then do that.
    time.sleep(2)
    for record in records:
        git(Path(record.worktree), "status", "--porcelain")
    return records


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: unlike wall time, barely moved by
    whatever else the machine is running."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def baseline(root: Path, records: list[SessionRecord]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), cpu_seconds()
    for a, b in combinations(records, 2):
        subprocess.run(
            ["git", "merge-tree", "--write-tree", a.branch, b.branch],
            cwd=root,
            capture_output=True,
            check=False,
        )
    return time.perf_counter() - start, cpu_seconds() - cpu


def interacting_pairs(root: Path, records: list[SessionRecord]) -> list[tuple[str, str]]:
    """The pairs of branches that change at least one file in common (found before timing)."""
    changed = {
        r.branch: set(git(root, "diff", "--name-only", "main", r.branch).splitlines())
        for r in records
    }
    return [
        (a.branch, b.branch)
        for a, b in combinations(records, 2)
        if changed[a.branch] & changed[b.branch]
    ]


def floor(
    root: Path, records: list[SessionRecord], pairs: list[tuple[str, str]]
) -> tuple[float, float]:
    start, cpu = time.perf_counter(), cpu_seconds()
    for record in records:
        subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=record.worktree,
            capture_output=True,
            check=False,
        )
    for a, b in pairs:
        subprocess.run(
            ["git", "merge-tree", "--write-tree", a, b],
            cwd=root,
            capture_output=True,
            check=False,
        )
    return time.perf_counter() - start, cpu_seconds() - cpu


def cold(
    root: Path, records: list[SessionRecord], scratch: Path
) -> tuple[float, float, ConflictReport]:
    store_dir = scratch / "store"
    shutil.rmtree(store_dir, ignore_errors=True)
    radar = ConflictRadar(SnapshotStore(discover_repo(root), store_dir))
    start, cpu = time.perf_counter(), cpu_seconds()
    report = radar.scan(records)
    return time.perf_counter() - start, cpu_seconds() - cpu, report


def updates(
    root: Path, records: list[SessionRecord], scratch: Path, saves: int, dirs: int
) -> list[float]:
    store_dir = scratch / "store-watch"
    radar = ConflictRadar(SnapshotStore(discover_repo(root), store_dir))
    reports: queue.Queue[ConflictReport] = queue.Queue()
    watcher = RadarWatcher(radar, root / ".git", reports.put)
    watcher.set_records(records)
    watcher.start()
    latencies: list[float] = []
    try:
        reports.get(timeout=120)
        time.sleep(1.5)  # let the catch-up scan finish
        while not reports.empty():
            reports.get()
        for n in range(saves):
            record = records[n % len(records)]
            index = records.index(record)
            path = Path(record.worktree) / f"d{(index * BAND + n % CHANGED) % dirs:03}" / "f001.txt"
            before = radar.last.sessions[index].snapshot if radar.last else None
            start = time.perf_counter()
            path.write_text(path.read_text() + f"save {n}\n")
            while True:
                report = reports.get(timeout=30)
                if report.sessions[index].snapshot != before:
                    break
            latencies.append(time.perf_counter() - start)
            time.sleep(0.1)
    finally:
        watcher.stop()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dirs", type=int, default=500)
    parser.add_argument("--files-per-dir", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--saves", type=int, default=30)
    add_option(parser, BENCH)
    args = parser.parse_args()
    recorder = Recorder(BENCH, args)
    os.environ.update(IDENTITY)
    clean_up_on_sigterm()
    base_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None
    scratch = Path(tempfile.mkdtemp(prefix="amx-bench-conflicts-", dir=base_dir))
    try:
        root = scratch / "repo"
        make_repo(root, args.dirs, args.files_per_dir)
        records = make_sessions(root, git(root, "rev-parse", "HEAD"), args.dirs)
        files = args.dirs * args.files_per_dir
        print(machine())
        print(f"repository: {files} files, {SESSIONS} sessions x {CHANGED} changed files")
        pairs = interacting_pairs(root, records)
        base_times, cold_times, base_cpu, cold_cpu = [], [], [], []
        floor_times, floor_cpu = [], []
        report: ConflictReport | None = None
        for _ in range(args.rounds):
            elapsed, cpu = floor(root, records, pairs)
            floor_times.append(elapsed)
            floor_cpu.append(cpu)
            elapsed, cpu = baseline(root, records)
            base_times.append(elapsed)
            base_cpu.append(cpu)
            elapsed, cpu, report = cold(root, records, scratch)
            cold_times.append(elapsed)
            cold_cpu.append(cpu)
        assert report is not None
        conflicts = sum(p.verdict == "conflict" for p in report.pairs)
        overlaps = sum(p.verdict == "overlap" for p in report.pairs)
        print(f"pairs: {len(report.pairs)}, conflicting {conflicts}, clean overlaps {overlaps}")
        b, c = statistics.median(base_times), statistics.median(cold_times)
        f = statistics.median(floor_times)
        print(
            f"floor, git status x {SESSIONS} + merge-tree x {len(pairs)} interacting pairs:"
            f" median {f * 1000:.0f} ms"
        )
        print(f"baseline, plain merge-tree x 36 pairs: median {b * 1000:.0f} ms")
        print(f"cold full matrix (9 snapshots + pairs + base): median {c * 1000:.0f} ms")
        floor_fig = recorder.add(
            figure(
                f"cold full matrix, {files:,} files, {SESSIONS} sessions",
                c / f,
                "x",
                baseline=Baseline(
                    f"the floor: `git status` x {SESSIONS} + `merge-tree` of the"
                    f" {len(pairs)} pairs that interact",
                    round(f * 1000),
                    "ms",
                ),
                target=OVER_FLOOR,
            )
        )
        base_fig = recorder.add(
            figure(
                f"cold full matrix, {files:,} files, {SESSIONS} sessions",
                c / b,
                "x",
                baseline=Baseline(
                    "plain `merge-tree` of the 36 pairs of branch tips", round(b * 1000), "ms"
                ),
                target=OVER_BASELINE,
            )
        )
        print(f"cold / floor: {c / f:.2f}x ({verdict(floor_fig)})")
        print(f"cold / baseline: {c / b:.2f}x ({verdict(base_fig)})")
        bc, cc = statistics.median(base_cpu), statistics.median(cold_cpu)
        fc = statistics.median(floor_cpu)
        print(
            f"CPU time (git processes + this one): floor {fc * 1000:.0f} ms, baseline"
            f" {bc * 1000:.0f} ms, cold {cc * 1000:.0f} ms ({cc / fc:.2f}x floor,"
            f" {cc / bc:.2f}x baseline), load average {os.getloadavg()[0]:.1f}"
        )
        for name, value in (
            ("cold ms", c * 1000),
            ("floor ms", f * 1000),
            ("baseline ms", b * 1000),
            ("cold CPU ms", cc * 1000),
            ("floor CPU ms", fc * 1000),
            ("baseline CPU ms", bc * 1000),
            ("pairs", len(report.pairs)),
            ("conflicting pairs", conflicts),
            ("interacting pairs", len(pairs)),
        ):
            recorder.detail(name, value)
        lat = sorted(updates(root, records, scratch, args.saves, args.dirs))
        p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
        update = recorder.add(
            figure(
                "update after one save, a radar watcher running, p95",
                p95 * 1000,
                "ms",
                target=UPDATE,
            )
        )
        recorder.detail("update p50 ms", statistics.median(lat) * 1000)
        recorder.detail("saves", len(lat))
        print(
            f"update after one save ({len(lat)} saves): p50 {statistics.median(lat) * 1000:.0f} ms,"
            f" p95 {p95 * 1000:.0f} ms ({verdict(update)}); "
            f"p95 / baseline {p95 / b:.2f}x"
        )
        if args.record:
            recorder.write(args.record)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
