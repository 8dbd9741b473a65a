"""Claude Code's token usage counted as the API bills it: once per response.

Claude Code writes one response as several ``assistant`` lines sharing ``message.id`` (and
``requestId``), the early ones with a placeholder ``output_tokens``; of those the record with the
largest token total is kept, and a non-sidechain record beats a sidechain one whatever its size
(a subagent's replay of its parent's message is not new spend). The choice does not depend on the
order records are read in, so a catch-up in many small steps ends with the same figures as one
cold read.

Claude Code 2.1.3xx also writes a ``cost-state`` record (its own running account, title requests
included); it is kept apart as ``agent_reported``, a cross-check, never added in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from agentmux.core.metrics.claude_response_counts import Counted, Counts, token_count
from agentmux.core.metrics.usage import TokenUsage, UsageByModel, UsageSample

#: A response's identity: (message id, request id), or (file:line, None) for a record without one.
ResponseKey = tuple[str, object]


@dataclass(slots=True)
class _Response:
    """The record currently counted for one API response, and how it ranks."""

    main: bool  # not a sidechain record
    total: int
    stamp: str  # raw timestamp: the earlier record wins a tie
    file_rank: tuple[bool, str]  # then the main file, then the path
    model: str
    counts: Counts
    when: datetime
    speed: str | None
    sample: UsageSample | None = None  # made when a snapshot first needs it

    def loses_to(self, main: bool, total: int, stamp: str, file_rank: tuple[bool, str]) -> bool:
        """Whether a record ranked by these values should be counted instead of this one."""
        if main != self.main:
            return main
        if total != self.total:
            return total > self.total
        if stamp != self.stamp:
            return stamp < self.stamp
        return file_rank < self.file_rank

    def usage_sample(self) -> UsageSample:
        """This response as a point of the spend-over-time chart."""
        if self.sample is None:
            self.sample = UsageSample(self.when, self.model, TokenUsage(*self.counts), self.speed)
        return self.sample


class UsageLedger:
    """The responses of one session, each counted once, their tokens by model, and the agent's
    own account of them (``reported``, ``reported_cost``: None until it writes one)."""

    def __init__(self) -> None:
        self._responses: dict[ResponseKey, _Response] = {}
        self._by_model: dict[str, list[int]] = {}
        self.reported: UsageByModel | None = None
        self.reported_cost: Decimal | None = None

    def count(self, key: ResponseKey, counted: Counted, file_rank: tuple[bool, str]) -> None:
        """Count one response record, unless one already counted for it outranks it."""
        main, model, stamp, when, _, _, counts, speed = counted
        total = counts[0] + counts[1] + counts[2] + counts[3] + counts[4]
        current = self._responses.get(key)
        if current is None:
            self._responses[key] = _Response(
                main, total, stamp, file_rank, model, counts, when, speed
            )
        else:
            if not current.loses_to(main, total, stamp, file_rank):
                return
            self._add(current.model, current.counts, -1)
            current.main = main
            current.total = total
            current.stamp = stamp
            current.file_rank = file_rank
            current.model = model
            current.counts = counts
            current.when = when
            current.speed = speed
            current.sample = None
        self._add(model, counts, 1)

    def _add(self, model: str, counts: Counts, sign: int) -> None:
        totals = self._by_model.get(model)
        if totals is None:
            totals = self._by_model[model] = [0, 0, 0, 0, 0]
        totals[0] += sign * counts[0]
        totals[1] += sign * counts[1]
        totals[2] += sign * counts[2]
        totals[3] += sign * counts[3]
        totals[4] += sign * counts[4]
        if sign < 0 and not any(totals):
            del self._by_model[model]

    def by_model(self) -> UsageByModel:
        """The counted tokens of each model."""
        return UsageByModel(
            {model: TokenUsage(*counts) for model, counts in self._by_model.items()}
        )

    def samples(self) -> tuple[UsageSample, ...]:
        """Every counted response, as points of the spend-over-time chart."""
        return tuple(r.usage_sample() for r in self._responses.values())

    def cost_state(self, record: dict[str, Any]) -> None:
        """Take a ``cost-state`` record as the agent's own account (the latest one wins)."""
        models = record.get("modelUsage")
        if not isinstance(models, dict):
            return
        reported: dict[str, TokenUsage] = {}
        for model, raw in models.items():
            if not isinstance(raw, dict):
                continue
            written = token_count(raw.get("cacheCreationInputTokens"))
            one_hour = min(token_count(raw.get("cacheCreationEphemeral1hInputTokens")), written)
            reported[model] = TokenUsage(
                input=token_count(raw.get("inputTokens")),
                output=token_count(raw.get("outputTokens")),
                cache_write_5m=written - one_hour,
                cache_write_1h=one_hour,
                cache_read=token_count(raw.get("cacheReadInputTokens")),
            )
        self.reported = UsageByModel(reported)
        cost = record.get("totalCostUSD")
        unknown = record.get("hasUnknownModelCost") is True
        self.reported_cost = (
            Decimal(str(cost)) if isinstance(cost, int | float) and not unknown else None
        )
