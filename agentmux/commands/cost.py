"""``agentmux cost`` and ``agentmux budget``: what each session spent, and its spending cap.

The cost report's work is in :mod:`agentmux.commands.cost_report_verb`, imported when the verb
runs: the transcript readers and prices cost every other verb's start-up otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from agentmux.commands.common import add_verb, open_manager, out
from agentmux.core.metrics.budgets import parse_budget


def cmd_cost(args: argparse.Namespace) -> int:
    """Print the cost table (or JSON, or CSV)."""
    from agentmux.commands.cost_report_verb import run  # noqa: PLC0415 - see the docstring

    return run(args)


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
    cost = add_verb(verbs, "cost", cmd_cost, text)
    fmt = cost.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="machine-readable output")
    fmt.add_argument("--csv", action="store_true", help="one row per session, as CSV")
    cost.add_argument("--since", metavar="T", help="sessions created since T (2026-11-21, 2h, 7d)")
    text = "set or raise a session's spending cap in USD (80%: warning, 100%: stopped)"
    budget = add_verb(verbs, "budget", cmd_budget, text)
    budget.add_argument("name")
    budget.set_defaults(forward_remote=True)  # a session on another host: its host keeps it
    budget.add_argument("usd", metavar="USD")
