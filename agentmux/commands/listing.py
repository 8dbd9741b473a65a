"""``agentmux ls``: every session, local and on other hosts, with its status."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from agentmux.commands import remote_verbs
from agentmux.commands.common import exit_text, kick_deliveries, open_manager, out, print_table
from agentmux.core.records import LOCAL_HOST, SessionRecord, Status, iso


def status_text(record: SessionRecord, idle: float | None, position: int | None) -> str:
    """How ``ls`` shows a session's status (``running, quiet 5s``, ``exited (status 0)``)."""
    if record.status is Status.RUNNING:
        return "running" if idle is None else f"running, quiet {_duration(idle)}"
    if record.status is Status.QUEUED:
        return f"queued #{position}" if position else "queued"
    if record.status in (Status.EXITED, Status.STOPPED):
        return f"{record.status} ({exit_text(record.exit_status, record.exit_signal)})"
    return str(record.status)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def cmd_ls(args: argparse.Namespace) -> int:
    """List sessions."""
    manager = open_manager(quiet=True)
    asked = remote_verbs.HostsAsked(manager, args.all)
    manager.reconcile()
    kick_deliveries(manager)
    records = manager.sessions(include_removed=args.all)
    panes = manager.panes_by_session()
    queued = [r.id for r in records if r.status is Status.QUEUED]
    if args.json:
        rows = []
        heads = manager.branch_heads() if records else {}
        for record in records:
            row = record.to_json()
            # A host's answer to another agentmux: its branch moved only when this changed.
            row["branch_head"] = heads.get(record.branch)
            row["idle_seconds"] = manager.idle_seconds(record, panes)
            row["worktree_exists"] = manager.host.worktree_present(Path(record.worktree))
            rows.append(row)
        rows += remote_verbs.remote_rows(manager, asked)
        out.print_json(json.dumps(rows))
        return 0
    remote = remote_verbs.remote_records(manager, asked)
    if not records and not remote:
        out.print("no sessions yet: start one with `agentmux new [PROMPT]`")
        return 0
    from rich.table import Table  # noqa: PLC0415 - rich loads only when a verb prints for a person

    table = Table(box=None, pad_edge=False)
    columns = ["NAME", "AGENT", "STATUS", "BRANCH", "WORKTREE", "TMUX", "CREATED"]
    if remote:
        columns.insert(1, "HOST")
    for column in columns:
        table.add_column(column, no_wrap=column != "WORKTREE")
    for record in [*records, *remote]:
        if record.host != LOCAL_HOST:
            table.add_row(*_remote_cells(record))
            continue
        position = queued.index(record.id) + 1 if record.id in queued else None
        status = status_text(record, manager.idle_seconds(record, panes), position)
        if record.prompt_pending and record.status is Status.RUNNING:
            status += ", prompt pending"
        present = manager.host.worktree_present(Path(record.worktree))
        worktree = record.worktree + ("" if present else " (missing)")
        tmux_ids = " ".join(x for x in (record.tmux_session_id, record.tmux_pane_id) if x) or "-"
        table.add_row(
            record.name,
            *(["local"] if remote else []),
            record.agent,
            status,
            record.branch,
            worktree,
            tmux_ids,
            (iso(record.created_at) or "").replace("T", " ").removesuffix("+00:00"),
        )
    print_table(table)
    return 0


def _remote_cells(record: SessionRecord) -> list[str]:
    status = status_text(record, None, None)
    created = (iso(record.created_at) or "").replace("T", " ").removesuffix("+00:00")
    tmux_ids = " ".join(x for x in (record.tmux_session_id, record.tmux_pane_id) if x) or "-"
    return [
        record.name,
        record.host,
        record.agent,
        status,
        record.branch,
        record.worktree,
        tmux_ids,
        created,
    ]
