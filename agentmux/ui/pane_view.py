"""One agent's live screen: the Line API, redrawing only the rows that changed."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from agentmux.core.control import Screen
from agentmux.core.records import SessionRecord, Status
from agentmux.ui.messages import SessionView
from agentmux.ui.screen_rows import RowDecoder

CURSOR_STYLE = Style(reverse=True)
STATUS_CLASSES = ("-working", "-waiting", "-idle", "-exited", "-failed", "-queued", "-starting")


def status_label(view: SessionView, idle_after: float) -> tuple[str, str]:
    """(text, CSS class) for a session's state."""
    record = view.record
    if record.status is Status.RUNNING:
        if view.waiting:
            return "waiting for you", "-waiting"
        if view.idle_seconds is None or view.idle_seconds < idle_after:
            return "working", "-working"
        return "idle", "-idle"
    if record.status is Status.EXITED:
        failed = record.exit_status not in (0, None)
        text = f"exited {record.exit_status}" if record.exit_status is not None else "exited ?"
        return text, "-failed" if failed else "-exited"
    if record.status is Status.STOPPED:
        return "stopped", "-exited"
    if record.status is Status.LOST:
        return "lost", "-failed"
    if record.status is Status.QUEUED:
        return "queued", "-queued"
    return str(record.status), "-starting"


STRIP_CACHE_ROWS = 256


class PaneView(Widget, can_focus=True):
    """The mirrored screen of one session, with a title line in its border."""

    DEFAULT_CSS = """
    PaneView {
        border: round $pane-border;
        border-title-color: $foreground;
        border-subtitle-color: $foreground-muted;
        background: $surface;
        height: 1fr;
        width: 1fr;
    }
    PaneView.-focused { border: round $pane-border-focused; }
    PaneView.-insert { border: heavy $pane-border-insert; }
    PaneView.-selected { border-subtitle-color: $accent; }
    PaneView.-working { border-title-color: $status-working; }
    PaneView.-waiting { border-title-color: $status-waiting; border-title-style: bold; }
    PaneView.-idle { border-title-color: $status-idle; }
    PaneView.-exited { border-title-color: $status-exited; }
    PaneView.-failed { border-title-color: $status-failed; }
    PaneView.-queued { border-title-color: $status-queued; }
    PaneView.-starting { border-title-color: $status-starting; }
    """

    class Resized(Message):
        """The pane's cell changed size: the agent's window must follow (a request)."""

        def __init__(self, record: SessionRecord, width: int, height: int) -> None:
            super().__init__()
            self.record = record
            self.width = width
            self.height = height

    class Clicked(Message):
        """The user clicked the pane (a request to focus it)."""

        def __init__(self, pane: PaneView) -> None:
            super().__init__()
            self.pane = pane

    def __init__(self, view: SessionView, number: int) -> None:
        super().__init__(id=f"pane-{view.record.id}")
        self.view = view
        self.number = number
        self.rows: tuple[str, ...] = ()
        self.cursor: tuple[int, int] | None = None
        self.show_cursor = False
        self._strips: dict[str, Strip] = {}
        self._strip_theme = ""
        self._decoder: RowDecoder | None = None
        self.frames = 0
        # Extra facts at the end of the title, by source: "spend" ("12.3k tok $0.05"), "conflict".
        self.tags: dict[str, str] = {}
        self._idle_after = 0.0

    @property
    def record(self) -> SessionRecord:
        """The session shown."""
        return self.view.record

    def update_view(self, view: SessionView, number: int, idle_after: float) -> None:
        """New facts about the session: refresh the title line and status colour."""
        self.view = view
        self.number = number
        self._idle_after = idle_after
        label, css = status_label(view, idle_after)
        record = view.record
        title = f"{number} {record.name} · {record.agent} · {label}"
        for tag in self.tags.values():
            if tag:
                title += f" · {tag}"
        # Only what changed is touched: an idle grid must cost nothing to keep up to date.
        if self.border_title != title:
            self.border_title = title
        if self.border_subtitle != record.branch:
            self.border_subtitle = record.branch
        if not self.has_class(css):
            for cls in STATUS_CLASSES:
                self.set_class(cls == css, cls)

    def set_tag(self, key: str, text: str) -> None:
        """Show ``text`` (or nothing) at the end of the title, under ``key``."""
        if self.tags.get(key, "") != text:
            self.tags[key] = text
            self.update_view(self.view, self.number, self._idle_after)

    def update_screen(self, screen: Screen) -> None:
        """A new capture: redraw only the rows that differ from the last one."""
        old = self.rows
        self.rows = screen.rows
        old_cursor, self.cursor = self.cursor, screen.cursor
        width = self.size.width
        changed = [
            Region(0, y, width, 1)
            for y in range(max(len(old), len(self.rows)))
            if y >= len(old) or y >= len(self.rows) or old[y] != self.rows[y]
        ]
        if old_cursor != self.cursor:
            for cursor in (old_cursor, self.cursor):
                if cursor is not None:
                    changed.append(Region(0, cursor[1], width, 1))
        self.frames += 1
        if changed:
            self.refresh(*changed)

    def _strip(self, row: str, width: int) -> Strip:
        key = f"{width}\0{row}"
        decoder = self._decoder
        if decoder is None or self._strip_theme != self.app.theme:
            # The theme's colours are the base an agent's own colours sit on; cached rows and
            # styles carry the old theme's, so they go.
            self._strip_theme = self.app.theme
            decoder = self._decoder = RowDecoder(self.rich_style, self.app.console)
            self._strips.clear()
        strip = self._strips.get(key)
        if strip is None:
            # A screen has at most a few dozen rows; agents that scroll make every row new, so a
            # larger cache only holds memory (the soak bench saw 9 panes x 4096 rows ~ 50 MiB).
            if len(self._strips) > STRIP_CACHE_ROWS:
                self._strips.clear()
            strip = self._strips[key] = decoder.strip(row, width)
        return strip

    def render_line(self, y: int) -> Strip:
        """One row of the mirrored screen."""
        width = self.size.width
        row = self.rows[y] if y < len(self.rows) else ""
        strip = self._strip(row, width)
        if self.show_cursor and self.cursor is not None and self.cursor[1] == y:
            x = min(self.cursor[0], max(width - 1, 0))
            left, cell, right = strip.divide([x, x + 1, width])[:3]
            cell_text = cell.text or " "
            strip = Strip.join(
                [left, Strip([Segment(cell_text, CURSOR_STYLE)]), right]
            ).extend_cell_length(width)
        return strip

    def on_resize(self) -> None:
        """Ask for the agent's window to match this cell."""
        self.post_message(self.Resized(self.record, self.size.width, self.size.height))

    def on_click(self) -> None:
        """Clicking a pane focuses it."""
        self.post_message(self.Clicked(self))
