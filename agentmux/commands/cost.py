"""``agentmux cost``: what each session spent and how well it went; ``agentmux budget``: caps.

Figures agentmux cannot know (no transcript found, a model without a price) print as ``unknown``
and are ``null`` in JSON, never 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.markup import escape
from rich.table import Table

from agentmux.commands.common import err, open_manager, out
from agentmux.core.budgets import level, parse_budget
from agentmux.core.errors import AgentmuxError
from agentmux.core.metrics import MetricsCollector, SessionMetrics
from agentmux.core.prices import price_source

SCHEMA_VERSION = 1
UNKNOWN = "unknown"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now: float | None = None) -> float:
    """``--since``: an ISO 8601 date or time (UTC unless it says), or an age like 2h or 7d."""
    match = _DURATION.match(text.strip())
    if match:
        return (now or time.time()) - float(match.group(1)) * _UNIT[match.group(2)]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AgentmuxError(
            f"--since {text!r} is neither a date (2026-11-21, 2026-11-21T09:00) nor an age "
            "(30m, 2h, 7d)."
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _n(value: int | None) -> str:
    return UNKNOWN if value is None else f"{value:,}"


def _usd(value: Decimal | None) -> str:
    return UNKNOWN if value is None else f"${value:,.4f}"


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f}s"
    if value < 3600:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def collect(
    since: float | None = None,
) -> tuple[list[SessionMetrics], list[str]]:
    """Every session's metrics (removed ones too), and the names a budget just stopped."""
    manager = open_manager(quiet=True)
    try:
        manager.reconcile(drain=False)
        records = manager.sessions(include_removed=True)
        if since is not None:
            records = [r for r in records if r.created_at >= since]
        states = manager.budget_states()
        budgets = {sid: state.usd for sid, state in states.items()}
        metrics = MetricsCollector().collect(records, budgets)
        stopped = manager.enforce_budgets(metrics)
        return metrics, stopped
    finally:
        manager.close()


def totals(metrics: Sequence[SessionMetrics]) -> dict[str, Any]:
    """Sums over sessions; a sum that includes an unknown is unknown."""
    usages = [m.usage for m in metrics]
    costs = [m.cost_usd for m in metrics]
    known_usage = [u for u in usages if u is not None]
    tokens: dict[str, int] | None = None
    if known_usage and len(known_usage) == len(usages):
        tokens = {}
        for u in known_usage:
            for key, value in u.total.to_json().items():
                tokens[key] = tokens.get(key, 0) + value
    cost = sum((c for c in costs if c is not None), Decimal(0))
    turns = [m.turns for m in metrics]
    failed = [m.failed_turns for m in metrics]
    return {
        "sessions": len(metrics),
        "tokens": tokens,
        "cost_usd": (
            format(cost.normalize(), "f") if costs and all(c is not None for c in costs) else None
        ),
        # The sum over the sessions whose cost is known: a lower bound when some are unknown.
        "cost_usd_known": (
            format(cost.normalize(), "f") if any(c is not None for c in costs) else None
        ),
        "turns": sum(t for t in turns if t is not None)
        if all(t is not None for t in turns)
        else None,
        "failed_turns": (
            sum(f for f in failed if f is not None) if all(f is not None for f in failed) else None
        ),
    }


def metrics_json(metrics: Sequence[SessionMetrics]) -> dict[str, Any]:
    """The documented JSON of ``agentmux cost --json`` (docs/metrics.md)."""
    return {
        "schema": SCHEMA_VERSION,
        "generated": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "prices": price_source(),
        "sessions": [m.to_json() for m in metrics],
        "totals": totals(metrics),
    }


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
        _n(u.input if u else None),
        _n(u.output if u else None),
        _n(u.cache_write if u else None),
        _n(u.cache_read if u else None),
        _usd(m.cost_usd) + budget,
        _n(m.turns),
        failures,
        f"{_secs(m.queue_wait.mean)}/{_secs(m.queue_wait.p95)}",
        _secs(m.wall_seconds),
    ]


def _total_cost(total: dict[str, Any]) -> str:
    if total["cost_usd"] is not None:
        return _usd(Decimal(total["cost_usd"]))
    if total["cost_usd_known"] is not None:
        return f"at least {_usd(Decimal(total['cost_usd_known']))} (some unknown)"
    return UNKNOWN


def cmd_cost(args: argparse.Namespace) -> int:
    """Print the cost table (or JSON, or CSV)."""
    since = parse_since(args.since) if args.since else None
    metrics, stopped = collect(since)
    for name in stopped:
        err.print(f"{name} reached its budget: interrupted, and no more prompts are sent to it")
    if args.json:
        print(json.dumps(metrics_json(metrics), indent=2))
        return 0
    if args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow([c.replace(" ", "_").replace("/", "_") for c in COLUMNS])
        for m in metrics:
            writer.writerow(row(m))
        return 0
    if not metrics:
        out.print("No sessions yet.")
        return 0
    table = Table(title=f"spend per session (prices: {price_source()})", title_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in COLUMNS[:3] else "right")
    for m in metrics:
        table.add_row(*(escape(cell) for cell in row(m)))
    total = totals(metrics)
    tokens = total["tokens"]
    table.add_row(
        "[b]total[/b]",
        "",
        "",
        _n(tokens["input"]) if tokens else UNKNOWN,
        _n(tokens["output"]) if tokens else UNKNOWN,
        _n(tokens["cache_write_5m"] + tokens["cache_write_1h"]) if tokens else UNKNOWN,
        _n(tokens["cache_read"]) if tokens else UNKNOWN,
        _total_cost(total),
        _n(total["turns"]),
        _n(total["failed_turns"]),
        "",
        "",
    )
    out.print(table)
    return 0


def cmd_budget(args: argparse.Namespace) -> int:
    """Set or raise a session's budget."""
    usd = parse_budget(args.usd)
    manager = open_manager(quiet=True)
    try:
        record = manager.set_budget(args.name, usd)
    finally:
        manager.close()
    out.print(f"{record.name}: budget ${usd}")
    return 0


def register(verbs: Any) -> None:
    """Add the ``cost`` and ``budget`` verbs."""
    text = "what each session spent (tokens, dollars), turns, failures, queue wait"
    cost = verbs.add_parser("cost", help=text, description=text)
    fmt = cost.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    fmt.add_argument("--csv", action="store_true", help="one row per session, as CSV")
    cost.add_argument("--since", metavar="T", help="sessions created since T (2026-11-21, 2h, 7d)")
    cost.set_defaults(func=cmd_cost)
    text = "set or raise a session's spending cap in USD (80%: warning, 100%: stopped)"
    budget = verbs.add_parser("budget", help=text, description=text)
    budget.add_argument("name")
    budget.add_argument("usd", metavar="USD")
    budget.set_defaults(func=cmd_budget)
