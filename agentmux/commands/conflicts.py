"""``agentmux conflicts``: which sessions collide, with each other or with their base branch.

Exit status: 0 when nothing conflicts, 1 when something does, 2 when the check itself failed.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table
from rich.text import Text

from agentmux.commands.common import add_verb, open_manager, out, print_table
from agentmux.core.conflicts import ConflictRadar, ConflictReport, PairReport, Verdict

EXIT_CONFLICT = 1
EXIT_ERROR = 2
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


def cmd_conflicts(args: argparse.Namespace) -> int:
    """Snapshot every session, merge every pair for real, print the matrix; 1 if any conflict."""
    manager = open_manager(quiet=True)
    try:
        records = manager.reconcile(drain=False)
        if not records:
            if args.json:
                empty = {"schema": SCHEMA_VERSION, "conflict": False, "sessions": []}
                print(json.dumps({**empty, "pairs": [], "against_base": []}, indent=2))
            else:
                out.print("No sessions: no conflicts.")
            return 0
        radar = manager.conflict_radar()
        report = radar.scan(records)
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


def register(verbs: Any) -> None:
    """Add the ``conflicts`` verb to the CLI's sub-parsers."""
    text = "show which sessions conflict with each other or their base (exit 1 on conflict)"
    sub = add_verb(verbs, "conflicts", cmd_conflicts, text)
    sub.add_argument("--json", action="store_true", help="machine-readable output")
    sub.set_defaults(error_exit=EXIT_ERROR)
