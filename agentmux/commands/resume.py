"""``agentmux resume NAME... | --all``: bring back lost, exited or stopped sessions, each
continuing its own conversation (docs/resume-and-finish.md)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from agentmux.commands.common import add_verb, err, kick_deliveries, open_manager, out
from agentmux.core.errors import AgentmuxError


def cmd_resume(args: argparse.Namespace) -> int:
    """Resume the named sessions (or all that can be); exit 1 if any was refused."""
    from agentmux.core.sessions.resume import (  # noqa: PLC0415 - the transcript readers load for this verb only
        resume_sessions,
    )

    if args.all == bool(args.names):
        raise AgentmuxError("name the sessions to resume, or give --all (not both).")
    manager = open_manager(quiet=True, trust_notice=True)
    try:
        elsewhere = [n for n in args.names if manager.remote.find(n) is not None]
        here = [n for n in args.names if n not in elsewhere]
        outcomes = resume_sessions(manager, None if args.all else here) if args.all or here else []
        kick_deliveries(manager)
        remote = manager.remote.resume(elsewhere, every=args.all)
        if args.json:
            rows = list(remote)
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
        elif not outcomes and not remote:
            out.print("nothing to resume: no session is lost, exited or stopped")
        said: list[tuple[str, str]] = [(str(o.outcome), o.message) for o in outcomes]
        said += [(str(r["outcome"]), f"{r['message']} (on host {r['host']})") for r in remote]
        for kind, message in said:
            if kind == "refused":
                err.print(f"agentmux: {message}")  # with --json too: stdout stays JSON
            elif not args.json:
                out.print(message)
    finally:
        manager.close()
    return 1 if any(kind == "refused" for kind, _ in said) else 0


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
