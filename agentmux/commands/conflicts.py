"""``agentmux conflicts``: which sessions collide, with each other or with their base branch.

Exit status: 0 when nothing conflicts, 1 when something does, 2 when the check itself failed.
The work is in :mod:`agentmux.commands.conflicts_report`, imported when the verb runs: the radar
and the conflict statistics cost every other verb's start-up otherwise.
"""

from __future__ import annotations

import argparse
from typing import Any

from agentmux.commands.common import add_verb

EXIT_ERROR = 2


def cmd_conflicts(args: argparse.Namespace) -> int:
    """Snapshot every session, merge every pair for real, print the matrix; 1 if any conflict.
    With ``--stats``: scan (and record) likewise, then print the conflict rate; 0."""
    from agentmux.commands.conflicts_report import run  # noqa: PLC0415 - see the docstring

    return run(args)


def register(verbs: Any) -> None:
    """Add the ``conflicts`` verb to the CLI's sub-parsers."""
    text = "show which sessions conflict with each other or their base (exit 1 on conflict)"
    sub = add_verb(verbs, "conflicts", cmd_conflicts, text)
    sub.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_argument(
        "--stats",
        action="store_true",
        help="the conflict rate over the recorded history: pairs that conflicted, at any time and "
        "at merge time, each session's collisions, merges that left sessions out",
    )
    sub.set_defaults(error_exit=EXIT_ERROR)
