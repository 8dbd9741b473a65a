"""Spending caps per session: warn at 80%, stop prompting and interrupt the agent at 100%.

A session's budget is the latest ``budget`` event in the state store (set by ``new --budget``, by
``agentmux budget``, or by the config's ``budget_usd`` default at creation). Reaching it records a
``budget_reached`` event: from then on agentmux sends the session no prompt until the budget is
raised.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from agentmux.core.errors import AgentmuxError

WARN_AT = 0.8


def parse_budget(text: str) -> Decimal:
    """A budget in USD from ``"5"``, ``"2.50"`` or ``"$3"``; a one-sentence error otherwise."""
    try:
        value = Decimal(text.strip().removeprefix("$"))
    except InvalidOperation:
        message = f"budget {text!r} is not an amount of dollars (e.g. 5 or 2.50)."
        raise AgentmuxError(message) from None
    if not value.is_finite() or value <= 0:
        raise AgentmuxError(f"budget {text!r} must be a positive amount of dollars.")
    return value


@dataclass(frozen=True)
class BudgetState:
    """A session's budget and whether it has been reached (and prompts stopped)."""

    usd: Decimal | None
    reached: bool


def budget_states(events: list[dict[str, Any]]) -> dict[str, BudgetState]:
    """Each session's budget from its events (oldest first): the latest setting wins, and
    setting a budget again clears a reached one."""
    states: dict[str, BudgetState] = {}
    for event in events:
        sid = event["session_id"]
        if event["kind"] == "budget":
            states[sid] = BudgetState(Decimal(event["data"]["usd"]), reached=False)
        elif event["kind"] == "budget_reached" and sid in states:
            states[sid] = BudgetState(states[sid].usd, reached=True)
    return states


def level(used: float | None) -> str | None:
    """``"warn"`` at 80% of the budget, ``"reached"`` at 100%, else None."""
    if used is None:
        return None
    if used >= 1.0:
        return "reached"
    if used >= WARN_AT:
        return "warn"
    return None
