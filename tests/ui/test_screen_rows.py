"""The fast row decoder draws exactly what Rich's own ``Text.from_ansi`` path draws."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from agentmux.ui.screen_rows import RowDecoder

BASE = Style(color="#c0c0c0", bgcolor="#101010")
CONSOLE = Console(width=200, color_system="truecolor")

ESCAPES = [
    "\x1b[0m",
    "\x1b[m",
    "\x1b[1m",
    "\x1b[22m",
    "\x1b[3m",
    "\x1b[4m",
    "\x1b[24m",
    "\x1b[7m",
    "\x1b[27m",
    "\x1b[31m",
    "\x1b[39m",
    "\x1b[44m",
    "\x1b[49m",
    "\x1b[91m",
    "\x1b[38;5;208m",
    "\x1b[48;5;17m",
    "\x1b[38;2;10;200;30m",
    "\x1b[48;2;1;2;3m",
    "\x1b[1;4;32m",
    "\x1b[38:5:3m",
    "\x1b[2m",
    "\x1b[9m",
    "\x1b]8;;https://example.invalid\x1b\\",
    "\x1b]8;;\x1b\\",
    "\x07",
    "\r",
]
TEXTS = st.text(
    alphabet=st.sampled_from([*"ab %$─│❯✻", "漢", "字", "\t", "é"]), min_size=0, max_size=12
)
ROWS = st.lists(st.one_of(TEXTS, st.sampled_from(ESCAPES)), max_size=14).map("".join)


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    """Each character with its style: segment boundaries do not matter, what is drawn does."""
    return [(char, segment.style) for segment in strip for char in segment.text]


def rich_path(row: str, width: int) -> Strip:
    text = Text.from_ansi(row, no_wrap=True, end="")
    segments = list(text.render(CONSOLE))
    return Strip(segments).extend_cell_length(width).crop(0, width).apply_style(BASE)


@settings(max_examples=400, deadline=None)
@given(row=ROWS, width=st.integers(min_value=1, max_value=60))
def test_rows_decode_as_rich_decodes_them(row: str, width: int) -> None:
    decoder = RowDecoder(BASE, CONSOLE)
    fast = decoder.strip(row, width)
    assert fast.cell_length == width
    assert cells(fast) == cells(rich_path(row, width))
    # Remembered transitions give the same answer the second time.
    assert cells(decoder.strip(row, width)) == cells(fast)


def test_a_plain_row_is_padded_on_the_base_style() -> None:
    strip = RowDecoder(BASE, CONSOLE).strip("hello", 8)
    assert strip.text == "hello   "
    assert {segment.style for segment in strip} == {BASE}


def test_colours_carry_from_one_escape_to_the_next() -> None:
    strip = RowDecoder(BASE, CONSOLE).strip("\x1b[1m\x1b[31mA\x1b[39mB\x1b[0mC", 3)
    a, b, c = (style for _, style in cells(strip))
    assert a is not None and a.bold and a.color is not None and a.color.number == 1
    assert b is not None and b.bold and b.color is not None and b.color.is_default
    assert c == BASE
