"""The review screen (`v`): one session's changed files since it forked, work in progress
included, and the selected file's diff; from it `C` commits the session's work in progress and
`m` plans a merge of this session alone.

Everything that reads or writes git runs in thread workers (the core's
:mod:`agentmux.core.sessions.session_diff` and :mod:`agentmux.core.sessions.commit_work`);
results come back to the screen as messages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.markup import escape
from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from agentmux.core.errors import AgentmuxError
from agentmux.core.sessions.commit_work import AgentBusyError, CommitResult, commit_work
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.sessions.session_diff import ChangedFile, SessionDiff, file_patch, session_diff
from agentmux.ui.client_mode import mode_of
from agentmux.ui.modals import ConfirmScreen

#: A longer diff is cut here on screen (``agentmux diff NAME`` prints all of it).
MAX_PATCH_LINES = 3000
#: Plans a merge of the named sessions; the callable is run once it has landed.
MergeStarter = Callable[[Sequence[str], Callable[[], None]], None]


class DiffLoaded(Message):
    """The session's changed files (or why there are none to show)."""

    def __init__(self, diff: SessionDiff | None, error: str | None = None) -> None:
        super().__init__()
        self.diff = diff
        self.error = error


class PatchLoaded(Message):
    """One file's unified diff, for the snapshot it was taken from."""

    def __init__(self, snapshot: str | None, path: str, text: str) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.path = path
        self.text = text


class CommitFinished(Message):
    """The session's work in progress was committed (or there was nothing to commit)."""

    def __init__(self, result: CommitResult) -> None:
        super().__init__()
        self.result = result


class CommitRefused(Message):
    """The commit was refused, with the core's one sentence; ``busy`` when only because the agent
    is in the middle of a turn (which ``force`` overrides)."""

    def __init__(self, reason: str, *, busy: bool) -> None:
        super().__init__()
        self.reason = reason
        self.busy = busy


def change_cell(file: ChangedFile) -> Text:
    """The kind of change, coloured."""
    style = {"added": "green", "deleted": "red", "renamed": "cyan"}.get(file.change, "yellow")
    return Text(file.change, style=style)


def path_cell(file: ChangedFile) -> Text:
    """The path (``old → new`` for a rename)."""
    return Text(f"{file.old_path} → {file.path}" if file.old_path else file.path)


def lines_cell(file: ChangedFile) -> Text:
    """``+added -deleted``, or ``binary``."""
    if file.binary or file.added is None or file.deleted is None:
        return Text("binary", style="dim")
    text = Text()
    text.append(f"+{file.added}", style="green")
    text.append(" ")
    text.append(f"-{file.deleted}", style="red")
    return text


def mark_cell(file: ChangedFile) -> Text:
    """``●`` when the worktree's version is not in the branch's last commit (uncommitted)."""
    return Text("●", style="bold yellow") if file.uncommitted else Text("")


def summary_text(name: str, branch: str, diff: SessionDiff | None, error: str | None) -> Text:
    """The line at the top: the session, and how much it changed."""
    text = Text()
    text.append(f"Review {name}", style="bold")
    text.append(f" · {branch}")
    if error is not None:
        text.append(f" · {error}", style="red")
    elif diff is None:
        text.append(" · reading its changes…", style="dim")
    elif diff.unavailable is not None:
        text.append(f" · {diff.unavailable}", style="red")
    else:
        files = len(diff.files)
        dirty = sum(f.uncommitted for f in diff.files)
        text.append(f" · {files} file(s) changed since it forked, {dirty} uncommitted (")
        text.append("●", style="bold yellow")
        text.append(")")
    return text


def patch_text(patch: str, dark: bool) -> Text:
    """A file's diff, highlighted as a diff (cut at :data:`MAX_PATCH_LINES`). Its colours are
    the 16 ANSI ones, which the theme maps, and it has no background of its own."""
    if not patch:
        return Text("(no textual change: its mode or its type changed)", style="dim")
    lines = patch.splitlines()
    if len(lines) > MAX_PATCH_LINES:
        more = len(lines) - MAX_PATCH_LINES
        note = f"… {more} more line(s): `agentmux diff` prints the whole diff"
        patch = "\n".join([*lines[:MAX_PATCH_LINES], note])
    theme = "ansi_dark" if dark else "ansi_light"
    text = Syntax(patch, "diff", theme=theme).highlight(patch)
    text.rstrip()
    return text


