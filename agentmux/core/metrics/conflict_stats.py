"""The conflict rate and its details, from the radar's recorded history
(:mod:`agentmux.core.git.conflict_history`): how many pairs of sessions conflicted at any time
and at merge time, each session's collisions and their durations, the sessions merges left out.

Definitions (docs/metrics.md): a pair is *compared* once the radar gave it a verdict other than
``unknown`` while both sessions were live (neither merged and unchanged since); the rate at any
time is pairs that conflicted / pairs compared. A figure the history cannot give is unknown, with
the reason, never 0.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from agentmux.core.git.conflict_history import (
    SINCE_KEY,
    Key,
    Ledger,
    Span,
    read_ledger,
    sides,
)
from agentmux.core.metrics.cost_report import seconds_text
from agentmux.core.records import SessionRecord, iso
from agentmux.core.state import StateStore

SCHEMA_VERSION = 1
NOT_RUN = "the radar has not run (open the TUI or run agentmux conflicts)"
COLUMNS = ("session", "compared with", "collided with", "in conflict", "with base", "left out")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Rate:
    """``conflicted`` of ``compared``; ``unknown`` says why there is no rate (then it is None)."""

    compared: int
    conflicted: int
    unknown: str | None = None

    @property
    def value(self) -> float | None:
        """The share, or None when unknown."""
        if self.unknown is not None or not self.compared:
            return None
        return self.conflicted / self.compared

    def text(self, what: str) -> str:
        """``2 of 3 <what> (66.7%)``, or why it is unknown."""
        value = self.value
        if value is None:
            return f"unknown: {self.unknown}"
        return f"{self.conflicted} of {self.compared} {what} ({value:.1%})"

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``rate`` null when unknown)."""
        return {
            "compared": self.compared,
            "conflicted": self.conflicted,
            "rate": self.value,
            "unknown": self.unknown if self.value is None else None,
        }


@dataclass(frozen=True)
class Collision:
    """A session's conflicts with one other side (a session, or its base branch)."""

    other_id: str | None  # None: the base branch
    name: str
    spans: int
    seconds: float  # ongoing ones counted up to now
    ongoing: bool
    files: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "id": self.other_id,
            "name": self.name,
            "spans": self.spans,
            "seconds": self.seconds,
            "ongoing": self.ongoing,
            "files": list(self.files),
        }


@dataclass(frozen=True)
class LeftOut:
    """A session a landed merge left out."""

    time: float
    session_id: str
    name: str
    into: str
    commit: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "time": iso(self.time),
            "id": self.session_id,
            "session": self.name,
            "into": self.into,
            "commit": self.commit,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SessionConflicts:
    """One session's collisions. ``compared`` is None when the radar never compared it with
    another session: then how many it collided with, and for how long, are unknown."""

    session_id: str
    name: str
    removed: bool
    compared: int | None
    collisions: tuple[Collision, ...]
    seconds: float | None  # time in conflict with at least one other session
    ongoing: bool
    base_compared: bool
    base: Collision | None
    left_out: tuple[LeftOut, ...]

    @property
    def collided_with(self) -> int | None:
        """How many other sessions it conflicted with (None: unknown)."""
        return None if self.compared is None else len(self.collisions)

    def to_json(self) -> dict[str, Any]:
        """The JSON form (see docs/metrics.md)."""
        return {
            "id": self.session_id,
            "name": self.name,
            "removed": self.removed,
            "compared_with": self.compared,
            "collided_with": self.collided_with,
            "conflict_seconds": self.seconds,
            "ongoing": self.ongoing,
            "collisions": [c.to_json() for c in self.collisions],
            "compared_with_base": self.base_compared,
            "base": self.base.to_json() if self.base else None,
            "left_out": [x.to_json() for x in self.left_out],
        }


