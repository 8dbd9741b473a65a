"""Token usage and failures as read from agent transcripts: plain values, no I/O.

Token kinds follow the provider's bill: fresh ``input``, ``output`` (reasoning included),
cache writes split by lifetime (5-minute and 1-hour writes are priced differently) and cache
reads. Every count here is disjoint from the others, so ``total`` is a plain sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens of one response, or a sum of them, by how they are billed."""

    input: int = 0
    output: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input + other.input,
            self.output + other.output,
            self.cache_write_5m + other.cache_write_5m,
            self.cache_write_1h + other.cache_write_1h,
            self.cache_read + other.cache_read,
        )

    @property
    def cache_write(self) -> int:
        """Cache writes of either lifetime."""
        return self.cache_write_5m + self.cache_write_1h

    @property
    def total(self) -> int:
        """Every token of every kind."""
        return (
            self.input + self.output + self.cache_write_5m + self.cache_write_1h + self.cache_read
        )

    def to_json(self) -> dict[str, int]:
        """The counts by kind, under stable names."""
        return {
            "input": self.input,
            "output": self.output,
            "cache_write_5m": self.cache_write_5m,
            "cache_write_1h": self.cache_write_1h,
            "cache_read": self.cache_read,
        }


ZERO = TokenUsage()


def sum_usage(items: Iterable[TokenUsage]) -> TokenUsage:
    """The sum of several usages (``ZERO`` for none)."""
    total = ZERO
    for item in items:
        total = total + item
    return total


class UsageByModel(Mapping[str, TokenUsage]):
    """An immutable map from model name to the tokens spent on it."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, TokenUsage] | None = None) -> None:
        self._items: dict[str, TokenUsage] = dict(items or {})

    def __getitem__(self, model: str) -> TokenUsage:
        return self._items[model]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __add__(self, other: Mapping[str, TokenUsage]) -> UsageByModel:
        merged = dict(self._items)
        for model, usage in other.items():
            merged[model] = merged[model] + usage if model in merged else usage
        return UsageByModel(merged)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, UsageByModel):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._items == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"UsageByModel({self._items!r})"

    @property
    def total(self) -> TokenUsage:
        """All models together."""
        return sum_usage(self._items.values())


@dataclass(frozen=True, slots=True)
class UsageSample:
    """One API response's usage at the time it was written (a point of a spend-over-time chart).

    ``speed`` is the provider's pricing variant when the transcript names one that is not the
    standard rate (Claude's fast mode writes ``"fast"``); ``None`` means standard.
    """

    time: datetime
    model: str
    usage: TokenUsage
    speed: str | None = None


class FailureKind(StrEnum):
    """Why a turn failed."""

    API_ERROR = "api_error"  # the provider answered with an error (HTTP status when known)
    USAGE_LIMIT = "usage_limit"  # the plan's usage limit: blocked until a reset time
    RATE_LIMIT = "rate_limit"  # throttled (HTTP 429) without a stated plan limit
    INTERRUPTED = "interrupted"  # the user stopped the turn
    EXIT = "exit"  # the agent process exited non-zero or crashed


@dataclass(frozen=True, slots=True)
class Failure:
    """One failure, with what the agent said about it."""

    time: datetime
    kind: FailureKind
    reason: str
    status: int | None = None
    resets_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (times as ISO 8601)."""
        return {
            "time": self.time.isoformat(),
            "kind": str(self.kind),
            "status": self.status,
            "reason": self.reason,
            "resets_at": self.resets_at.isoformat() if self.resets_at else None,
        }


@dataclass(frozen=True, slots=True)
class UsageSnapshot:
    """What a transcript reader knows about one session so far.

    ``turns`` holds the start time of each turn (a prompt the agent started working on);
    ``failed_turns`` counts turns with at least one failure; ``samples`` holds each counted API
    response once, in the order the reader first saw it. ``malformed_lines`` counts complete
    lines that could not be used (bad JSON); they are skipped, never fatal.

    ``agent_reported`` is what the agent itself last said it spent, where it says so (Claude
    Code 2.1.3xx writes a ``cost-state`` record when a process ends, cumulative over resumes).
    It also counts requests the transcript has no record of (the session-title request, the
    output of a stream cut short), so it can exceed ``by_model``; it is a cross-check, never
    added to it. ``agent_reported_cost`` is the agent's own USD figure (``None`` if it gave
    none or could not price a model).
    """

    by_model: UsageByModel = field(default_factory=UsageByModel)
    turns: tuple[datetime, ...] = ()
    failed_turns: int = 0
    failures: tuple[Failure, ...] = ()
    malformed_lines: int = 0
    first: datetime | None = None
    last: datetime | None = None
    samples: tuple[UsageSample, ...] = ()
    agent_reported: UsageByModel | None = None
    agent_reported_cost: Decimal | None = None

    @property
    def total(self) -> TokenUsage:
        """Tokens of every model together."""
        return self.by_model.total

    @property
    def failure_rate(self) -> float | None:
        """Failed turns / turns, or ``None`` before the first turn."""
        if not self.turns:
            return None
        return self.failed_turns / len(self.turns)
