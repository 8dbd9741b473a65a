"""Per-session metrics: spend from the agents' own transcripts, queue wait, failures, wall time.

Tokens come from the transcript readers (:mod:`agentmux.core.metrics.claude_transcript_reader`,
:mod:`agentmux.core.metrics.codex_rollouts`), which read incrementally, so keeping one
:class:`MetricsCollector` alive makes each refresh cost only what was appended. Anything agentmux
cannot know is ``None`` (shown as unknown), never zero.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from agentmux.core.agents.events import (
    AGENT_EVENT,
    PROMPT_SENT,
    RUN_ENDED,
    Activity,
    ActivityTracker,
)
from agentmux.core.agents.held_prompts import HELD, RELEASED, HeldTracker
from agentmux.core.agents.profiles import demo_transcript_root
from agentmux.core.metrics.claude_history_read import read_sessions
from agentmux.core.metrics.claude_transcript_files import claude_config_dir
from agentmux.core.metrics.codex_rollouts import codex_home
from agentmux.core.metrics.prices import Cost, cost_of_samples
from agentmux.core.metrics.resumed_transcripts import (
    ClaudeConversationReader,
    CodexConversationReader,
    Conversations,
)
from agentmux.core.metrics.run_turns import TurnTracker
from agentmux.core.metrics.runs import RESUMED, Run, RunHistory, feed_resumed, run_of
from agentmux.core.metrics.usage import Failure, FailureKind, UsageSnapshot
from agentmux.core.records import SessionRecord, Status, iso


class _Reader(Protocol):
    def update(self) -> int: ...

    def snapshot(self) -> UsageSnapshot: ...


class _Preloaded:
    """A snapshot read in bulk: nothing more to read."""

    def __init__(self, snapshot: UsageSnapshot, conversation: str) -> None:
        self._snapshot = snapshot
        self.conversation = conversation

    def update(self) -> int:
        return 0

    def snapshot(self) -> UsageSnapshot:
        return self._snapshot


@dataclass(frozen=True)
class QueueWait:
    """Time from a unit of work being asked for to an agent starting on it (seconds)."""

    samples: tuple[float, ...] = ()
    current: float | None = None  # the wait still going on, if any

    @property
    def count(self) -> int:
        """How many units of work have waited (finished waits)."""
        return len(self.samples)

    @property
    def mean(self) -> float | None:
        """Mean of the finished waits, or None when there are none."""
        return sum(self.samples) / len(self.samples) if self.samples else None

    @property
    def p95(self) -> float | None:
        """95th percentile (nearest rank) of the finished waits, or None."""
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass(frozen=True)
class SessionMetrics:
    """Everything agentmux measures about one session."""

    record: SessionRecord
    usage: UsageSnapshot | None  # None: no transcript found (yet): tokens unknown
    cost: Cost | None
    queue_wait: QueueWait
    exit_failure: Failure | None
    wall_seconds: float | None
    budget_usd: Decimal | None = None
    activity: Activity = field(default_factory=lambda: Activity(known=False))
    transcript: str | None = None
    notes: tuple[str, ...] = field(default=())
    #: How the agent's earlier runs failed (a session lost, then resumed, keeps that failure).
    earlier_failures: tuple[Failure, ...] = ()
    resumes: int = 0
    #: How many of those process failures count as failed turns (not a lost tmux session whose
    #: agent sat idle: agentmux.core.metrics.run_turns); None when not known: each counts then.
    crashed_turns: int | None = None

    @property
    def exit_failures(self) -> tuple[Failure, ...]:
        """The agent process's own failures: its earlier runs', then the current run's."""
        return (*self.earlier_failures, *((self.exit_failure,) if self.exit_failure else ()))

    @property
    def failures(self) -> tuple[Failure, ...]:
        """Every failure: the transcript's, then the agent process's own exits."""
        found = self.usage.failures if self.usage else ()
        return (*found, *self.exit_failures)

    @property
    def _crashes(self) -> int:
        """Process failures that count as failed turns of their own."""
        return len(self.exit_failures) if self.crashed_turns is None else self.crashed_turns

    @property
    def turns(self) -> int | None:
        """Turns (prompts the agent worked on), a crash counted as one (a reboot only when it cut a
        turn short); None when unknown."""
        crashes = self._crashes
        if self.usage is None:
            return crashes or None
        return len(self.usage.turns) + crashes

    @property
    def failed_turns(self) -> int | None:
        """Turns that failed (API error, interruption, crash); None when unknown."""
        crashes = self._crashes
        if self.usage is None:
            return crashes or None
        return self.usage.failed_turns + crashes

    @property
    def failure_rate(self) -> float | None:
        """Failed turns / turns, or None before the first turn."""
        turns, failed = self.turns, self.failed_turns
        if not turns or failed is None:
            return None
        return failed / turns

    @property
    def cost_usd(self) -> Decimal | None:
        """Dollars spent, or None when any model's price (or the transcript) is unknown."""
        return self.cost.total if self.cost is not None else None

    @property
    def budget_used(self) -> float | None:
        """Spend as a fraction of the budget, or None without a budget or a known cost."""
        if self.budget_usd is None or self.budget_usd <= 0 or self.cost is None:
            return None
        return float(self.cost.known / self.budget_usd)

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of one session in ``agentmux cost --json`` (docs/metrics.md)."""
        usage = self.usage
        models = sorted(usage.by_model) if usage else []
        cost = self.cost
        return {
            "id": self.record.id,
            "name": self.record.name,
            "agent": self.record.agent,
            "status": str(self.record.status),
            "transcript": self.transcript,
            "models": models,
            "tokens": usage.total.to_json() if usage else None,
            "tokens_by_model": {m: usage.by_model[m].to_json() for m in models} if usage else None,
            "cost_usd": _money(cost.total) if cost else None,
            "cost_by_model_usd": (
                {m: _money(c) for m, c in cost.by_model.items()} if cost else None
            ),
            "unpriced_models": sorted(cost.unknown_models) if cost else [],
            "turns": self.turns,
            "failed_turns": self.failed_turns,
            "failure_rate": self.failure_rate,
            "failures": [f.to_json() for f in self.failures],
            "queue_wait_seconds": {
                "count": self.queue_wait.count,
                "mean": self.queue_wait.mean,
                "p95": self.queue_wait.p95,
                "current": self.queue_wait.current,
            },
            "waiting_on_you_seconds": (
                {
                    "total": self.activity.waiting_total,
                    "current": self.activity.waiting_current,
                }
                if self.activity.known
                else None
            ),
            "wall_seconds": self.wall_seconds,
            "resumes": self.resumes,
            "budget_usd": _money(self.budget_usd),
            "malformed_lines": usage.malformed_lines if usage else None,
            "created": iso(self.record.created_at),
        }


def _money(value: Decimal | None) -> str | None:
    """Dollars as a string with every digit kept (JSON floats would round)."""
    return None if value is None else format(value.normalize(), "f")


def interruptions(usage: UsageSnapshot | None) -> list[float]:
    """When the user interrupted turns, as the transcript records it (epoch seconds)."""
    return [
        f.time.timestamp()
        for f in (usage.failures if usage else ())
        if f.kind is FailureKind.INTERRUPTED
    ]


def _exit_failure(record: SessionRecord) -> Failure | None:
    return run_of(record).failure


def queue_wait(
    record: SessionRecord,
    now: float | None = None,
    held: HeldTracker | None = None,
    earlier: Sequence[Run] = (),
) -> QueueWait:
    """The session's own starts (each asked for at creation, queueing or a resume, and started
    when it ran: the ``earlier`` runs' and the current one's), and every prompt held for the
    agent while it was busy (held until typed)."""
    now = time.time() if now is None else now
    asked = record.queued_at or record.created_at
    samples: list[float] = [w for run in earlier if (w := run.queue_wait) is not None]
    current: float | None = None
    if record.started_at is not None:
        samples.append(max(0.0, record.started_at - asked))
    elif record.status is Status.QUEUED:
        current = max(0.0, now - asked)
    waiting = held.pending() if held is not None else []
    samples += held.waits if held is not None else []
    if waiting:
        oldest = max(0.0, now - waiting[0].held_at)
        current = oldest if current is None else max(current, oldest)
    return QueueWait(samples=tuple(samples), current=current)


def wall_seconds(
    record: SessionRecord, now: float | None = None, earlier: Sequence[Run] = ()
) -> float | None:
    """From the agent starting to it ending (or now), summed over its runs (the time between
    a run's end and its resume is not counted)."""
    now = now or time.time()
    walls = [w for run in (*earlier, run_of(record)) if (w := run.wall(now)) is not None]
    return sum(walls) if walls else None


class MetricsCollector:
    """Keeps one incremental transcript reader per session; :meth:`collect` brings all up to date.

    ``environ`` is the environment the agents were started with (by default this process's):
    it says where Claude Code (``CLAUDE_CONFIG_DIR``) and Codex (``CODEX_HOME``) keep their files.
    ``env_of`` adds what a session's own agent profile sets on top of it.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        env_of: Callable[[SessionRecord], Mapping[str, str]] | None = None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.env_of = env_of
        self._readers: dict[str, _Reader] = {}
        self._activity: dict[str, ActivityTracker] = {}
        self._held: dict[str, HeldTracker] = {}
        self._conversations = Conversations()
        self._runs: dict[str, RunHistory] = {}
        self._turn_state = TurnTracker()
        #: The newest state event taken in: :meth:`feed_events` wants only those after it.
        self.last_event_id = 0
        self._where: dict[str, str] = {}

    def feed_events(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Take in state events recorded since :attr:`last_event_id` (the agents' own reports,
        prompts typed, held and released, resumes), oldest first."""
        for event in events:
            sid = event["session_id"]
            if event["kind"] in (AGENT_EVENT, PROMPT_SENT):
                self._activity.setdefault(sid, ActivityTracker()).feed(event)
                self._turn_state.feed(event)
            elif event["kind"] in (HELD, RELEASED):
                self._held.setdefault(sid, HeldTracker()).feed(event)
            elif event["kind"] == RESUMED:
                run = feed_resumed(self._runs, event)
                # The time between a run's end and its resume is not time waiting on you.
                ended = run.ended_at if run is not None else None
                end: dict[str, Any] = {"kind": RUN_ENDED, "ts": ended or event["ts"], "data": {}}
                self._activity.setdefault(sid, ActivityTracker()).feed(end)
                self._turn_state.run_ended(sid)
            if self._conversations.feed(event) is not None:
                self._follow(sid)
            self.last_event_id = max(self.last_event_id, int(event.get("id", 0)))

    def preload(self, records: Sequence[SessionRecord]) -> None:
        """Read the Claude-format transcripts of ``records`` from scratch on every core at once
        (a one-shot report such as ``agentmux cost``); later :meth:`collect` calls use them."""
        groups: dict[Path, list[SessionRecord]] = {}
        for record in records:
            if record.id in self._readers or not record.agent_session_id:
                continue
            if set(self._conversations.of(record.id)) - {record.agent_session_id}:
                continue  # read with every conversation it had (below), not in bulk by one id
            environ = {**self.environ, **(self.env_of(record) if self.env_of else {})}
            if record.agent_kind == "claude":
                groups.setdefault(claude_config_dir(environ), []).append(record)
            elif record.agent_kind == "demo":
                groups.setdefault(demo_transcript_root(), []).append(record)
        for root, members in groups.items():
            found = read_sessions([r.agent_session_id for r in members], root)
            for record in members:
                self._readers[record.id] = _Preloaded(
                    found[record.agent_session_id], record.agent_session_id
                )
                self._where[record.id] = str(root)

    def _reader(self, record: SessionRecord) -> _Reader | None:
        reader = self._readers.get(record.id)
        if reader is not None:
            return reader
        kind = record.agent_kind
        environ = {**self.environ, **(self.env_of(record) if self.env_of else {})}
        conversations = self._conversations.of(record.id)
        if kind in ("claude", "demo") and record.agent_session_id:
            root = claude_config_dir(environ) if kind == "claude" else demo_transcript_root()
            ids = [record.agent_session_id, *conversations]
            reader = ClaudeConversationReader(ids, root)
            self._where[record.id] = str(root)
        elif kind == "codex":
            # Since its creation, not its (latest) start: a resumed Codex goes on in a rollout
            # that began in an earlier run.
            started = datetime.fromtimestamp(record.created_at - 5, tz=UTC)
            home = codex_home(environ)
            reader = CodexConversationReader(
                cwd=Path(record.worktree),
                started_after=started,
                home=home,
                thread_ids=conversations,
            )
            self._where[record.id] = str(home)
        else:
            return None
        self._readers[record.id] = reader
        return reader

    def _follow(self, session_id: str) -> None:
        """A session's agent went on in another conversation: read that one too."""
        reader = self._readers.get(session_id)
        conversations = self._conversations.of(session_id)
        if isinstance(reader, ClaudeConversationReader):
            for conversation in conversations:
                reader.add_session(conversation)
        elif isinstance(reader, CodexConversationReader):
            for conversation in conversations:
                reader.add_thread(conversation)
        elif isinstance(reader, _Preloaded) and set(conversations) - {reader.conversation}:
            del self._readers[session_id]  # read in bulk by one id: read again with all of them

    def usage(self, record: SessionRecord) -> UsageSnapshot | None:
        """What the session's transcript says so far (read only where it grew); None when no
        transcript was found (yet) or its agent writes none: unknown."""
        reader = self._reader(record)
        if reader is None:
            return None
        reader.update()
        snap = reader.snapshot()
        # No record read at all means the transcript was not found (yet): unknown.
        return snap if (snap.first is not None or snap.turns) else None

    def collect(
        self,
        records: list[SessionRecord],
        budgets: dict[str, Decimal | None] | None = None,
        now: float | None = None,
    ) -> list[SessionMetrics]:
        """Metrics for each record, reading only what was appended since the last call (waiting
        on you and held prompts from the events given to :meth:`feed_events`)."""
        now = now or time.time()
        found: list[SessionMetrics] = []
        for record in records:
            usage = self.usage(record)
            notes: list[str] = []
            if self._reader(record) is None:
                notes.append(
                    f"agent kind {record.agent_kind!r} writes no transcript agentmux reads"
                )
            cost = cost_of_samples(usage.samples) if usage is not None else None
            tracker = self._activity.setdefault(record.id, ActivityTracker())
            tracker.note_interrupts(interruptions(usage))
            self._turn_state.note_interrupts(record.id, interruptions(usage))
            earlier = self._runs.get(record.id, RunHistory([])).runs
            exit_failure = _exit_failure(record)
            found.append(
                SessionMetrics(
                    record=record,
                    usage=usage,
                    cost=cost,
                    queue_wait=queue_wait(record, now, self._held.get(record.id), earlier),
                    exit_failure=exit_failure,
                    wall_seconds=wall_seconds(record, now, earlier),
                    budget_usd=(budgets or {}).get(record.id),
                    activity=tracker.snapshot(now),
                    transcript=self._where.get(record.id),
                    notes=tuple(notes),
                    earlier_failures=tuple(f for run in earlier if (f := run.failure)),
                    resumes=len(earlier),
                    crashed_turns=self._crashed_turns(record, earlier, exit_failure),
                )
            )
        return found

    def _crashed_turns(
        self, record: SessionRecord, earlier: Sequence[Run], current: Failure | None
    ) -> int | None:
        """Process failures (the earlier runs', the current one's) that count as failed turns:
        all but a vanished tmux session (a reboot) while its agent was idle; None when the runs
        and what is known of them do not line up."""
        ended = self._turn_state.ended_in_turn(record.id)
        if len(ended) != len(earlier):
            return None
        runs = [(run.status, busy) for run, busy in zip(earlier, ended, strict=True) if run.failure]
        if current is not None:
            runs.append((str(record.status), self._turn_state.in_turn(record.id)))
        return sum(1 for status, busy in runs if status != Status.LOST or busy is not False)

    def transcript_roots(self, records: Sequence[SessionRecord] = ()) -> list[Path]:
        """Where the agents write transcripts: the demo root, Claude Code's projects and Codex's
        sessions, for this environment and each record's own profile environment."""
        environs = [self.environ] + [
            {**self.environ, **self.env_of(r)} for r in records if self.env_of is not None
        ]
        roots = {demo_transcript_root()}
        for environ in environs:
            roots.add(claude_config_dir(environ) / "projects")
            roots.add(codex_home(environ) / "sessions")
        return sorted(roots)

    def forget(self, session_id: str) -> None:
        """Drop a session's reader."""
        self._readers.pop(session_id, None)
