"""``agentmux conflicts``, its work: the radar's matrix, details, JSON and statistics (imported
only when the verb runs: :mod:`agentmux.commands.conflicts` registers it)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table
from rich.text import Text

from agentmux.commands.common import err, open_manager, out, print_table
from agentmux.core.errors import AgentmuxError
from agentmux.core.git.conflict_history import ConflictHistory
from agentmux.core.git.conflicts import ConflictRadar, ConflictReport, PairReport, Verdict
from agentmux.core.metrics.conflict_stats import (
    COLUMNS,
    conflict_stats,
    session_cells,
    summary_lines,
)
from agentmux.core.sessions.manager import SessionManager

EXIT_CONFLICT = 1
SCHEMA_VERSION = 1
_CELL = {
    Verdict.CLEAN: Text("·", "green"),
    Verdict.OVERLAP: Text("overlap", "yellow"),
    Verdict.CONFLICT: Text("CONFLICT", "bold red"),
    Verdict.UNKNOWN: Text("?", "dim"),
}


def report_json(radar: ConflictRadar, report: ConflictReport) -> dict[str, Any]:
    """The documented JSON form of a report (docs/conflicts.md)."""

    def pair(p: PairReport) -> dict[str, Any]:
        return p.to_json(radar.hunks(p) if p.verdict is Verdict.CONFLICT else None)

    return {
        "schema": SCHEMA_VERSION,
        "conflict": report.has_conflict,
        "sessions": [
            {
                "name": s.name,
                "id": s.session_id,
                "base": s.base,
                "snapshot": s.snapshot,
                "changed_files": s.changed,
                "unavailable": s.unavailable,
            }
            for s in report.sessions
        ],
        "pairs": [pair(p) for p in report.pairs],
        "against_base": [pair(p) for p in report.against_base],
    }


def _matrix(report: ConflictReport) -> Table:
    names = [s.name for s in report.sessions]
    table = Table(title="conflict matrix", title_justify="left")
    table.add_column("")
    for name in names:
        table.add_column(name, justify="center")
    table.add_column("base", justify="center")
    for row in names:
        cells: list[Text | str] = []
        for col in names:
            found = report.pair(row, col) if row != col else None
            cells.append(_CELL[found.verdict] if found else "")
        base = next(p for p in report.against_base if p.a == row)
        cells.append(_CELL[base.verdict])
        table.add_row(row, *cells)
    return table


def _details(report: ConflictReport) -> list[Text | str]:
    lines: list[Text | str] = []
    for p in (*report.pairs, *report.against_base):
        if p.verdict is Verdict.CONFLICT:
            lines.append(Text.assemble((f"{p.a} × {p.b}", "bold red"), ": conflict"))
            lines += [f"  {c.path} ({c.kind})" for c in p.conflicts]
            lines += [f"  {path} (overlap, merges cleanly)" for path in p.overlaps]
        elif p.verdict is Verdict.OVERLAP:
            lines.append(Text.assemble((f"{p.a} × {p.b}", "yellow"), ": overlap, merges cleanly"))
            lines += [f"  {path}" for path in p.overlaps]
        elif p.verdict is Verdict.UNKNOWN:
            lines.append(Text.assemble((f"{p.a} × {p.b}", "dim"), f": unknown ({p.reason or ''})"))
    return lines


def _record(manager: SessionManager, report: ConflictReport) -> None:
    """Add the scan to the conflict history; a failure there is said, the check still stands."""
    try:
        ConflictHistory(manager.store).record(report)
    except AgentmuxError as exc:
        err.print(f"agentmux: the conflict history was not updated: {exc.message}")


def _print_stats(manager: SessionManager, as_json: bool) -> None:
    stats = conflict_stats(manager.store)
    if as_json:
        print(json.dumps(stats.to_json(), indent=2))
        return
    for line in summary_lines(stats):
        out.print(line)
    if stats.sessions:
        table = Table(title="collisions per session", title_justify="left")
        for column in COLUMNS:
            table.add_column(column)
        for session in stats.sessions:
            table.add_row(*session_cells(session))
        print_table(table)


def run(args: argparse.Namespace) -> int:
    """Snapshot every session, merge every pair for real, print the matrix; 1 if any conflict.
    With ``--stats``: scan (and record) likewise, then print the conflict rate; 0."""
    manager = open_manager(quiet=True)
    try:
        records = manager.reconcile(drain=False)
        given = manager.remote.exported_work() if manager.remote.rows() else {}
        records += [r for r in manager.remote.records() if r.id in given]
        if not records:
            if args.stats:
                _print_stats(manager, args.json)
            elif args.json:
                empty = {"schema": SCHEMA_VERSION, "conflict": False, "sessions": []}
                print(json.dumps({**empty, "pairs": [], "against_base": []}, indent=2))
            else:
                out.print("No sessions: no conflicts.")
            return 0
        radar = manager.conflict_radar()
        report = radar.scan(records, given=given)
        _record(manager, report)
        if args.stats:
            _print_stats(manager, args.json)
            return 0
        if args.json:
            print(json.dumps(report_json(radar, report), indent=2))
        else:
            print_table(_matrix(report))
            for line in _details(report):
                out.print(line)
            if not report.has_conflict:
                out.print(Text("No conflicts.", "green"))
    finally:
        manager.close()
    return EXIT_CONFLICT if report.has_conflict else 0