@dataclass(frozen=True)
class ConflictStats:
    """Everything ``agentmux conflicts --stats`` and the cost panel show."""

    generated: float
    since: float | None
    alive_together: int
    any_time: Rate
    at_merge: Rate
    merges: int
    merges_unscanned: int
    with_base: Rate
    sessions: tuple[SessionConflicts, ...]
    left_out: tuple[LeftOut, ...]
    malformed: int

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form (schema 1, docs/metrics.md)."""
        return {
            "schema": SCHEMA_VERSION,
            "generated": iso(self.generated),
            "history_since": iso(self.since),
            "pairs": {"alive_together": self.alive_together, **self.any_time.to_json()},
            "at_merge": {
                "merges": self.merges,
                "merges_unscanned": self.merges_unscanned,
                **self.at_merge.to_json(),
            },
            "with_base": self.with_base.to_json(),
            "sessions": [s.to_json() for s in self.sessions],
            "left_out": [x.to_json() for x in self.left_out],
            "malformed_events": self.malformed,
        }


def conflict_stats(store: StateStore, *, now: float | None = None) -> ConflictStats:
    """The statistics of the repository's whole recorded history, ongoing conflicts counted up to
    ``now`` (default: the current time)."""
    ledger = read_ledger(store)
    records = store.sessions(include_removed=True)
    since: float | None = None
    try:
        text = store.get_meta(SINCE_KEY)
        since = float(text) if text is not None else None
    except ValueError:
        ledger.malformed += 1
    return build_stats(ledger, records, since, time.time() if now is None else now)


def _end(span: Span, removed: dict[str, float], now: float) -> tuple[float, bool]:
    """When a span ends (ongoing ones: now) and whether it is ongoing. An open span of a removed
    session that no scan closed ends at the removal."""
    if span.end is not None:
        return span.end, False
    gone = [removed[s] for s in sides(span.key) if s in removed]
    if gone:
        return max(span.start, min(gone)), False
    return max(span.start, now), True


def _union(intervals: Iterable[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _alive_together(records: Sequence[SessionRecord], now: float) -> int:
    lives = [(r.created_at, r.removed_at if r.removed_at is not None else now) for r in records]
    return sum(
        1
        for i, (a0, a1) in enumerate(lives)
        for b0, b1 in lives[i + 1 :]
        if max(a0, b0) <= min(a1, b1)
    )


def _collision(other: str | None, name: str, spans: list[tuple[Span, float, bool]]) -> Collision:
    files = sorted({f for span, _, _ in spans for f in span.files})
    return Collision(
        other,
        name,
        len(spans),
        sum(end - span.start for span, end, _ in spans),
        any(ongoing for _, _, ongoing in spans),
        tuple(files),
    )


def build_stats(
    ledger: Ledger, records: Sequence[SessionRecord], since: float | None, now: float
) -> ConflictStats:
    """The statistics from a replayed history (pure computation, see :func:`conflict_stats`)."""
    names = {r.id: r.name for r in records}
    removed = {r.id: r.removed_at for r in records if r.removed_at is not None}
    spans = [*ledger.spans, *ledger.open.values()]
    timed = [(span, *_end(span, removed, now)) for span in spans]
    pair_spans = [t for t in timed if t[0].key[1] is not None]
    compared = {k for k in ledger.seen if k[1] is not None} | {t[0].key for t in pair_spans}
    conflicted = {t[0].key for t in pair_spans}
    base_compared = {k[0] for k in ledger.seen if k[1] is None}
    base_conflicted = {t[0].key[0] for t in timed if t[0].key[1] is None}
    base_compared |= base_conflicted

    def rate(seen: int, hit: int, none_seen: str) -> Rate:
        if since is None and not seen:
            return Rate(0, 0, NOT_RUN)
        return Rate(seen, hit, None if seen else none_seen)

    left_out = tuple(
        LeftOut(x.time, x.session_id, names.get(x.session_id, "?"), x.into, x.commit, x.reason)
        for x in ledger.left_out
    )
    sessions = []
    for record in records:
        sid = record.id
        mine = [t for t in pair_spans if sid in t[0].key]
        others = {o for k in compared if sid in k for o in sides(k) if o != sid}
        by_other: dict[str, list[tuple[Span, float, bool]]] = {}
        for t in mine:
            other = next(o for o in sides(t[0].key) if o != sid)
            by_other.setdefault(other, []).append(t)
        base = [t for t in timed if t[0].key == (sid, None)]
        base_name = next((t[0].base for t in base if t[0].base), record.base_ref)
        sessions.append(
            SessionConflicts(
                sid,
                record.name,
                record.removed_at is not None,
                len(others) if others else None,
                tuple(_collision(o, names.get(o, "?"), s) for o, s in by_other.items()),
                _union((t[0].start, t[1]) for t in mine) if others else None,
                any(t[2] for t in mine),
                sid in base_compared,
                _collision(None, base_name, base) if base else None,
                tuple(x for x in left_out if x.session_id == sid),
            )
        )
    return ConflictStats(
        generated=now,
        since=since,
        alive_together=_alive_together(records, now),
        any_time=rate(len(compared), len(conflicted), "no two sessions were compared yet"),
        at_merge=_at_merge(ledger, since),
        merges=len(ledger.merges),
        merges_unscanned=sum(m.pairs is None for m in ledger.merges),
        with_base=rate(
            len(base_compared), len(base_conflicted), "no session was compared with its base yet"
        ),
        sessions=tuple(sessions),
        left_out=left_out,
        malformed=ledger.malformed,
    )


def _at_merge(ledger: Ledger, since: float | None) -> Rate:
    if not ledger.merges:
        why = NOT_RUN if since is None else "no merge has landed since the radar started recording"
        return Rate(0, 0, why)
    seen: set[Key] = set()
    hit: set[Key] = set()
    for merge in ledger.merges:
        for key, verdict in (merge.pairs or {}).items():
            if key[1] is not None and verdict != "unknown":
                seen.add(key)
                if verdict == "conflict":
                    hit.add(key)
    if seen:
        return Rate(len(seen), len(hit))
    reasons = sorted({m.unknown for m in ledger.merges if m.unknown})
    if reasons:
        return Rate(0, 0, "the radar could not scan at the merge: " + "; ".join(reasons))
    return Rate(0, 0, "no two sessions were in flight at a merge")


# --- text, for the CLI and the TUI ---------------------------------------------------------------


def _duration(seconds: float | None, ongoing: bool) -> str:
    if seconds is None:
        return UNKNOWN
    text = seconds_text(seconds)
    return f"{text}, ongoing" if ongoing else text


def summary_lines(stats: ConflictStats) -> list[str]:
    """The rates in sentences, then each merge that left a session out."""
    since = f"since {iso(stats.since)}" if stats.since is not None else "none recorded yet"
    unscanned = f", {stats.merges_unscanned} without a scan" if stats.merges_unscanned else ""
    merges = f"{stats.merges} merge{'' if stats.merges == 1 else 's'}{unscanned}"
    lines = [
        f"conflict history: {since}",
        f"pairs of sessions that conflicted: {stats.any_time.text('pairs compared')}"
        f" · {stats.alive_together} pairs alive at the same time",
        f"at merge time: {stats.at_merge.text('pairs in flight')} · {merges}",
        f"sessions that conflicted with their base: {stats.with_base.text('compared')}",
    ]
    if stats.malformed:
        lines.append(f"{stats.malformed} unreadable history events skipped")
    lines += [
        f"merge into {x.into} at {iso(x.time)} left out {x.name}: {x.reason}"
        for x in stats.left_out
    ]
    return lines


def session_cells(s: SessionConflicts) -> tuple[str, ...]:
    """One session's row under :data:`COLUMNS`."""
    name = f"{s.name} (removed)" if s.removed else s.name
    compared = UNKNOWN if s.compared is None else str(s.compared)
    if s.compared is None:
        collided = UNKNOWN
    else:
        who = ", ".join(c.name for c in s.collisions)
        collided = f"{len(s.collisions)} ({who})" if who else "0"
    if s.base is not None:
        base = _duration(s.base.seconds, s.base.ongoing)
    else:
        base = "none" if s.base_compared else UNKNOWN
    count = len(s.left_out)
    left = f"by {count} merge{'' if count == 1 else 's'}" if count else "-"
    return (name, compared, collided, _duration(s.seconds, s.ongoing), base, left)