class ReviewScreen(Screen[None]):
    """One session's change, file by file, with commit and merge at hand."""

    DEFAULT_CSS = """
    ReviewScreen #summary { height: auto; padding: 0 1; background: $panel; }
    ReviewScreen #body { height: 1fr; }
    ReviewScreen #files { width: 2fr; min-width: 30; height: 1fr; border: round $primary; }
    ReviewScreen #patch-scroll { width: 3fr; height: 1fr; border: round $primary; }
    ReviewScreen #status { height: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "back"),
        Binding("C,shift+c", "commit", "commit work in progress"),
        Binding("m", "merge", "merge this session"),
    ]

    def __init__(
        self, manager: SessionManager, session: str, branch: str, merge: MergeStarter
    ) -> None:
        super().__init__()
        self.manager = manager
        self.session = session
        self.branch = branch
        self.merge = merge
        self.diff: SessionDiff | None = None
        self.error: str | None = None
        self.patches: dict[str, str] = {}
        self.shown: str | None = None  # the path whose diff is on screen

    def compose(self) -> ComposeResult:
        """Summary, file list and diff side by side, the last action's result, keys."""
        yield Static(summary_text(self.session, self.branch, None, None), id="summary")
        with Horizontal(id="body"):
            yield DataTable(id="files", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="patch-scroll"):
                yield Static("", id="patch")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        """Read the session's change off the loop."""
        self.query_one("#files", DataTable).add_columns("", "change", "lines", "file")
        self.reload()

    def reload(self) -> None:
        """Read the change again (after a commit or a merge); nothing once the screen is closed."""
        if self.is_attached:
            self.load()

    @work(thread=True, exclusive=True, group="review-diff")
    def load(self) -> None:
        """The session's diff (worker thread: no widget is touched here)."""
        try:
            self.post_message(DiffLoaded(session_diff(self.manager, self.session)))
        except AgentmuxError as exc:
            self.post_message(DiffLoaded(None, exc.message))
        except Exception as exc:  # a worker error must not take the TUI down
            self.post_message(DiffLoaded(None, f"its change could not be read: {exc}"))

    @work(thread=True, exclusive=True, group="review-patch")
    def load_patch(self, diff: SessionDiff, path: str) -> None:
        """One file's diff (worker thread)."""
        try:
            text = file_patch(self.manager, diff, path)
        except AgentmuxError as exc:
            text = f"its diff could not be read: {exc.message}"
        except Exception as exc:  # a worker error must not take the TUI down
            text = f"its diff could not be read: {exc}"
        self.post_message(PatchLoaded(diff.snapshot, path, text))

    def on_diff_loaded(self, message: DiffLoaded) -> None:
        """List the files, keeping the cursor on the file it was on."""
        self.diff, self.error = message.diff, message.error
        self.patches = {}
        self.query_one("#summary", Static).update(
            summary_text(self.session, self.branch, self.diff, self.error)
        )
        table = self.query_one("#files", DataTable)
        was = self.shown
        table.clear()
        self.shown = None
        files = self.diff.files if self.diff is not None else ()
        for file in files:
            cells = (mark_cell(file), change_cell(file), lines_cell(file), path_cell(file))
            table.add_row(*cells, key=file.path)
        if not files:
            self._show_text(self._nothing_text())
            return
        paths = [f.path for f in files]
        row = paths.index(was) if was in paths else 0
        table.move_cursor(row=row)
        self._select(paths[row])

    def _nothing_text(self) -> Text:
        if self.error is not None:
            return Text(self.error, style="red")
        if self.diff is not None and self.diff.unavailable is not None:
            return Text(self.diff.unavailable, style="red")
        return Text("No change since it forked from its base.", style="dim")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Moving in the file list shows that file's diff."""
        if event.row_key.value is not None:
            self._select(event.row_key.value)

    def _select(self, path: str) -> None:
        if path == self.shown or self.diff is None:
            return
        self.shown = path
        known = self.patches.get(path)
        if known is not None:
            self._show_patch(known)
            return
        self._show_text(Text(f"reading the diff of {path}…", style="dim"))
        self.load_patch(self.diff, path)

    def on_patch_loaded(self, message: PatchLoaded) -> None:
        """Show a file's diff if it is still the selected file of the same snapshot."""
        if self.diff is None or message.snapshot != self.diff.snapshot:
            return
        self.patches[message.path] = message.text
        if message.path == self.shown:
            self._show_patch(message.text)

    def _show_patch(self, text: str) -> None:
        self._show_text(patch_text(text, self.app.current_theme.dark))

    def _show_text(self, what: Text) -> None:
        self.query_one("#patch", Static).update(what)
        self.query_one("#patch-scroll", VerticalScroll).scroll_home(animate=False)

    def _status(self, text: str, style: str = "") -> None:
        self.query_one("#status", Static).update(Text(text, style=style))

    # --- commit ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Commit and merge only where the cockpit may change things (not read-only)."""
        return mode_of(self.app).allows(action)

    def action_commit(self) -> None:
        """Commit the session's work in progress on its branch (off the loop)."""
        self._status(f"committing {self.session}'s work in progress…")
        self.commit(force=False)

    @work(thread=True, exclusive=True, group="review-commit")
    def commit(self, force: bool) -> None:
        """Run the commit (worker thread)."""
        try:
            result = commit_work(self.manager, self.session, force=force)
        except AgentBusyError as exc:
            self.post_message(CommitRefused(exc.message, busy=True))
        except AgentmuxError as exc:
            self.post_message(CommitRefused(exc.message, busy=False))
        except Exception as exc:  # a worker error must not take the TUI down
            self.post_message(CommitRefused(f"the commit failed: {exc}", busy=False))
        else:
            self.post_message(CommitFinished(result))

    def on_commit_finished(self, message: CommitFinished) -> None:
        """Say what was committed; read the change again."""
        result = message.result
        if result.commit is None:
            text = f"nothing to commit in {result.name}"
        else:
            text = (
                f"committed {result.files} file(s) of {result.name} on {self.branch} "
                f"as {result.commit[:10]}"
            )
        self._status(text)
        self.app.notify(text, timeout=6)
        self.reload()

    def on_commit_refused(self, message: CommitRefused) -> None:
        """Show the refusal; for a busy agent, offer to commit anyway."""
        self._status(message.reason, "red")
        if not message.busy:
            self.app.notify(message.reason, severity="error", timeout=10)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._status(f"committing {self.session}'s work in progress anyway…")
                self.commit(force=True)

        question = (
            f"{escape(message.reason)}\n\nCommit anyway? The agent may still be changing these "
            "files; what it writes after the commit stays uncommitted."
        )
        self.app.push_screen(ConfirmScreen(question), answer)

    # --- merge and close ------------------------------------------------------------------------

    def action_merge(self) -> None:
        """Plan a merge of this session alone: the plan is shown, and lands only on yes."""
        self.merge([self.session], self.reload)

    def action_close(self) -> None:
        """Back to the grid."""
        self.dismiss(None)
