"""The conflict panel (`c`): the session-by-session matrix, the files of the selected pair, and
the conflicting hunks side by side.

It shows the reports it is given (the app's conflicts view hands it each new one) and reads the
selected pair's hunks itself, in a thread worker, through the reader it is given; the worker only
posts :class:`HunksLoaded` back to this screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from agentmux.core.errors import AgentmuxError
from agentmux.core.git.conflicts import ConflictReport, PairReport, Verdict
from agentmux.core.git.merge_tree import Hunk
from agentmux.ui.messages import CoreFailed

CELL = {
    Verdict.CLEAN: "·",
    Verdict.OVERLAP: "overlap",
    Verdict.CONFLICT: "CONFLICT",
    Verdict.UNKNOWN: "?",
}


#: Reads the conflicting hunks of a pair, per file (git work: call it off the loop); None while
#: there is no radar to read them with.
HunkReader = Callable[[PairReport], dict[str, list[Hunk]] | None]


class HunksLoaded(Message):
    """The conflicting hunks of a pair, per file."""

    def __init__(self, pair: PairReport, hunks: dict[str, list[Hunk]]) -> None:
        super().__init__()
        self.pair = pair
        self.hunks = hunks


def matrix_rows(report: ConflictReport) -> list[tuple[str, list[str]]]:
    """Each session's row of the matrix: one cell per session, then its base branch."""
    names = [s.name for s in report.sessions]
    rows: list[tuple[str, list[str]]] = []
    for row in names:
        cells = []
        for col in names:
            found = report.pair(row, col) if row != col else None
            cells.append(CELL[found.verdict] if found else "")
        base = next((p for p in report.against_base if p.a == row), None)
        cells.append(CELL[base.verdict] if base else "")
        rows.append((row, cells))
    return rows


def opening_cell(report: ConflictReport, focus: str | None) -> Coordinate:
    """Where the matrix cursor starts: on the first conflicting pair, the focused session's if it
    has one (its row, the other side's column); failing that the first overlap; else the first
    pair of two different sessions."""
    names = [s.name for s in report.sessions]
    base_column = len(names) + 1
    ordered = (*report.pairs, *report.against_base)

    def cell(pair: PairReport, row_name: str) -> Coordinate:
        other = pair.b if pair.a == row_name else pair.a
        column = names.index(other) + 1 if other in names else base_column
        return Coordinate(names.index(row_name), column)

    for verdict in (Verdict.CONFLICT, Verdict.OVERLAP):
        if focus in names:
            mine = [p for p in ordered if p.verdict is verdict and focus in (p.a, p.b)]
            if mine:
                return cell(mine[0], focus)
        for pair in ordered:
            if pair.verdict is verdict and pair.a in names:
                return cell(pair, pair.a)
    return Coordinate(0, 2 if len(names) > 1 else base_column)


