"""Render the summary table of ``docs/benchmarks.md`` from the benches' records.

Each bench run with ``--record`` writes ``bench/results/<bench>.json`` (``bench/record.py``). This
renders the table "Every figure at a glance" and the list of targets not met from those records
and puts them between the markers ``<!-- bench-summary:start -->`` and
``<!-- bench-summary:end -->`` of the doc, so no figure or verdict in the table is typed by hand.

    .venv/bin/python bench/summary.py          # rewrite the doc's summary from the records
    .venv/bin/python bench/summary.py --check  # exit 1 if the doc differs from the records
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.record import RESULTS, ROOT, Figure, Record, show

DOC = ROOT / "docs" / "benchmarks.md"
START = "<!-- bench-summary:start -->"
END = "<!-- bench-summary:end -->"
#: The benches, in the table's order.
BENCHES = (
    "bench_new_sessions",
    "bench_tui",
    "bench_conflicts",
    "bench_transcripts",
    "bench_soak",
    "remote_panes",
    "bench_remote_tui",
    "bench_remote_fleet",
)


class SummaryError(Exception):
    """A record or the doc cannot be used; the message is one sentence for the user."""


def _where(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def check_figure(fig: Figure) -> str | None:
    """Why ``fig`` is not a figure a bench could have written, or None when it is."""
    if fig.target is None:
        return None if fig.met is None else f"figure {fig.name!r} has a verdict but no target"
    if fig.met is None:
        return f"figure {fig.name!r} has a target but no verdict"
    if fig.met != fig.target.met(fig.value):
        said = "met" if fig.met else "not met"
        return (
            f"figure {fig.name!r} says its target is {said}, but {show(fig.value, fig.unit)}"
            f" against {fig.target.text(fig.unit)} says otherwise"
        )
    return None


def load(path: Path) -> Record:
    """The record in ``path``, checked: a :class:`SummaryError` names what is wrong with it."""
    where = _where(path)
    try:
        record = msgspec.json.decode(path.read_bytes(), type=Record)
    except OSError as exc:
        raise SummaryError(f"cannot read {where}: {exc.strerror or exc}.") from None
    except msgspec.ValidationError as exc:
        raise SummaryError(f"{where} is not a bench record: {exc}.") from None
    except msgspec.DecodeError as exc:
        raise SummaryError(f"{where} is not valid JSON: {exc}.") from None
    if record.bench != path.stem:
        raise SummaryError(f"{where} holds the record of {record.bench!r}, not of {path.stem!r}.")
    if record.bench not in BENCHES:
        raise SummaryError(
            f"{where} is the record of no bench this summary knows ({', '.join(BENCHES)})."
        )
    for fig in record.figures:
        problem = check_figure(fig)
        if problem:
            raise SummaryError(f"{where}: {problem}.")
    return record


def load_all(results: Path) -> dict[str, Record]:
    """Every record in ``results``, by bench."""
    records = (load(path) for path in sorted(results.glob("*.json")))
    return {record.bench: record for record in records}


def shown_command(record: Record) -> str:
    """The bench's command line as the table shows it: its script and options, not the
    interpreter nor ``--record``."""
    words = shlex.split(record.command)
    script = next((n for n, word in enumerate(words) if word.endswith(".py")), 0)
    words = words[script:]
    kept: list[str] = []
    n = 0
    while n < len(words):
        word = words[n]
        n += 1
        if word == "--record":
            # The benches take no positional arguments: a word after ``--record`` is its path.
            if n < len(words) and not words[n].startswith("-"):
                n += 1
        elif not word.startswith("--record="):
            kept.append(word)
    return shlex.join(kept)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def row(*cells: str) -> str:
    """A table row of ``cells``, ``|`` in them escaped."""
    return "|" + "|".join(f" {_cell(cell)} " if cell else " " for cell in cells) + "|"


def result(fig: Figure) -> str:
    """A figure's value, with what it is a ratio of."""
    text = show(fig.value, fig.unit)
    if fig.baseline is not None:
        base = fig.baseline
        text += f" of {base.what}"
        if base.value is not None:
            text += f" ({show(base.value, base.unit)})"
    return text


