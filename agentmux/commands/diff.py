"""``agentmux diff``: a session's whole change against its fork point, work in progress included.

Exit status: 0 with a diff (empty or not), 1 when there is none to show (the worktree is missing
or mid-rebase) or the session does not exist.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from agentmux.commands.common import add_verb, open_manager, out
from agentmux.core.errors import AgentmuxError
from agentmux.core.sessions.session_diff import ChangedFile, SessionDiff, patch, session_diff

_MARKS = {"added": "A", "modified": "M", "deleted": "D", "renamed": "R", "type-changed": "T"}


def stat_lines(diff: SessionDiff) -> list[str]:
    """A per-file summary and a total line, like ``git diff --stat`` with the change kind."""
    if not diff.files:
        return [f"no changes in {diff.name} since its fork point {diff.fork_point[:10]}"]
    width = min(60, max(len(_shown_path(f)) for f in diff.files))
    lines = [
        f"{_MARKS[f.change]} {_shown_path(f):<{width}}  {_counts(f)}"
        + ("  (uncommitted)" if f.uncommitted else "")
        for f in diff.files
    ]
    added = sum(f.added or 0 for f in diff.files)
    deleted = sum(f.deleted or 0 for f in diff.files)
    binary = sum(1 for f in diff.files if f.binary)
    uncommitted = sum(1 for f in diff.files if f.uncommitted)
    total = f"{len(diff.files)} file(s) changed, {added} insertion(s)(+), {deleted} deletion(s)(-)"
    total += f", {binary} binary" if binary else ""
    total += f"; {uncommitted} not committed yet" if uncommitted else ""
    return [*lines, total]


def _shown_path(f: ChangedFile) -> str:
    return f"{f.old_path} -> {f.path}" if f.old_path else f.path


def _counts(f: ChangedFile) -> str:
    return "binary" if f.binary else f"+{f.added} -{f.deleted}"


def cmd_diff(args: argparse.Namespace) -> int:
    """Print a session's change: a unified diff, a summary, or JSON."""
    manager = open_manager(quiet=True)
    try:
        diff = session_diff(manager, args.name)
        if diff.unavailable is not None:
            raise AgentmuxError(diff.unavailable)
        if args.json:
            out.print_json(json.dumps(diff.to_json()))
        elif args.stat:
            for line in stat_lines(diff):
                out.print(line)
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(patch(manager, diff))
            sys.stdout.buffer.flush()
        return 0
    finally:
        manager.close()


def register(verbs: Any) -> None:
    """Add the ``diff`` verb."""
    text = (
        "show a session's whole change since it forked from its base: commits, uncommitted and "
        "untracked files (its worktree is not touched)"
    )
    sub = add_verb(verbs, "diff", cmd_diff, text)
    sub.add_argument("name", metavar="NAME")
    sub.set_defaults(forward_remote=True)  # a session on another host: its host runs it
    shape = sub.add_mutually_exclusive_group()
    shape.add_argument("--stat", action="store_true", help="a per-file summary")
    shape.add_argument("--json", action="store_true", help="the changed files as JSON")
