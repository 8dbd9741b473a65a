"""The cost report as text: table columns, cells and totals, shared by `agentmux cost` and the TUI.

Unknown figures are the word ``unknown``, never 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from agentmux.core.metrics.budgets import level
from agentmux.core.metrics.collector import SessionMetrics

UNKNOWN = "unknown"


def count_text(value: int | None) -> str:
    """A count with thousands separators, or unknown."""
    return UNKNOWN if value is None else f"{value:,}"


def usd_text(value: Decimal | None) -> str:
    """Dollars to 4 decimals, or unknown."""
    return UNKNOWN if value is None else f"${value:,.4f}"


def seconds_text(value: float | None) -> str:
    """A duration in s, m or h; ``-`` when there is none."""
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    if value < 3600:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def totals(metrics: Sequence[SessionMetrics]) -> dict[str, Any]:
    """Sums over sessions; a sum that includes an unknown is unknown."""
    return totals_of_rows([m.to_json() for m in metrics])


COLUMNS = (
    "session",
    "agent",
    "models",
    "input",
    "output",
    "cache write",
    "cache read",
    "cost",
    "turns",
    "failures",
    "queue wait mean/p95",
    "waiting on you",
    "wall",
)


def row(m: SessionMetrics) -> list[str]:
    """One session's table row, as text."""
    u = m.usage.total if m.usage else None
    rate = m.failure_rate
    failures = (
        UNKNOWN
        if m.failed_turns is None
        else f"{m.failed_turns} ({rate:.0%})"
        if rate is not None
        else str(m.failed_turns)
    )
    budget = ""
    if m.budget_usd is not None:
        mark = {"warn": " ⚠", "reached": " ⛔"}.get(level(m.budget_used) or "", "")
        budget = f" / ${m.budget_usd}{mark}"
    return [
        m.record.name,
        m.record.agent,
        ", ".join(sorted(m.usage.by_model)) if m.usage and m.usage.by_model else "-",
        count_text(u.input if u else None),
        count_text(u.output if u else None),
        count_text(u.cache_write if u else None),
        count_text(u.cache_read if u else None),
        usd_text(m.cost_usd) + budget,
        count_text(m.turns),
        failures,
        f"{seconds_text(m.queue_wait.mean)}/{seconds_text(m.queue_wait.p95)}",
        waiting_text(m),
        seconds_text(m.wall_seconds),
    ]


def waiting_text(m: SessionMetrics) -> str:
    """Time waiting for you in all, and ``(now Ns)`` while it waits; unknown without events."""
    act = m.activity
    if not act.known:
        return UNKNOWN
    total = seconds_text(act.waiting_total or 0.0)
    return f"{total} (now {seconds_text(act.waiting_current)})" if act.waiting else total


def total_cost_text(total: dict[str, Any]) -> str:
    """The total cost, a lower bound when some sessions are unknown, or unknown."""
    if total["cost_usd"] is not None:
        return usd_text(Decimal(total["cost_usd"]))
    if total["cost_usd_known"] is not None:
        return f"at least {usd_text(Decimal(total['cost_usd_known']))} (some unknown)"
    return UNKNOWN


def total_row(metrics: Sequence[SessionMetrics]) -> list[str]:
    """The total row of the cost table, as `agentmux cost` prints it."""
    return total_row_of_rows([m.to_json() for m in metrics])


# --- from ``cost --json`` rows (a session on another host comes as its host reported it) ----


def _dec(text: object) -> Decimal | None:
    return None if text is None else Decimal(str(text))


def totals_of_rows(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Sums over ``cost --json`` session rows (this machine's and other hosts'); a sum that
    includes an unknown is unknown."""
    tokens: dict[str, int] | None = None
    if rows and all(r.get("tokens") is not None for r in rows):
        tokens = {}
        for r in rows:
            for key, value in r["tokens"].items():
                tokens[key] = tokens.get(key, 0) + int(value)
    costs = [_dec(r.get("cost_usd")) for r in rows]
    cost = sum((c for c in costs if c is not None), Decimal(0))
    turns = [r.get("turns") for r in rows]
    failed = [r.get("failed_turns") for r in rows]
    return {
        "sessions": len(rows),
        "tokens": tokens,
        "cost_usd": (
            format(cost.normalize(), "f") if costs and all(c is not None for c in costs) else None
        ),
        "cost_usd_known": (
            format(cost.normalize(), "f") if any(c is not None for c in costs) else None
        ),
        "turns": sum(int(t) for t in turns if t is not None)
        if all(t is not None for t in turns)
        else None,
        "failed_turns": (
            sum(int(f) for f in failed if f is not None)
            if all(f is not None for f in failed)
            else None
        ),
    }


def row_from_json(r: dict[str, Any]) -> list[str]:
    """A session's table row from its ``cost --json`` row (a session on another host)."""
    tokens = r.get("tokens")
    failed, rate = r.get("failed_turns"), r.get("failure_rate")
    failures = (
        UNKNOWN if failed is None else f"{failed} ({rate:.0%})" if rate is not None else str(failed)
    )
    budget = f" / ${r['budget_usd']}" if r.get("budget_usd") is not None else ""
    wait = r.get("queue_wait_seconds") or {}
    waiting = r.get("waiting_on_you_seconds")
    if waiting is None:
        waiting_cell = UNKNOWN
    else:
        waiting_cell = seconds_text(waiting.get("total") or 0.0)
        if waiting.get("current"):
            waiting_cell += f" (now {seconds_text(waiting['current'])})"
    return [
        f"{r['name']} @{r['host']}",
        str(r.get("agent") or "-"),
        ", ".join(r.get("models") or []) or "-",
        count_text(tokens["input"] if tokens else None),
        count_text(tokens["output"] if tokens else None),
        count_text(tokens["cache_write_5m"] + tokens["cache_write_1h"] if tokens else None),
        count_text(tokens["cache_read"] if tokens else None),
        usd_text(_dec(r.get("cost_usd"))) + budget,
        count_text(r.get("turns")),
        failures,
        f"{seconds_text(wait.get('mean'))}/{seconds_text(wait.get('p95'))}",
        waiting_cell,
        seconds_text(r.get("wall_seconds")),
    ]


def total_row_of_rows(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The total row of the cost table over ``cost --json`` rows."""
    total = totals_of_rows(rows)
    tokens = total["tokens"]
    return [
        "total",
        "",
        "",
        count_text(tokens["input"]) if tokens else UNKNOWN,
        count_text(tokens["output"]) if tokens else UNKNOWN,
        count_text(tokens["cache_write_5m"] + tokens["cache_write_1h"]) if tokens else UNKNOWN,
        count_text(tokens["cache_read"]) if tokens else UNKNOWN,
        total_cost_text(total),
        count_text(total["turns"]),
        count_text(total["failed_turns"]),
        "",
        "",
        "",
    ]