def target(fig: Figure) -> str:
    """A figure's target and whether the value meets it."""
    if fig.target is None:
        return "no target"
    verdict = "met" if fig.met else "**not met**"
    return f"{fig.target.text(fig.unit)}: {verdict}"


def recorded(record: Record) -> str:
    """When and under what load a record was made."""
    start, end = (f"{load:.1f}" for load in record.load_average[:2])
    return f"{record.date[:10]}, commit {record.commit[:7]}, load {start} -> {end}"


def machine_line(records: dict[str, Record]) -> str:
    """The machine(s) the records come from."""

    def describe(record: Record) -> str:
        m = record.machine
        return (
            f"{m.arch}, {m.cores} cores, {m.memory_gib:g} GiB, {m.system}, Python {m.python},"
            f" git {m.git}, tmux {m.tmux}"
        )

    machines = {describe(record) for record in records.values()}
    if len(machines) == 1:
        return f"Recorded on one machine: {machines.pop()}."
    return "Recorded on: " + "; ".join(
        f"`{bench}`: {describe(record)}" for bench, record in records.items()
    )


def render(records: dict[str, Record]) -> str:
    """The summary: where the figures come from, the table, and the targets not met."""
    lines = [
        "<!-- Generated by bench/summary.py from bench/results/*.json; do not edit by hand:"
        " run a bench with --record, then bench/summary.py. -->",
        "",
    ]
    if records:
        lines += [machine_line(records), ""]
    lines += [
        "| bench (command) | recorded | figure | result | target |",
        "| --- | --- | --- | --- | --- |",
    ]
    missed: list[str] = []
    for bench in BENCHES:
        record = records.get(bench)
        if record is None:
            lines.append(row(f"`bench/{bench}.py`", "not recorded", "", "", ""))
            continue
        first = f"`{shown_command(record)}`"
        when = recorded(record)
        if not record.figures:
            lines.append(row(first, when, "no figures", "", ""))
        for fig in record.figures:
            lines.append(row(first, when, fig.name, result(fig), target(fig)))
            first = when = ""
            if fig.met is False and fig.target is not None:
                missed.append(
                    f"- `{bench}`: {fig.name}: {result(fig)} (target {fig.target.text(fig.unit)})"
                )
    lines.append("")
    if missed:
        lines += ["Targets not met in these records:", "", *missed]
    else:
        lines.append("Targets not met in these records: none.")
    absent = [bench for bench in BENCHES if bench not in records]
    if absent:
        lines += ["", "Not recorded: " + ", ".join(f"`{bench}`" for bench in absent) + "."]
    return "\n".join(lines)


def splice(doc: str, summary: str, where: str = "the doc") -> str:
    """``doc`` with the text between its summary markers replaced by ``summary``."""
    if doc.count(START) != 1 or doc.count(END) != 1 or doc.index(START) > doc.index(END):
        raise SummaryError(f"{where} needs one {START} line followed by one {END} line.")
    head, rest = doc.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{summary}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Rewrite the doc's summary, or with ``--check`` compare it; 1 when it differs, 2 on bad
    input."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the doc is out of date")
    parser.add_argument("--doc", type=Path, default=DOC, help="default: docs/benchmarks.md")
    parser.add_argument("--results", type=Path, default=RESULTS, help="default: bench/results")
    args = parser.parse_args(argv)
    where = _where(args.doc.resolve())
    try:
        try:
            doc = args.doc.read_text(encoding="utf-8")
        except OSError as exc:
            raise SummaryError(f"cannot read {where}: {exc.strerror or exc}.") from None
        wanted = splice(doc, render(load_all(args.results)), where)
    except SummaryError as exc:
        print(f"bench/summary.py: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if wanted != doc:
            print(
                f"{where}'s summary differs from what bench/results/*.json give: run"
                " .venv/bin/python bench/summary.py to regenerate it.",
                file=sys.stderr,
            )
            return 1
        print(f"{where}'s summary matches bench/results/*.json.")
        return 0
    if wanted != doc:
        args.doc.write_text(wanted, encoding="utf-8")
        print(f"{where}: summary rewritten from bench/results/*.json.")
    else:
        print(f"{where}: summary already matches bench/results/*.json.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
