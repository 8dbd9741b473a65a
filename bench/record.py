"""A bench's machine-readable record: ``bench/results/<bench>.json``, written with ``--record``.

A record holds when and where a bench ran (date, machine, load average, commit, the exact command
line), and each headline figure: its value and unit, the baseline it is a ratio against when it is
one, its target and whether the value meets it. ``met`` is always worked out here from the
measured value, never typed; ``bench/summary.py`` checks that again and renders the summary table
of ``docs/benchmarks.md`` from the records.

Imported by the bench scripts as ``record`` (they run with ``bench/`` on ``sys.path``) and by
``bench/summary.py`` and the tests as ``bench.record``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Literal

import msgspec

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"

Op = Literal["<", "<=", ">", ">=", "=="]


class Target(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A bound a figure must keep: ``value <op> bound``."""

    op: Op
    bound: float

    def met(self, value: float) -> bool:
        """Whether ``value`` keeps the bound."""
        return {
            "<": value < self.bound,
            "<=": value <= self.bound,
            ">": value > self.bound,
            ">=": value >= self.bound,
            "==": value == self.bound,
        }[self.op]

    def text(self, unit: str) -> str:
        """The target as the summary shows it, e.g. ``< 50 ms`` or ``<= 1.2x``."""
        glue = "" if unit == "x" or unit.startswith("%") else " "
        return f"{self.op} {self.bound:g}{glue}{unit}"


class Baseline(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a ratio is measured against, in the same run."""

    what: str
    value: float | None = None
    unit: str = ""


class Figure(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One headline figure of a bench."""

    name: str
    value: float
    unit: str
    baseline: Baseline | None = None
    target: Target | None = None
    met: bool | None = None


class Machine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The machine a record was measured on."""

    arch: str
    cores: int
    memory_gib: float
    system: str
    python: str
    git: str
    tmux: str


class Record(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything one run of a bench recorded."""

    bench: str
    date: str
    command: str
    machine: Machine
    commit: str
    load_average: list[float]
    settings: dict[str, str | int | float | bool | None]
    figures: list[Figure]
    details: dict[str, float] = {}


def round_figure(value: float) -> float:
    """``value`` to four significant digits: more than any bench here can measure."""
    return float(f"{value:.4g}")


def show(value: float, unit: str) -> str:
    """``value`` in ``unit`` as the summary prints it."""
    if unit == "x":
        return f"{value:.2f}x"
    if unit in {"ms", "s"}:
        digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
        return f"{value:.{digits}f} {unit}"
    if unit.startswith("%"):
        return f"{value:.1f}{unit}"
    if value == int(value):
        return f"{int(value)} {unit}".rstrip()
    return f"{value:.3g} {unit}".rstrip()


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    target: Target | None = None,
    baseline: Baseline | None = None,
) -> Figure:
    """A figure whose ``met`` follows from its (rounded) value and its target."""
    value = round_figure(value)
    met = None if target is None else target.met(value)
    return Figure(name=name, value=value, unit=unit, baseline=baseline, target=target, met=met)


def verdict(fig: Figure) -> str:
    """``met``, ``NOT met``, or nothing for a figure without a target, as a bench prints it."""
    if fig.target is None:
        return ""
    return f"target {fig.target.text(fig.unit)}: {'met' if fig.met else 'NOT met'}"


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    words = done.stdout.split()
    return words[-1] if done.returncode == 0 and words else "unknown"


def machine() -> Machine:
    """Facts about this machine that figures depend on."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        memory = 0.0
    return Machine(
        arch=platform.machine(),
        cores=os.cpu_count() or 0,
        memory_gib=round(memory, 1),
        system=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        git=_version(["git", "--version"]),
        tmux=_version(["tmux", "-V"]),
    )


def command_line() -> str:
    """The command that ran this bench, with paths inside the repository made relative to it."""

    def relative(word: str) -> str:
        path = Path(word)
        if path.is_absolute() and path.is_relative_to(ROOT):
            return str(path.relative_to(ROOT))
        return word

    script = Path(sys.argv[0]).resolve()
    interpreter = Path(sys.executable)
    if not interpreter.is_relative_to(ROOT):
        interpreter = Path(interpreter.name)
    words = [relative(str(interpreter)), relative(str(script)), *sys.argv[1:]]
    return shlex.join(words)


def commit() -> str:
    """The commit this checkout is at, with ``-dirty`` when tracked files differ from it."""
    head = _version(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", "agentmux"],
        capture_output=True,
        check=False,
    )
    return head + ("-dirty" if dirty.returncode == 1 else "")


def add_option(parser: argparse.ArgumentParser, bench: str) -> None:
    """Add ``--record [PATH]``: also write the figures to ``PATH`` (default: the bench's record)."""
    parser.add_argument(
        "--record",
        nargs="?",
        const=RESULTS / f"{bench}.json",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"also write the figures as JSON to PATH (default: bench/results/{bench}.json)",
    )


class Recorder:
    """Collects a run's facts from its start, and its figures as the bench works them out."""

    def __init__(self, bench: str, args: argparse.Namespace) -> None:
        self.bench = bench
        self.date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.command = command_line()
        self.commit = commit()
        self.load_start = os.getloadavg()[0]
        self.settings = {
            key: value if isinstance(value, str | int | float | bool | None) else str(value)
            for key, value in sorted(vars(args).items())
            if key != "record"
        }
        self.figures: list[Figure] = []
        self.details: dict[str, float] = {}

    def add(self, fig: Figure) -> Figure:
        """Keep ``fig`` and return it."""
        self.figures.append(fig)
        return fig

    def detail(self, name: str, value: float) -> None:
        """Keep a number behind the headline figures (shown in the doc's sections, not its
        table)."""
        self.details[name] = round_figure(value)

    def record(self) -> Record:
        """The record of this run so far."""
        return Record(
            bench=self.bench,
            date=self.date,
            command=self.command,
            machine=machine(),
            commit=self.commit,
            load_average=[round(self.load_start, 2), round(os.getloadavg()[0], 2)],
            settings=self.settings,
            figures=self.figures,
            details=self.details,
        )

    def write(self, path: Path) -> None:
        """Write the record to ``path`` as indented JSON and say so."""
        path.parent.mkdir(parents=True, exist_ok=True)
        data = msgspec.json.format(msgspec.json.encode(self.record()), indent=2)
        path.write_bytes(data + b"\n")
        print(f"record written: {path}")
