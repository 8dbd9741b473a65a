"""The conflict radar: which sessions' work collides with each other's or with the base branch.

Every session is snapshotted as it is now (:mod:`agentmux.core.git.snapshots`); every pair,
and every session against the current head of its base branch, is merged for real with
``git merge-tree`` from their merge base. Only pairs whose changes can interact are merged at
all, and every result is cached by the trees involved, so a session that did not change costs
nothing on the next scan.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from agentmux.core.errors import AgentmuxError
from agentmux.core.git.merge_tree import (
    FileConflict,
    Hunk,
    MergeResult,
    changed_paths,
    changed_paths_many,
    merge_args,
    needs_merge,
    parse_hunks,
    parse_merge_tree,
)
from agentmux.core.git.repo import run_git
from agentmux.core.git.snapshots import Snapshot, SnapshotStore, read_branch
from agentmux.core.records import SessionRecord, Status

#: Conflicting hunks shown per file, and lines per side of a hunk, in reports.
MAX_HUNKS = 20
MAX_HUNK_LINES = 200
#: Past this many commits on the sessions' branches but not in their base, merge bases are asked
#: of git pair by pair instead of being worked out from one ``git rev-list``.
MAX_GRAPH_COMMITS = 20_000


class Verdict(StrEnum):
    """What merging two sides would do."""

    CLEAN = "clean"  # no file changed on both sides
    OVERLAP = "overlap"  # files changed on both sides, all merge cleanly
    CONFLICT = "conflict"  # at least one file would not merge
    UNKNOWN = "unknown"  # one side could not be snapshotted (mid-merge, missing, ...)


@dataclass(frozen=True)
class PairReport:
    """Two sides (two sessions, or a session and its base branch) and what merging them does."""

    a: str
    b: str
    verdict: Verdict
    conflicts: tuple[FileConflict, ...] = ()
    overlaps: tuple[str, ...] = ()
    reason: str | None = None
    result_tree: str | None = None

    def to_json(self, hunks: Mapping[str, list[Hunk]] | None = None) -> dict[str, Any]:
        """The stable JSON shape of one pair in ``agentmux conflicts --json``."""
        return {
            "a": self.a,
            "b": self.b,
            "verdict": str(self.verdict),
            "reason": self.reason,
            "conflicts": [
                {
                    "path": c.path,
                    "kind": str(c.kind),
                    "message": c.message,
                    "hunks": [
                        {"line": h.start_line, "a": list(h.ours), "b": list(h.theirs)}
                        for h in (hunks or {}).get(c.path, [])
                    ],
                }
                for c in self.conflicts
            ],
            "overlaps": list(self.overlaps),
        }


@dataclass(frozen=True)
class SessionState:
    """One session as the radar saw it."""

    name: str
    session_id: str
    base: str
    snapshot: str | None
    changed: int | None
    unavailable: str | None


@dataclass(frozen=True)
class ConflictReport:
    """Everything the radar knows at one moment."""

    sessions: tuple[SessionState, ...]
    pairs: tuple[PairReport, ...]
    against_base: tuple[PairReport, ...]
    computed_at: float = field(default_factory=time.time)

    @property
    def has_conflict(self) -> bool:
        """Whether any pair, or any session against its base, conflicts."""
        return any(p.verdict is Verdict.CONFLICT for p in (*self.pairs, *self.against_base))

    def pair(self, a: str, b: str) -> PairReport | None:
        """The report for two sessions (either order) or a session and its base."""
        for report in (*self.pairs, *self.against_base):
            if {report.a, report.b} == {a, b}:
                return report
        return None

    def involving(self, name: str) -> list[PairReport]:
        """Pairs with ``name`` on either side that conflict or overlap."""
        return [
            p
            for p in (*self.pairs, *self.against_base)
            if name in (p.a, p.b) and p.verdict in (Verdict.CONFLICT, Verdict.OVERLAP)
        ]

    def conflict_keys(self) -> set[tuple[str, str, str]]:
        """(a, b, path) for every conflicting file, to tell new conflicts from known ones."""
        return {
            (p.a, p.b, c.path)
            for p in (*self.pairs, *self.against_base)
            if p.verdict is Verdict.CONFLICT
            for c in p.conflicts
        }


class ConflictRadar:
    """Computes :class:`ConflictReport` s for a repository's sessions, reusing earlier work."""

    def __init__(self, store: SnapshotStore, *, workers: int | None = None) -> None:
        self.store = store
        self._workers = workers or max(2, os.cpu_count() or 2)
        self._snapshots: dict[str, Snapshot] = {}
        self._merge_bases: dict[tuple[str, str], str | None] = {}
        self._changes: dict[tuple[str, str], dict[str, str]] = {}
        self._merges: dict[tuple[str, str, str], MergeResult] = {}
        self._lock = threading.Lock()
        self.last: ConflictReport | None = None
        #: How many ``git merge-tree`` runs this radar has made (the cache's misses).
        self.merges_run = 0

    # --- git, cached ---------------------------------------------------------------------------

    def _git(self, args: Sequence[str], *, stdin: bytes | None = None) -> str:
        return self.store.git(args, stdin=stdin)

    def _merge_base(self, a: str, b: str) -> str | None:
        if a == b:
            return a
        key = (a, b) if a <= b else (b, a)
        if key not in self._merge_bases:
            proc = run_git(
                ["merge-base", a, b], self.store.repo.root, env=self.store.env, check=False
            )
            self._merge_bases[key] = proc.stdout.decode().strip() or None
        return self._merge_bases[key]

    def _changed(self, base: str, commit: str, tree: str) -> dict[str, str]:
        key = (base, tree)
        if base == commit:
            return {}
        if key not in self._changes:
            self._changes[key] = changed_paths(self._git, base, commit)
        return self._changes[key]

    def _merge(self, base: str, ours: tuple[str, str], theirs: tuple[str, str]) -> MergeResult:
        """Merge two commits (each given with its tree, the cache key)."""
        key = (base, ours[1], theirs[1])
        if key not in self._merges:
            proc = run_git(
                merge_args(ours[0], theirs[0]),
                self.store.repo.root,
                env=self.store.env,
                check=False,
            )
            self.merges_run += 1
            if len(self._merges) > 10_000:
                self._merges.clear()
            self._merges[key] = parse_merge_tree(proc.stdout, proc.returncode)
        return self._merges[key]

    def _base_head(self, ref: str, fallback: str) -> str:
        # A branch holds a commit (git refuses anything else under refs/heads/), so the ref file,
        # when it is a plain one, already is ``ref^{commit}``.
        found = read_branch(self.store.repo.common_dir, f"refs/heads/{ref}")
        if found is not None:
            return found
        proc = run_git(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{ref}^{{commit}}"],
            self.store.repo.root,
            check=False,
        )
        return proc.stdout.decode().strip() if proc.returncode == 0 else fallback

    # --- scanning -------------------------------------------------------------------------------

    def scan(
        self,
        records: Iterable[SessionRecord],
        changed: Mapping[str, Sequence[Path]] | None = None,
        given: Mapping[str, Snapshot] | None = None,
    ) -> ConflictReport:
        """Snapshot the sessions and compare them all.

        ``changed`` maps session ids to the paths a watcher saw change; sessions it does not name
        keep their last snapshot. Without it every worktree is scanned in full. ``given`` holds
        snapshots already taken (of sessions on other hosts, fetched here), used as they are.
        """
        fixed = dict(given or {})
        live = [r for r in records if r.status is not Status.REMOVED]
        live.sort(key=lambda r: r.created_at)
        with self._lock, ThreadPoolExecutor(self._workers) as pool:
            snapshots = dict(
                zip(
                    [r.id for r in live],
                    pool.map(lambda r: fixed.get(r.id) or self._snapshot(r, changed), live),
                    strict=True,
                )
            )
            self._snapshots = snapshots
            heads = {
                ref: self._base_head(ref, next(r.base_commit for r in live if r.base_ref == ref))
                for ref in {r.base_ref for r in live}
            }
            jobs: list[tuple[SessionRecord, SessionRecord | None]] = [
                (a, b) for i, a in enumerate(live) for b in live[i + 1 :]
            ]
            jobs += [(r, None) for r in live]
            self._prefetch(pool, live, jobs, snapshots, heads)
            results = list(pool.map(lambda job: self._compare(job, snapshots, heads), jobs))
            n = len(live) * (len(live) - 1) // 2
            states = tuple(self._state(r, snapshots[r.id], heads[r.base_ref]) for r in live)
        report = ConflictReport(
            sessions=states, pairs=tuple(results[:n]), against_base=tuple(results[n:])
        )
        self.last = report
        return report

    def _snapshot(
        self, record: SessionRecord, changed: Mapping[str, Sequence[Path]] | None
    ) -> Snapshot:
        previous = self._snapshots.get(record.id)
        worktree = Path(record.worktree)
        try:
            if changed is None or previous is None or previous.commit is None:
                return self.store.take(record.id, worktree)
            if record.id in changed:
                return self.store.take(record.id, worktree, changed[record.id])
            return previous
        except AgentmuxError as exc:
            return Snapshot(record.id, unavailable=exc.message)

    def _state(self, record: SessionRecord, snap: Snapshot, base_head: str) -> SessionState:
        count: int | None = None
        if snap.commit and snap.tree and snap.head:
            base = self._merge_base(snap.head, base_head)
            if base:
                count = len(self._changed(base, snap.commit, snap.tree))
        return SessionState(
            record.name, record.id, record.base_ref, snap.commit, count, snap.unavailable
        )

    def _sides(
        self,
        job: tuple[SessionRecord, SessionRecord | None],
        snapshots: Mapping[str, Snapshot],
        heads: Mapping[str, str],
    ) -> tuple[str, Snapshot, str, Snapshot] | PairReport:
        """Both sides of a job with their names, or the ``unknown`` report when one is missing."""
        a, b = job
        sa = snapshots[a.id]
        if b is None:
            base_head = heads[a.base_ref]
            sb = Snapshot("", commit=base_head, tree=base_head, head=base_head)
            b_name = a.base_ref
        else:
            sb = snapshots[b.id]
            b_name = b.name
        for name, snap in ((a.name, sa), (b_name, sb)):
            if snap.unavailable or not snap.commit or not snap.head or not snap.tree:
                reason = f"{name}: {snap.unavailable or 'it has no commits'}"
                return PairReport(a.name, b_name, Verdict.UNKNOWN, reason=reason)
        return a.name, sa, b_name, sb

    def _compare(
        self,
        job: tuple[SessionRecord, SessionRecord | None],
        snapshots: Mapping[str, Snapshot],
        heads: Mapping[str, str],
    ) -> PairReport:
        sides = self._sides(job, snapshots, heads)
        if isinstance(sides, PairReport):
            return sides
        a_name, sa, b_name, sb = sides
        assert sa.head and sb.head and sa.commit and sb.commit and sa.tree and sb.tree
        try:
            base = self._merge_base(sa.head, sb.head)
            if base is None:
                return PairReport(a_name, b_name, Verdict.UNKNOWN, reason="no common history")
            ca = self._changed(base, sa.commit, sa.tree)
            cb = self._changed(base, sb.commit, sb.tree)
            if not needs_merge(ca, cb):
                return PairReport(a_name, b_name, Verdict.CLEAN)
            result = self._merge(base, (sa.commit, sa.tree), (sb.commit, sb.tree))
        except AgentmuxError as exc:
            return PairReport(a_name, b_name, Verdict.UNKNOWN, reason=exc.message)
        conflicted = {c.path for c in result.conflicts}
        overlaps = tuple(sorted((ca.keys() & cb.keys()) - conflicted))
        if not result.clean:
            verdict = Verdict.CONFLICT
        elif overlaps:
            verdict = Verdict.OVERLAP
        else:
            verdict = Verdict.CLEAN
        return PairReport(
            a_name, b_name, verdict, result.conflicts, overlaps, result_tree=result.tree
        )

    # --- batching: a few git processes instead of one per pair ----------------------------------

    def _prefetch(
        self,
        pool: ThreadPoolExecutor,
        live: Sequence[SessionRecord],
        jobs: Sequence[tuple[SessionRecord, SessionRecord | None]],
        snapshots: Mapping[str, Snapshot],
        heads: Mapping[str, str],
    ) -> None:
        """Fill the merge-base and change-set caches for ``jobs`` with as few git runs as possible.

        Whatever this cannot settle is left to :meth:`_compare`, which asks git pair by pair.
        """
        groups: dict[str, set[str]] = {}
        for record in live:
            snap = snapshots[record.id]
            if snap.head and not snap.unavailable:
                groups.setdefault(heads[record.base_ref], set()).add(snap.head)
        for base_head, group in groups.items():
            keys = {tuple(sorted((h, base_head))) for h in group if h != base_head}
            keys |= {(x, y) for x in group for y in group if x < y}
            if not keys <= self._merge_bases.keys():
                with contextlib.suppress(AgentmuxError):  # else git merge-base, pair by pair
                    self._fork_points(base_head, group)
        wanted: dict[tuple[str, str], tuple[str, str]] = {}
        for job in jobs:
            sides = self._sides(job, snapshots, heads)
            if isinstance(sides, PairReport):
                continue
            _, sa, _, sb = sides
            assert sa.head and sb.head
            key = (sa.head, sb.head) if sa.head <= sb.head else (sb.head, sa.head)
            base = sa.head if sa.head == sb.head else self._merge_bases.get(key)
            if base is None:
                continue
            for snap in (sa, sb):
                assert snap.commit and snap.tree
                if snap.commit != base and (base, snap.tree) not in self._changes:
                    wanted[(base, snap.tree)] = (base, snap.commit)
        # One git process per worker, each with a share of the diffs: few processes, all cores.
        items = list(wanted.items())
        chunks = [items[i :: self._workers] for i in range(min(self._workers, len(items)))]
        for found in pool.map(self._changed_many, chunks):
            self._changes.update(found)

    def _changed_many(
        self, items: Sequence[tuple[tuple[str, str], tuple[str, str]]]
    ) -> dict[tuple[str, str], dict[str, str]]:
        """Change sets for ``((base, tree), (base, commit))`` items from one git process."""
        try:
            found = changed_paths_many(self._git, [pair for _, pair in items])
        except AgentmuxError:
            found = None
        if found is None:
            return {}  # left to _compare, one diff at a time
        return {key: changes for (key, _), changes in zip(items, found, strict=True)}

    def _fork_points(self, base_head: str, heads: set[str]) -> None:
        """Merge bases of ``heads`` with ``base_head`` and with each other, from one rev-list.

        ``git rev-list --parents HEADS --not BASE`` lists S, the commits of the sessions that the
        base does not have. For a head h, let U(h) be the commits of S it reaches and F(h) the
        commits outside S that those reach through one parent (its fork points); h outside S is
        in the base's history: U(h) is empty and F(h) = {h}. Every ancestor of h outside S is an
        ancestor of one of F(h), and F(h) is in the base's history, so:

        - F(h) = {f}: the common ancestors of h and the base are exactly f and its ancestors;
          f is *the* merge base (F(h) empty: no common history);
        - F(a) = F(b) = {f} and U(a), U(b) disjoint: a common ancestor x of a and b outside S
          would be in U(a) and U(b), so x is in the base's history, hence an ancestor of f, and f
          is an ancestor of both: f is *the* merge base of a and b too.

        Anything else (several fork points, shared commits, a huge S) is left to
        ``git merge-base``, which also handles criss-cross histories.
        """
        proc = run_git(
            ["rev-list", "--parents", *sorted(heads), "--not", base_head],
            self.store.repo.root,
            env=self.store.env,
            check=False,
        )
        if proc.returncode != 0:
            return
        parents: dict[str, list[str]] = {}
        for line in proc.stdout.decode().splitlines():
            commit, *rest = line.split()
            parents[commit] = rest
            if len(parents) > MAX_GRAPH_COMMITS:
                return
        forks: dict[str, str | None] = {}
        owns: dict[str, set[str]] = {}
        for head in heads:
            if head not in parents:
                forks[head], owns[head] = head, set()
                continue
            own, outside, stack = {head}, set(), [head]
            while stack:
                for parent in parents[stack.pop()]:
                    if parent not in parents:
                        outside.add(parent)
                    elif parent not in own:
                        own.add(parent)
                        stack.append(parent)
            if len(outside) <= 1:
                forks[head], owns[head] = next(iter(outside), None), own
        for head, fork in forks.items():
            key = (head, base_head) if head <= base_head else (base_head, head)
            self._merge_bases[key] = fork
        for x, y in ((x, y) for x in forks for y in forks if x < y):
            if forks[x] == forks[y] and not owns[x] & owns[y]:
                self._merge_bases[(x, y)] = forks[x]

    def hunks(self, pair: PairReport) -> dict[str, list[Hunk]]:
        """The conflicting hunks of each conflicted file of ``pair``, from the merge result."""
        found: dict[str, list[Hunk]] = {}
        if pair.result_tree is None:
            return found
        for conflict in pair.conflicts:
            proc = run_git(
                ["cat-file", "blob", f"{pair.result_tree}:{conflict.path}"],
                self.store.repo.root,
                env=self.store.env,
                check=False,
            )
            if proc.returncode != 0 or b"\0" in proc.stdout[:8000]:
                continue  # deleted on one side, or binary: no text hunks to show
            hunks = parse_hunks(proc.stdout.decode(errors="replace"))[:MAX_HUNKS]
            found[conflict.path] = [
                Hunk(h.ours[:MAX_HUNK_LINES], h.theirs[:MAX_HUNK_LINES], h.start_line)
                for h in hunks
            ]
        return found

    def forget(self, session_id: str) -> None:
        """Drop what the radar keeps for a session that is gone."""
        self._snapshots.pop(session_id, None)
        self.store.forget(session_id)


def new_conflicts(
    before: ConflictReport | None, after: ConflictReport
) -> list[tuple[str, str, str]]:
    """(a, b, path) of conflicts in ``after`` that ``before`` did not have."""
    known = before.conflict_keys() if before is not None else set()
    return sorted(after.conflict_keys() - known)
