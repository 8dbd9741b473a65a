"""The summary table of docs/benchmarks.md is what the benches' own records give.

No bench runs here: the committed records in bench/results/ are what the benches wrote with
``--record``, and these tests check the doc against them and how records are read and rendered.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from bench import summary
from bench.record import RESULTS, Baseline, Figure, Record, Recorder, Target, figure

SCRIPT = Path(summary.__file__)


def written(results: Path, record: Record) -> Path:
    """``record`` written to ``results`` as a bench writes it."""
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{record.bench}.json"
    path.write_bytes(msgspec.json.format(msgspec.json.encode(record), indent=2))
    return path


def a_record(tmp_path: Path, bench: str, *figures: Figure) -> Record:
    """A record made by the same code as the benches', with ``figures``."""
    recorder = Recorder(bench, argparse.Namespace(rounds=5, record=tmp_path / "unused.json"))
    for fig in figures:
        recorder.add(fig)
    return recorder.record()


def a_doc(tmp_path: Path) -> Path:
    doc = tmp_path / "benchmarks.md"
    doc.write_text(
        f"# Benchmarks\n\n## Every figure at a glance\n\n{summary.START}\nold\n{summary.END}\n\n"
        "## How\n\nText below the table stays.\n"
    )
    return doc


def test_the_docs_table_is_what_the_committed_records_give() -> None:
    records = summary.load_all(RESULTS)
    assert records, "bench/results/ holds no records"
    doc = summary.DOC.read_text(encoding="utf-8")
    assert summary.splice(doc, summary.render(records)) == doc, (
        "docs/benchmarks.md's summary differs from bench/results/*.json:"
        " run .venv/bin/python bench/summary.py"
    )
    # Every figure in the table is one a record holds, shown as the record has it.
    for record in records.values():
        for fig in record.figures:
            assert f"| {summary._cell(summary.result(fig))} |" in doc


def test_a_figure_that_misses_its_target_renders_as_not_met(tmp_path: Path) -> None:
    base = Baseline("9 x `git worktree add`", 2.2, "s")
    missed = figure("9 separate new", 2.153, "x", baseline=base, target=Target("<", 1.5))
    kept = figure("new --count 9", 1.149, "x", baseline=base, target=Target("<", 1.5))
    assert missed.met is False
    assert kept.met is True
    written(tmp_path / "results", a_record(tmp_path, "bench_new_sessions", missed, kept))

    text = summary.render(summary.load_all(tmp_path / "results"))

    rows = [line for line in text.splitlines() if line.startswith("| ")]
    (miss_row,) = [row for row in rows if "9 separate new" in row]
    (kept_row,) = [row for row in rows if "new --count 9" in row]
    assert miss_row.endswith("| 2.15x of 9 x `git worktree add` (2.20 s) | < 1.5x: **not met** |")
    assert kept_row.endswith("| < 1.5x: met |")
    assert "- `bench_new_sessions`: 9 separate new: 2.15x" in text
    assert "new --count 9: 1.15x" not in text.split("Targets not met")[1]
    # Benches with no record are said to be so, with no figure.
    assert "| `bench/bench_soak.py` | not recorded | | | |" in rows


def test_a_recorders_record_round_trips_through_the_summary(tmp_path: Path) -> None:
    fig = figure("latency p95", 35.64, "ms", target=Target("<", 50))
    path = tmp_path / "results" / "bench_tui.json"
    recorder = Recorder("bench_tui", argparse.Namespace(seconds=10.0, record=path))
    recorder.add(fig)
    recorder.detail("lines", 5518)
    recorder.write(path)

    record = summary.load(path)

    assert record.figures == [fig]
    assert record.settings == {"seconds": 10.0}
    assert record.details == {"lines": 5518.0}
    assert record.machine.cores >= 1
    assert record.command.endswith(shlex.join(sys.argv[1:]))  # the command that ran this


def test_check_fails_with_one_sentence_when_the_doc_drifts_then_passes_once_rewritten(
    tmp_path: Path,
) -> None:
    fig = figure("9 separate new", 2.153, "x", target=Target("<", 1.5))
    written(tmp_path / "results", a_record(tmp_path, "bench_new_sessions", fig))
    doc = a_doc(tmp_path)
    command = [
        sys.executable,
        str(SCRIPT),
        "--doc",
        str(doc),
        "--results",
        str(tmp_path / "results"),
    ]

    drifted = subprocess.run([*command, "--check"], capture_output=True, text=True, check=False)
    assert drifted.returncode == 1
    assert drifted.stderr.count("\n") == 1
    assert "differs from what bench/results/*.json give" in drifted.stderr

    subprocess.run(command, capture_output=True, check=True)
    text = doc.read_text()
    assert "2.15x" in text
    assert text.endswith("## How\n\nText below the table stays.\n")
    fixed = subprocess.run([*command, "--check"], capture_output=True, text=True, check=False)
    assert fixed.returncode == 0, fixed.stderr


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "is not valid JSON"),
        (b'{"bench": "bench_tui"}', "is not a bench record: Object missing required field"),
        (b"", "is not valid JSON"),
    ],
)
def test_a_malformed_record_gives_one_clear_sentence(
    tmp_path: Path, content: bytes, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "bench_tui.json").write_bytes(content)

    code = summary.main(["--check", "--doc", str(a_doc(tmp_path)), "--results", str(results)])

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert says in err
    assert "bench_tui.json" in err
    assert "Traceback" not in err


def test_a_verdict_typed_by_hand_is_refused(tmp_path: Path) -> None:
    honest = figure("latency p95", 52.2, "ms", target=Target("<", 50))
    typed = msgspec.structs.replace(honest, met=True)
    written(tmp_path / "results", a_record(tmp_path, "bench_tui", typed))

    with pytest.raises(summary.SummaryError) as caught:
        summary.load_all(tmp_path / "results")

    assert str(caught.value).endswith(
        "/results/bench_tui.json: figure 'latency p95' says its target is met,"
        " but 52.2 ms against < 50 ms says otherwise."
    )


def test_a_record_under_another_benchs_name_is_refused(tmp_path: Path) -> None:
    path = written(tmp_path / "results", a_record(tmp_path, "bench_tui"))
    path.rename(path.with_name("bench_soak.json"))

    with pytest.raises(summary.SummaryError, match="holds the record of 'bench_tui'"):
        summary.load_all(tmp_path / "results")


def test_a_doc_without_its_markers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(summary.SummaryError, match="needs one <!-- bench-summary:start -->"):
        summary.splice("# Benchmarks\n", "table", "docs/benchmarks.md")


def test_the_table_shows_the_benchs_command_without_the_interpreter_or_record(
    tmp_path: Path,
) -> None:
    record = msgspec.structs.replace(
        a_record(tmp_path, "bench_soak"),
        command=".venv/bin/python bench/bench_soak.py --record /tmp/x.json --minutes 5",
    )
    assert summary.shown_command(record) == "bench/bench_soak.py --minutes 5"
    record = msgspec.structs.replace(
        record, command="python bench/bench_soak.py --minutes 5 --record"
    )
    assert summary.shown_command(record) == "bench/bench_soak.py --minutes 5"
