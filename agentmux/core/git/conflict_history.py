"""The conflict radar's history: when each pair's conflict started and ended, and what merges left
out, recorded as events in the state store.

Every scan of the radar (the TUI's watcher, ``agentmux conflicts``, the scan a landed merge makes)
goes through :meth:`ConflictHistory.record`, which writes only real transitions: a pair that starts
to conflict gets a ``conflict_started`` event, one that stops a ``conflict_ended`` event, each on
both sessions of the pair (with the other's id and name) or, for a session against its base branch,
on the session alone (``other`` null, ``base`` the branch). The first time the radar gives a pair a
known verdict it records ``conflict_pair_seen`` once: the denominator of the conflict rate.

Events rather than a table of their own: a migration would make every older agentmux refuse the
database, and each session's history already lives in its events (removal keeps them). The event's
``ts`` is the time the radar looked (not when the row was written), so the rows are inserted here,
in one write transaction that first reads what other processes recorded: two processes recording
the same transition write it once, and an observation older than a pair's last transition is
dropped. Event data this module cannot read is skipped and counted, never fatal.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentmux.core.errors import AgentmuxError
from agentmux.core.git.conflicts import ConflictRadar, ConflictReport, PairReport, Verdict
from agentmux.core.git.merge import MergePlan
from agentmux.core.records import SessionRecord
from agentmux.core.state import StateStore

STARTED = "conflict_started"
ENDED = "conflict_ended"
SEEN = "conflict_pair_seen"
MERGE = "conflict_merge"
LEFT_OUT = "merge_left_out"
KINDS = (STARTED, ENDED, SEEN, MERGE, LEFT_OUT)
#: Meta key: when the radar first recorded a scan of at least one session.
SINCE_KEY = "conflict_history_since"

#: A pair: two session ids in sorted order, or a session id and None for it against its base.
Key = tuple[str, str | None]


def pair_key(x: str, y: str | None) -> Key:
    """The key of two sessions (either order), or of a session and its base (``y`` None)."""
    if y is None:
        return (x, None)
    return (x, y) if x <= y else (y, x)


def sides(key: Key) -> list[str]:
    """The session ids of a pair."""
    return [side for side in key if side is not None]


@dataclass(frozen=True)
class Span:
    """One conflict of a pair, from the scan that first saw it to the one that saw it gone."""

    key: Key
    start: float
    end: float | None  # None: still open in the history
    files: tuple[str, ...]
    base: str | None = None
    why: str | None = None  # resolved, removed or merged


@dataclass(frozen=True)
class MergeRecord:
    """A landed merge and the radar's verdict on every pair in flight at that moment."""

    time: float
    into: str
    commit: str
    pairs: dict[Key, str] | None  # None: the radar could not scan at the merge
    unknown: str | None


@dataclass(frozen=True)
class LeftOutRecord:
    """A session a landed merge left out, and why."""

    time: float
    session_id: str
    into: str
    commit: str
    reason: str


