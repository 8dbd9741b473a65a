"""``agentmux cost``, its work: every session's metrics (this machine's and other hosts'), as
a table, JSON or CSV; imported only when the verb runs (:mod:`agentmux.commands.cost`
registers it)."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from agentmux.commands.common import err, open_manager, out, print_table
from agentmux.core.errors import AgentmuxError
from agentmux.core.metrics.collector import SessionMetrics
from agentmux.core.metrics.cost_report import (
    COLUMNS,
    row,
    row_from_json,
    total_row_of_rows,
    totals_of_rows,
)
from agentmux.core.metrics.prices import price_source

SCHEMA_VERSION = 1
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


def collect(
    since: float | None = None,
) -> tuple[list[SessionMetrics], list[str], list[dict[str, Any]]]:
    """Every session's metrics (removed ones too), the names a budget just stopped, and the
    ``cost --json`` rows of sessions on other hosts (their hosts measure them)."""
    manager = open_manager(quiet=True, trust_notice=True)
    try:
        manager.reconcile(drain=False)
        records = manager.sessions(include_removed=True)
        if since is not None:
            records = [r for r in records if r.created_at >= since]
        metrics = manager.metrics(records)
        stopped = manager.enforce_budgets(metrics)
        remote = manager.remote.cost_rows() if manager.remote.rows(True) else []
        if since is not None:
            made = {r.id: r.created_at for r in manager.remote.records(include_removed=True)}
            remote = [r for r in remote if made.get(str(r["id"]), 0.0) >= since]
        for host, problem in sorted(manager.remote.problems.items()):
            err.print(
                f"agentmux: host {host} not reached (its sessions' figures are unknown): {problem}"
            )
        return metrics, stopped, remote
    finally:
        manager.close()


def metrics_json(
    metrics: Sequence[SessionMetrics], remote: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The documented JSON of ``agentmux cost --json`` (docs/metrics.md); sessions on other
    hosts come as their hosts reported them, each with its ``"host"``."""
    rows = [{**m.to_json(), "host": m.record.host} for m in metrics]
    return {
        "schema": SCHEMA_VERSION,
        "generated": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "prices": price_source(),
        "sessions": [*rows, *remote],
        "totals": totals_of_rows([*rows, *remote]),
    }


def run(args: argparse.Namespace) -> int:
    """Print the cost table (or JSON, or CSV)."""
    since = parse_since(args.since) if args.since else None
    metrics, stopped, remote = collect(since)
    for name in stopped:
        err.print(f"{name} reached its budget: interrupted, and no more prompts are sent to it")
    if args.json:
        print(json.dumps(metrics_json(metrics, remote), indent=2))
        return 0
    if args.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow([c.replace(" ", "_").replace("/", "_") for c in COLUMNS])
        for m in metrics:
            writer.writerow(row(m))
        for r in remote:
            writer.writerow(row_from_json(r))
        return 0
    if not metrics and not remote:
        out.print("No sessions yet.")
        return 0
    table = Table(title=f"spend per session (prices: {price_source()})", title_justify="left")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in COLUMNS[:3] else "right")
    for m in metrics:
        table.add_row(*row(m))
    for r in remote:
        table.add_row(*row_from_json(r))
    first, *rest = total_row_of_rows([*(m.to_json() for m in metrics), *remote])
    table.add_row(Text(first, "bold"), *rest)
    print_table(table)
    return 0
