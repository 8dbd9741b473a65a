"""One agent's live screen: the Line API, redrawing only the rows that changed.

A pane's rows go to the compositor without Textual's per-row styling (``StylesCache``): its border
is drawn once by Textual and kept, and each distinct row is decoded, filtered and framed once. At
nine busy panes (about 750 rows a second) that per-row re-styling, with the per-widget work the
compositor repeats every frame, was over a third of the TUI's main thread.
"""

from __future__ import annotations

from typing import Self

from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from agentmux.core.host import Screen
from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.resume import resumable
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


# What a lost session's pane shows instead of a screen: its pane ids may belong to another
# agent now (a restarted tmux server hands them out again), so nothing is mirrored or typed.
LOST_ROWS = (
    "",
    "  \x1b[1mlost\x1b[0m: its tmux session is gone (the tmux server restarted, or it was killed).",
    "  Nothing is shown here and nothing typed here reaches an agent.",
    "",
    "  Press \x1b[1mr\x1b[0m to resume it: its agent continues the same conversation.",
)
#: At the end of the title of a session whose agent is gone (lost, exited or stopped).
RESUME_HINT = "press r to resume"
STRIP_CACHE_ROWS = 256
# The border the pane's CSS always gives it: one cell each side (round, or heavy in insert mode).
FRAME = Spacing(1, 1, 1, 1)


class Frame:
    """A pane's border as Textual drew it: its top and bottom rows, and the side of each row; and
    the pane's background, which the line filters need (a change of it redraws the frame)."""

    def __init__(
        self, key: tuple[Size, str], top: Strip, bottom: Strip, middle: Strip, background: Color
    ) -> None:
        self.key = key
        self.background = background
        self.top = top
        self.bottom = bottom
        width = middle.cell_length
        self.left = list(middle.crop(0, 1))
        self.right = list(middle.crop(width - 1, width))


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
        self._frame: Frame | None = None
        # (row, cursor column or -1) -> the row framed and filtered, ready for the compositor.
        self._framed: dict[tuple[str, int], Strip] = {}
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
        if resumable(record):
            title += f" · {RESUME_HINT}"
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
        if record.status is Status.LOST and self.rows != LOST_ROWS:
            self.rows, self.cursor = LOST_ROWS, None
            self.refresh()
        elif record.status is not Status.LOST and self.rows == LOST_ROWS:
            self.rows = ()  # resumed: its new screen comes from the mirror
            self.refresh()

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
        # Regions are in content coordinates: from -1 to width spans the border columns too, so
        # the compositor writes each framed row as it is (a narrower span makes it crop a copy
        # of the row on every frame).
        width = self.size.width + 2
        changed = [
            Region(-1, y, width, 1)
            for y in range(max(len(old), len(self.rows)))
            if y >= len(old) or y >= len(self.rows) or old[y] != self.rows[y]
        ]
        if old_cursor != self.cursor:
            for cursor in (old_cursor, self.cursor):
                if cursor is not None:
                    changed.append(Region(-1, cursor[1], width, 1))
        self.frames += 1
        if changed:
            self.refresh(*changed)

    def _row_decoder(self) -> RowDecoder:
        decoder = self._decoder
        base = self.rich_style
        if decoder is None or decoder.base != base:
            # The theme's colours are the base an agent's own colours sit on; cached rows and
            # styles carry the old ones, so they go. (Keyed on the style itself, not the theme's
            # name: the name changes a moment before the styles do.)
            decoder = self._decoder = RowDecoder(base, self.app.console)
            self._strips.clear()
            self._framed.clear()
        return decoder

    def _row_segments(self, row: str) -> list[Segment]:
        return self._row_decoder().segments(row, self.size.width)

    def _strip(self, row: str, width: int) -> Strip:
        key = f"{width}\0{row}"
        decoder = self._row_decoder()
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

    def render_lines(self, crop: Region) -> list[Strip]:
        """The rows in ``crop`` (in the pane's own coordinates, border included)."""
        outer = self.outer_size
        if self.styles.gutter != FRAME or outer.height < 3 or outer.width < 3:
            return super().render_lines(crop)  # not the layout this fast path knows
        frame = self._frame
        key = (outer, self.app.theme)
        if frame is None or frame.key != key:
            frame = self._frame = self._draw_frame(key)
        last = outer.height - 1
        strips = [
            frame.top if y == 0 else frame.bottom if y == last else self._framed_row(y - 1, frame)
            for y in crop.line_range
        ]
        x1, x2 = crop.column_span
        if (x1, x2) != (0, outer.width):
            strips = [strip.crop(x1, x2) for strip in strips]
        return strips

    def _draw_frame(self, key: tuple[Size, str]) -> Frame:
        """Have Textual draw the border (title, colours, focus) once; rows reuse it."""
        self._framed.clear()
        width, height = key[0]
        top, middle = super().render_lines(Region(0, 0, width, 2))
        (bottom,) = super().render_lines(Region(0, height - 1, width, 1))
        return Frame(key, top, bottom, middle, self.background_colors[1])

    def _framed_row(self, y: int, frame: Frame) -> Strip:
        cursor = self.cursor
        column = cursor[0] if self.show_cursor and cursor is not None and cursor[1] == y else -1
        key = (self.rows[y] if y < len(self.rows) else "", column)
        strip = self._framed.get(key)
        if strip is None:
            width = self.size.width
            # One Strip per new row: each costs half a dozen caches of its own, so the row is
            # built, filtered and framed as segments first.
            segments = list(self.render_line(y)) if column >= 0 else self._row_segments(key[0])
            for line_filter in self.get_line_filters():
                segments = line_filter.apply(segments, frame.background)
            strip = Strip([*frame.left, *segments, *frame.right], width + 2)
            if len(self._framed) > STRIP_CACHE_ROWS:
                self._framed.clear()
            self._framed[key] = strip
        return strip

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        """A whole-pane refresh (its styles, title or size changed) redraws the border too."""
        if not regions and repaint:
            self._frame = None
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def on_resize(self) -> None:
        """Ask for the agent's window to match this cell."""
        self.post_message(self.Resized(self.record, self.size.width, self.size.height))

    def on_click(self) -> None:
        """Clicking a pane focuses it."""
        self.post_message(self.Clicked(self))
