"""A session's runs: each start of its agent, from being asked for to ending.

A session's record describes its current run only (``queued``, ``started``, ``ended``, exit
status). When ``agentmux resume`` brings it back, the run before is kept in the ``resumed`` event
(:func:`resumed_data`), so the figures that span runs carry on across resumes: queue wait has a
sample per start, wall time is the sum of the runs' times, and a run that ended in failure (lost,
killed, non-zero exit) stays a failure after the resume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agentmux.core.metrics.usage import Failure, FailureKind
from agentmux.core.records import SessionRecord, Status

#: The event a resume records: where from, how, which conversation, and the run it follows.
RESUMED = "resumed"


@dataclass(frozen=True)
class Run:
    """One run of a session's agent, as it ended (or as it goes on, for the current one)."""

    status: str
    asked_at: float  # creation, queueing or the resume that asked for this run
    started_at: float | None
    ended_at: float | None
    exit_status: int | None = None
    exit_signal: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The form kept in a ``resumed`` event."""
        return {
            "status": self.status,
            "asked_at": self.asked_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "exit_status": self.exit_status,
            "exit_signal": self.exit_signal,
        }

    @property
    def queue_wait(self) -> float | None:
        """From being asked for to starting; None for a run that never started."""
        if self.started_at is None:
            return None
        return max(0.0, self.started_at - self.asked_at)

    def wall(self, now: float) -> float | None:
        """From starting to ending (or ``now``); None for a run that never started."""
        if self.started_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else now
        return max(0.0, end - self.started_at)

    @property
    def failure(self) -> Failure | None:
        """How the run failed, if it did: lost, killed by a signal, or a non-zero exit."""
        return exit_failure(
            self.status, self.ended_at or self.asked_at, self.exit_status, self.exit_signal
        )


def exit_failure(
    status: str, ended_at: float, exit_status: int | None, exit_signal: int | None
) -> Failure | None:
    """The failure of an agent process that ended so; None when it did not fail."""
    if status not in (Status.EXITED, Status.LOST):
        return None
    when = datetime.fromtimestamp(ended_at, tz=UTC)
    if status == Status.LOST:
        return Failure(when, FailureKind.EXIT, "its tmux session vanished")
    if exit_signal:
        return Failure(when, FailureKind.EXIT, f"the agent was killed by signal {exit_signal}")
    if exit_status not in (0, None):
        return Failure(when, FailureKind.EXIT, f"the agent exited with status {exit_status}")
    return None


def run_of(record: SessionRecord) -> Run:
    """The session's current run, from its record."""
    return Run(
        status=str(record.status),
        asked_at=record.queued_at or record.created_at,
        started_at=record.started_at,
        ended_at=record.ended_at,
        exit_status=record.exit_status,
        exit_signal=record.exit_signal,
    )


def resumed_data(record: SessionRecord, mode: str, conversation_id: str | None) -> dict[str, Any]:
    """The data of the ``resumed`` event for ``record``: the status it comes back from, how
    (``continue`` or ``fresh``), the agent's conversation id, and the run it follows."""
    return {
        "from": str(record.status),
        "mode": mode,
        "conversation_id": conversation_id,
        "previous_run": run_of(record).to_json(),
    }


@dataclass
class RunHistory:
    """The earlier runs of one session, and the conversation its last resume continued."""

    runs: list[Run]
    conversation_id: str | None = None


def feed_resumed(history: dict[str, RunHistory], event: Mapping[str, Any]) -> Run | None:
    """Take in one ``resumed`` event (ignoring what is not as a resume writes it); return the
    run it follows."""
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    entry = history.setdefault(str(event["session_id"]), RunHistory([]))
    previous = data.get("previous_run")
    run = _run(previous) if isinstance(previous, dict) else None
    if run is not None:
        entry.runs.append(run)
    conversation = data.get("conversation_id")
    if data.get("mode") == "continue" and isinstance(conversation, str) and conversation:
        entry.conversation_id = conversation
    return run


def _run(data: Mapping[str, Any]) -> Run | None:
    def number(key: str) -> float | None:
        value = data.get(key)
        return float(value) if isinstance(value, int | float) else None

    def integer(key: str) -> int | None:
        value = data.get(key)
        return value if type(value) is int else None

    asked = number("asked_at")
    if asked is None:
        return None
    return Run(
        status=str(data.get("status")),
        asked_at=asked,
        started_at=number("started_at"),
        ended_at=number("ended_at"),
        exit_status=integer("exit_status"),
        exit_signal=integer("exit_signal"),
    )


def first_start(runs: Sequence[Run], record: SessionRecord) -> float | None:
    """When the session's agent first started, over all its runs."""
    starts = [r.started_at for r in runs if r.started_at is not None]
    if record.started_at is not None:
        starts.append(record.started_at)
    return min(starts) if starts else None