@dataclass
class Ledger:
    """The history replayed from the events, oldest first; ``keep`` keeps closed spans, merges
    and left-outs (the statistics want them, the recorder only the open conflicts)."""

    keep: bool = False
    last_id: int = 0
    open: dict[Key, Span] = field(default_factory=dict)
    last_ts: dict[Key, float] = field(default_factory=dict)
    seen: set[Key] = field(default_factory=set)
    settled: dict[str, str] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    merges: list[MergeRecord] = field(default_factory=list)
    left_out: list[LeftOutRecord] = field(default_factory=list)
    malformed: int = 0

    def apply(self, rows: Iterable[tuple[int, str, float, str, Any]]) -> None:
        """Replay ``(id, session_id, ts, kind, data)`` rows; unreadable ones are counted."""
        for event_id, session_id, ts, kind, data in rows:
            self.last_id = max(self.last_id, event_id)
            try:
                ok = self._apply(session_id, float(ts), kind, data)
            except (TypeError, ValueError, AttributeError):
                ok = False
            if not ok:
                self.malformed += 1

    def _apply(self, session_id: str, ts: float, kind: str, data: Any) -> bool:
        if not isinstance(data, dict):
            return False
        if kind == MERGE:
            return self._merge(ts, data)
        if kind == LEFT_OUT:
            into, commit, reason = data.get("into"), data.get("commit"), data.get("reason")
            if not (isinstance(into, str) and isinstance(commit, str) and isinstance(reason, str)):
                return False
            if self.keep:
                self.left_out.append(LeftOutRecord(ts, session_id, into, commit, reason))
            return True
        other = data.get("other")
        if other is not None and (not isinstance(other, str) or not other):
            return False
        key = pair_key(session_id, other)
        if kind == SEEN:
            self.seen.add(key)
        elif kind == STARTED:
            files = data.get("files", [])
            base = data.get("base")
            if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
                return False
            if key not in self.open:  # the pair's other row repeats the same start
                self.open[key] = Span(key, ts, None, tuple(files), base)
                self.seen.add(key)
            self.last_ts[key] = max(self.last_ts.get(key, ts), ts)
        elif kind == ENDED:
            span = self.open.pop(key, None)
            if span is not None and self.keep:
                why = data.get("why")
                why = why if isinstance(why, str) else None
                self.spans.append(
                    Span(key, span.start, max(ts, span.start), span.files, span.base, why)
                )
            self.last_ts[key] = max(self.last_ts.get(key, ts), ts)
        return True

    def _merge(self, ts: float, data: dict[str, Any]) -> bool:
        settled = data.get("settled", {})
        into, commit = data.get("into"), data.get("commit")
        if (
            not isinstance(settled, dict)
            or not isinstance(into, str)
            or not isinstance(commit, str)
        ):
            return False
        pairs: dict[Key, str] | None = None
        if data.get("pairs") is not None:
            pairs = {}
            for x, y, verdict in data["pairs"]:
                if not isinstance(x, str) or not (y is None or isinstance(y, str)):
                    return False
                pairs[pair_key(x, y)] = str(verdict)
        for sid, snapshot in settled.items():
            if isinstance(snapshot, str):
                self.settled[sid] = snapshot
        if self.keep:
            unknown = data.get("unknown")
            why = unknown if isinstance(unknown, str) else None
            self.merges.append(MergeRecord(ts, into, commit, pairs, why))
        return True


def _raw_rows(db: sqlite3.Connection, after_id: int) -> list[tuple[int, str, float, str, Any]]:
    """The history's events after ``after_id``, data decoded (None when it is not JSON)."""
    marks = ", ".join("?" for _ in KINDS)
    sql = (
        "SELECT id, session_id, ts, kind, data FROM events "  # noqa: S608 - placeholders only
        f"WHERE id > ? AND kind IN ({marks}) ORDER BY id"
    )
    rows = []
    for event_id, session_id, ts, kind, text in db.execute(sql, (after_id, *KINDS)):
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            data = None
        rows.append((int(event_id), str(session_id), ts, str(kind), data))
    return rows


def read_rows(store: StateStore, after_id: int = 0) -> list[tuple[int, str, float, str, Any]]:
    """The history's events after ``after_id``, read without the write lock when they decode."""
    try:
        events = store.events(kinds=KINDS, after_id=after_id)
    except ValueError:  # a row whose data is not JSON: read them one by one, skipping it
        with store.transaction() as db:
            return _raw_rows(db, after_id)
    return [(e["id"], e["session_id"], e["ts"], e["kind"], e["data"]) for e in events]


def read_ledger(store: StateStore) -> Ledger:
    """The whole history, with closed spans, merges and left-outs."""
    ledger = Ledger(keep=True)
    ledger.apply(read_rows(store))
    return ledger


@dataclass(frozen=True)
class Transition:
    """One change the recorder writes: a row on each session of the pair in ``rows``."""

    kind: str  # SEEN, STARTED or ENDED
    key: Key
    ts: float
    names: dict[str, str]  # session id -> name, for the ``name`` of the other side
    base: str | None = None
    files: tuple[str, ...] = ()
    why: str | None = None  # ENDED: resolved, removed or merged
    rows: tuple[str, ...] = ()  # the sessions to write it on (default: every side)


@dataclass(frozen=True)
class _Observed:
    verdict: Verdict
    files: tuple[str, ...]
    names: dict[str, str]
    base: str | None