class ConflictScreen(ModalScreen[None]):
    """Which sessions collide, down to the file and hunk."""

    DEFAULT_CSS = """
    ConflictScreen { align: center middle; }
    ConflictScreen > Vertical {
        width: 95%; height: 90%; border: round $primary; background: $panel; padding: 0 1;
    }
    ConflictScreen #matrix { height: auto; max-height: 12; }
    ConflictScreen #files { height: auto; max-height: 8; }
    ConflictScreen #summary { height: auto; color: $text-muted; }
    ConflictScreen #hunks { height: 1fr; }
    ConflictScreen .side { width: 1fr; padding: 0 1; border: tall $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,c", "close", "Close")]

    def __init__(
        self,
        report: ConflictReport | None,
        focus: str | None = None,
        hunks: HunkReader | None = None,
    ) -> None:
        super().__init__()
        self.report = report
        self._read_hunks = hunks
        self.focus_name = focus
        self.pair: PairReport | None = None
        self.hunks: dict[str, list[Hunk]] = {}
        # The cursor is placed once, on the first report with sessions; later reports keep it.
        self._placed = False

    def compose(self) -> ComposeResult:
        """Matrix, the pair's files, the hunks of the highlighted file."""
        with Vertical():
            yield Static("", id="summary")
            yield DataTable(id="matrix", cursor_type="cell", zebra_stripes=True)
            yield DataTable(id="files", cursor_type="row")
            with Horizontal(id="hunks"):
                yield VerticalScroll(Static("", id="side-a"), classes="side")
                yield VerticalScroll(Static("", id="side-b"), classes="side")
        yield Footer()

    def on_mount(self) -> None:
        """Fill the matrix from the latest report."""
        self.update_report(self.report)

    def update_report(self, report: ConflictReport | None) -> None:
        """A new report arrived: redraw the matrix, keeping the cursor where it was."""
        self.report = report
        summary = self.query_one("#summary", Static)
        table = self.query_one("#matrix", DataTable)
        cursor = table.cursor_coordinate
        table.clear(columns=True)
        if report is None:
            summary.update("Looking for conflicts…")
            return
        if not report.sessions:
            summary.update("No sessions.")
            return
        conflicts = sum(
            p.verdict is Verdict.CONFLICT for p in (*report.pairs, *report.against_base)
        )
        summary.update(
            f"{len(report.sessions)} sessions · {conflicts} conflicting pair(s) · "
            "arrows pick a pair, Tab moves to its files"
        )
        table.add_column("")
        for state in report.sessions:
            table.add_column(state.name)
        table.add_column("base")
        for name, cells in matrix_rows(report):
            styled = [
                Text(c, style="bold red" if c == "CONFLICT" else "yellow" if c == "overlap" else "")
                for c in cells
            ]
            table.add_row(Text(name, style="bold"), *styled, key=name)
        if self._placed and cursor.row < table.row_count and cursor.column < len(table.columns):
            table.cursor_coordinate = cursor
        else:  # first shown, or its session went away: start again on a pair worth seeing
            self._placed = True
            table.cursor_coordinate = opening_cell(report, self.focus_name)
        self._show_pair_at(table.cursor_coordinate)

    def _show_pair_at(self, where: Coordinate) -> None:
        report = self.report
        if report is None or where.row >= len(report.sessions) or where.column == 0:
            return
        row = report.sessions[where.row].name
        if where.column - 1 < len(report.sessions):
            col = report.sessions[where.column - 1].name
            pair = report.pair(row, col) if row != col else None
        else:
            pair = next((p for p in report.against_base if p.a == row), None)
        self.show_pair(pair)

    def show_pair(self, pair: PairReport | None) -> None:
        """List the files of ``pair`` and ask for its hunks (nothing to do if it is shown)."""
        if pair is not None and pair == self.pair:
            return
        self.pair = pair
        self.hunks = {}
        files = self.query_one("#files", DataTable)
        files.clear(columns=True)
        files.add_columns("file", "what")
        self._show_hunks(None)
        if pair is None:
            return
        for conflict in pair.conflicts:
            files.add_row(conflict.path, f"conflict ({conflict.kind})", key=conflict.path)
        for path in pair.overlaps:
            files.add_row(path, "overlap, merges cleanly", key=path)
        if pair.verdict is Verdict.UNKNOWN:
            files.add_row("", f"unknown: {pair.reason}")
        elif pair.verdict is Verdict.CLEAN:
            files.add_row("", "no file changed on both sides")
        if pair.verdict is Verdict.CONFLICT:
            self._load_hunks(pair)

    @work(thread=True, exclusive=True, group="hunks")
    def _load_hunks(self, pair: PairReport) -> None:
        if self._read_hunks is None:
            return
        try:
            hunks = self._read_hunks(pair)
        except AgentmuxError as exc:
            self.app.post_message(CoreFailed(f"conflict hunks: {exc.message}"))
            return
        if hunks is not None:
            self.post_message(HunksLoaded(pair, hunks))

    def on_hunks_loaded(self, message: HunksLoaded) -> None:
        """The worker read a pair's hunks."""
        self.show_hunks(message)

    def show_hunks(self, message: HunksLoaded) -> None:
        """Hunks for the shown pair arrived: show those of the highlighted file."""
        if self.pair is None or message.pair != self.pair:
            return
        self.hunks = message.hunks
        files = self.query_one("#files", DataTable)
        self._show_hunks(self._file_at(files.cursor_row))

    def _file_at(self, row: int) -> str | None:
        if self.pair is None or not self.pair.conflicts:
            return None
        conflicts = self.pair.conflicts
        return conflicts[row].path if 0 <= row < len(conflicts) else conflicts[0].path

    def _show_hunks(self, path: str | None) -> None:
        side_a = self.query_one("#side-a", Static)
        side_b = self.query_one("#side-b", Static)
        if path is None or self.pair is None:
            side_a.update("")
            side_b.update("")
            return
        hunks = self.hunks.get(path)
        a_title, b_title = escape(self.pair.a), escape(self.pair.b)
        if not hunks:
            side_a.update(f"[b]{a_title}[/b]\n(no text hunks: binary, deleted or renamed)")
            side_b.update(f"[b]{b_title}[/b]")
            return
        a_lines = [f"[b]{a_title}[/b] · {escape(path)}"]
        b_lines = [f"[b]{b_title}[/b] · {escape(path)}"]
        for hunk in hunks:
            height = max(len(hunk.ours), len(hunk.theirs))
            a_lines.append(f"[dim]line {hunk.start_line}[/dim]")
            b_lines.append(f"[dim]line {hunk.start_line}[/dim]")
            a_lines += [escape(x) for x in hunk.ours] + [""] * (height - len(hunk.ours))
            b_lines += [escape(x) for x in hunk.theirs] + [""] * (height - len(hunk.theirs))
        side_a.update("\n".join(a_lines))
        side_b.update("\n".join(b_lines))

    def on_data_table_cell_highlighted(self, event: DataTable.CellHighlighted) -> None:
        """Moving in the matrix picks a pair."""
        if event.data_table.id == "matrix":
            self._show_pair_at(event.coordinate)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Moving in the file list shows that file's hunks."""
        if event.data_table.id == "files":
            self._show_hunks(self._file_at(event.cursor_row))

    def action_close(self) -> None:
        """Back to the grid."""
        self.dismiss(None)
