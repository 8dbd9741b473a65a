"""``agentmux resume NAME... | --all``: bring back lost, exited or stopped sessions, each
continuing its own conversation (docs/resume-and-finish.md)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from agentmux.commands.common import add_verb, err, open_manager, out
from agentmux.core.errors import AgentmuxError
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.sessions.resume import resume_sessions


def cmd_resume(args: argparse.Namespace) -> int:
    """Resume the named sessions (or all that can be); exit 1 if any was refused."""
    if args.all == bool(args.names):
        raise AgentmuxError("name the sessions to resume, or give --all (not both).")
    manager = open_manager(quiet=True, trust_notice=True)
    try:
        outcomes = resume_sessions(manager, None if args.all else args.names)
        _kick_ticks(manager)
        if args.json:
            rows = []
            for outcome in outcomes:
                row: dict[str, Any] = {
                    "name": outcome.name,
                    "outcome": outcome.outcome,
                    "message": outcome.message,
                    "mode": outcome.mode,
                    "conversation_id": outcome.conversation_id,
                }
                record = manager.store.session_by_name(outcome.name)
                row["status"] = str(record.status) if record is not None else None
                rows.append(row)
            out.print_json(json.dumps(rows))
        elif not outcomes:
            out.print("nothing to resume: no session is lost, exited or stopped")
        for outcome in outcomes:
            if outcome.outcome == "refused":
                err.print(f"agentmux: {outcome.message}")  # with --json too: stdout stays JSON
            elif not args.json:
                out.print(outcome.message)
    finally:
        manager.close()
    return 1 if any(o.outcome == "refused" for o in outcomes) else 0


def _kick_ticks(manager: SessionManager) -> None:
    """Type what waits for the sessions just started (held prompts, a queued session's first
    prompt) in a detached process, as ``new`` and ``stop`` do: each waits for its agent."""
    if manager.started_by_last_drain:
        subprocess.Popen(
            [sys.executable, "-m", "agentmux", "_tick"],
            cwd=manager.repo.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


def register(verbs: Any) -> None:
    """Add the ``resume`` verb."""
    text = (
        "bring back lost, exited or stopped sessions, each continuing its own conversation "
        "(queued past max_sessions)"
    )
    sub = add_verb(verbs, "resume", cmd_resume, text)
    sub.add_argument("names", nargs="*", metavar="NAME", help="sessions to resume")
    sub.add_argument("--all", action="store_true", help="every lost, exited or stopped session")
    sub.add_argument("--json", action="store_true", help="machine-readable output")