def _observations(report: ConflictReport) -> dict[Key, _Observed]:
    ids = {s.name: s.session_id for s in report.sessions}
    seen: dict[Key, _Observed] = {}

    def files(p: PairReport) -> tuple[str, ...]:
        return tuple(sorted({c.path for c in p.conflicts}))

    for p in report.pairs:
        x, y = ids[p.a], ids[p.b]
        seen[pair_key(x, y)] = _Observed(p.verdict, files(p), {x: p.a, y: p.b}, None)
    for p in report.against_base:
        x = ids[p.a]
        seen[(x, None)] = _Observed(p.verdict, files(p), {x: p.a}, p.b)
    return seen


def _settled(ledger: Ledger, report: ConflictReport) -> set[str]:
    """Sessions merged and unchanged since (same snapshot): their work is in the base."""
    return {
        s.session_id
        for s in report.sessions
        if s.snapshot and ledger.settled.get(s.session_id) == s.snapshot
    }


class ConflictHistory:
    """Records the radar's reports as transitions; keeps what it has read between calls."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.ledger = Ledger()
        self._since_known = False

    @classmethod
    def for_repo(cls, common_dir: Path) -> ConflictHistory | None:
        """The history of the repository whose git common dir is ``common_dir``, or None when
        agentmux has no state there yet (the path is the one SessionManager uses)."""
        path = common_dir / "agentmux" / "state.db"
        return cls(StateStore(path)) if path.is_file() else None

    def _catch_up(self, db: sqlite3.Connection | None = None) -> None:
        after = self.ledger.last_id
        self.ledger.apply(_raw_rows(db, after) if db is not None else read_rows(self.store, after))

    def record(self, report: ConflictReport, *, now: float | None = None) -> list[Transition]:
        """Record what changed since the history's last look; ``now`` (default: when the report
        was computed) is the time of the observation. Returns the transitions written."""
        if not report.sessions:
            return []  # a scan of nothing (a watcher not yet told the sessions) says nothing
        now = report.computed_at if now is None else now
        if not self._since_known:
            self.store.set_meta_once(SINCE_KEY, repr(now))
            self._since_known = True
        self._catch_up()
        if not self._plan(report, now):
            return []  # the common case: no write lock taken
        try:
            with self.store.transaction() as db:
                self._catch_up(db)  # what another process wrote since: decided again, locked
                planned = self._plan(report, now)
                for change in planned:
                    _insert(db, change)
        except sqlite3.Error as exc:
            raise _write_failed(exc) from exc
        return planned

    def _plan(self, report: ConflictReport, now: float) -> list[Transition]:
        ledger = self.ledger
        settled = _settled(ledger, report)
        planned: list[Transition] = []
        for key, obs in _observations(report).items():
            if obs.verdict is Verdict.UNKNOWN or now < ledger.last_ts.get(key, now):
                continue  # unknown is no news; an older look than the last transition is stale
            is_open = key in ledger.open
            if set(sides(key)) & settled:
                if is_open:
                    planned.append(Transition(ENDED, key, now, obs.names, obs.base, why="merged"))
                continue
            if key not in ledger.seen:
                planned.append(Transition(SEEN, key, now, obs.names, obs.base))
            if obs.verdict is Verdict.CONFLICT and not is_open:
                planned.append(Transition(STARTED, key, now, obs.names, obs.base, obs.files))
            elif obs.verdict is not Verdict.CONFLICT and is_open:
                planned.append(Transition(ENDED, key, now, obs.names, obs.base, why="resolved"))
        live = {s.session_id: s.name for s in report.sessions}
        missing = [
            (key, span)
            for key, span in ledger.open.items()
            if not all(side in live for side in sides(key)) and now >= ledger.last_ts.get(key, now)
        ]
        if missing:  # rare: read the records once
            records = {r.id: r for r in self.store.sessions(include_removed=True)}
            for key, span in missing:
                ended = _removed(key, span, live, records, now)
                if ended is not None:
                    planned.append(ended)
        return planned

    def record_merge(
        self,
        plan: MergePlan,
        records: Sequence[SessionRecord],
        report: ConflictReport | None,
        unknown: str | None,
        now: float,
    ) -> None:
        """Record a landed merge: the verdicts of the pairs in flight (``report``, the radar's
        scan right after landing; None, with ``unknown`` the reason, when it could not scan), the
        snapshot each merged session had (its pairs are done while it stays so), and each session
        the plan left out, with the reason. A session merged before and unchanged since is not in
        flight."""
        if not plan.steps:
            return
        try:
            self._record_merge(plan, records, report, unknown, now)
        except sqlite3.Error as exc:
            raise _write_failed(exc) from exc

    def _record_merge(
        self,
        plan: MergePlan,
        records: Sequence[SessionRecord],
        report: ConflictReport | None,
        unknown: str | None,
        now: float,
    ) -> None:
        ids = {r.name: r.id for r in records}
        with self.store.transaction() as db:
            self._catch_up(db)
            data: dict[str, Any] = {"into": plan.into, "commit": plan.result, "unknown": unknown}
            if report is None:
                data |= {"pairs": None, "settled": {}}
            else:
                earlier = _settled(self.ledger, report)
                data["pairs"] = [
                    [*key, str(obs.verdict)]
                    for key, obs in _observations(report).items()
                    if not set(sides(key)) & earlier
                ]
                snaps = {s.session_id: s.snapshot for s in report.sessions}
                merged = [step.session_id for step in plan.steps]
                data["settled"] = {sid: snaps[sid] for sid in merged if snaps.get(sid)}
            _insert_row(db, plan.steps[0].session_id, now, MERGE, data)
            for left in plan.left_out:
                if left.name in ids:
                    row = {"into": plan.into, "commit": plan.result, "reason": left.reason}
                    _insert_row(db, ids[left.name], now, LEFT_OUT, row)


def _removed(
    key: Key,
    span: Span,
    live: dict[str, str],
    records: dict[str, SessionRecord],
    now: float,
) -> Transition | None:
    """The end of an open conflict one of whose sessions a scan did not include: at its removal;
    None when it is still live (the scanner's list of sessions was older than the store)."""
    names = {sid: live[sid] for sid in sides(key) if sid in live}
    rows = list(names)
    removed: list[float] = []
    for sid in sides(key):
        if sid in live:
            continue
        record = records.get(sid)
        if record is None:
            removed.append(now)  # forgotten altogether (a creation rolled back): no row for it
            continue
        if record.removed_at is None:
            return None
        removed.append(record.removed_at)
        names[sid] = record.name
        rows.append(sid)
    when = min(max(min(removed), span.start), now)
    return Transition(ENDED, key, when, names, span.base, why="removed", rows=tuple(rows))


def _write_failed(exc: sqlite3.Error) -> AgentmuxError:
    return AgentmuxError(f"cannot record the conflict history in the state database: {exc}.")


def _insert_row(
    db: sqlite3.Connection, session_id: str, ts: float, kind: str, data: dict[str, Any]
) -> None:
    db.execute(
        "INSERT INTO events (session_id, ts, kind, data) VALUES (?, ?, ?, ?)",
        (session_id, ts, kind, json.dumps(data)),
    )


def _insert(db: sqlite3.Connection, change: Transition) -> None:
    x, y = change.key
    if change.kind == SEEN:
        _insert_row(db, x, change.ts, SEEN, {"other": y, "base": change.base})
        return
    rows = change.rows or tuple(sides(change.key))
    for me, other in ((x, y), (y, x)):
        if me is None or me not in rows:
            continue
        data: dict[str, Any] = {
            "other": other,
            "name": change.names.get(other, "") if other is not None else change.base,
            "base": change.base,
        }
        if change.kind == STARTED:
            data["files"] = list(change.files)
        else:
            data["why"] = change.why
        _insert_row(db, me, change.ts, change.kind, data)


def record_merge(
    store: StateStore,
    plan: MergePlan,
    sessions: Callable[[], Sequence[SessionRecord]],
    make_radar: Callable[[], ConflictRadar],
    *,
    now: float | None = None,
) -> None:
    """After a merge landed: scan the sessions once more and record the merge (see
    :meth:`ConflictHistory.record_merge`) and the transitions of that scan. Never raises for a
    failure of its own: the merge has landed, and only its record is missing."""
    if not plan.steps:
        return
    try:
        records = list(sessions())
        history = ConflictHistory(store)
        at = time.time() if now is None else now
        report: ConflictReport | None = None
        unknown: str | None = None
        try:
            report = make_radar().scan(records)
        except AgentmuxError as exc:
            unknown = exc.message
        history.record_merge(plan, records, report, unknown, at)
        if report is not None:
            history.record(report, now=at)
    except (AgentmuxError, OSError):
        return
