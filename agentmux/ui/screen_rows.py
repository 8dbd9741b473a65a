"""Captured screen rows (text with SGR escapes, as ``tmux capture-pane -e`` writes them) to strips.

Rich's ``Text.from_ansi`` does this, but it builds a decoder and a ``Text`` per row and parses every
escape anew; a busy grid decodes hundreds of rows a second, and that was a third of the TUI's CPU.
tmux writes only a few distinct escapes (it emits the change between neighbouring cells), so here
each (style so far, escape) pair is worked out once, by Rich's own decoder so the meaning stays
exactly Rich's, and remembered. Rows holding anything but SGR escapes go to ``Text.from_ansi``.
"""

from __future__ import annotations

import re

from rich.ansi import AnsiDecoder
from rich.cells import cell_len
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

_SGR = re.compile(r"\x1b\[([0-9;:]*)m")
# Any other escape or control character: not what capture-pane writes, so decoded the slow way.
_OTHER = re.compile(r"\x1b(?!\[[0-9;:]*m)|[\x00-\x1a\x1c-\x1f\x7f]")
# Distinct (style, escape) pairs seen; a screen uses a few dozen, so this bounds a hostile one.
MAX_TRANSITIONS = 4096


class RowDecoder:
    """Decode rows into strips of one width, on a base style (the theme's colours)."""

    def __init__(self, base: Style, console: Console) -> None:
        self.base = base
        self._console = console
        self._decoder = AnsiDecoder()
        # (style so far, SGR parameters) -> (style after, base + style after)
        self._next: dict[tuple[Style, str], tuple[Style, Style]] = {}
        self._null = (Style.null(), base)

    def strip(self, row: str, width: int) -> Strip:
        """The row as exactly ``width`` cells, on the base style."""
        return Strip(self.segments(row, width), width)

    def segments(self, row: str, width: int) -> list[Segment]:
        """The row's segments, exactly ``width`` cells long, on the base style."""
        if "\x1b" not in row and row.isprintable():
            segments = [Segment(row, self.base)] if row else []
        elif _OTHER.search(row):
            text = Text.from_ansi(row, no_wrap=True, end="")
            plain = list(text.render(self._console))
            segments = list(Segment.apply_style(plain, self.base))
        else:
            segments = self._segments(row)
        # Printable ASCII is one cell a character: most rows skip measuring character by character.
        length = sum(
            len(text) if text.isascii() and text.isprintable() else cell_len(text)
            for text, _style, _control in segments
        )
        if length < width:
            segments.append(Segment(" " * (width - length), self.base))
        elif length > width:
            # tmux and Rich disagree on some wide characters: crop to the cell's width.
            return list(Strip(segments, length).crop(0, width))
        return segments

    def _segments(self, row: str) -> list[Segment]:
        parts = _SGR.split(row)  # text, parameters, text, parameters, ..., text
        segments: list[Segment] = []
        style, final = self._null
        if parts[0]:
            segments.append(Segment(parts[0], final))
        for index in range(1, len(parts), 2):
            style, final = self._after(style, parts[index])
            text = parts[index + 1]
            if text:
                segments.append(Segment(text, final))
        return segments

    def _after(self, style: Style, parameters: str) -> tuple[Style, Style]:
        key = (style, parameters)
        known = self._next.get(key)
        if known is None:
            if len(self._next) >= MAX_TRANSITIONS:
                self._next.clear()
            self._decoder.style = style
            self._decoder.decode_line(f"\x1b[{parameters}m")
            after = self._decoder.style
            known = (after, self.base + after)
            self._next[key] = known
        return known
