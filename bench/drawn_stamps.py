"""Stamped lines as the real TUI draws them, for the benches that time them.

The demo agent's ``stream RATE SECONDS`` prints lines ``tick <monotonic ns> <n>``, stamped with the
system-wide monotonic clock. While :func:`stamped_rows_drawn` is active, every row of a pane that
the compositor asks for is looked at as it is drawn, so a bench can tell when a line first
reached the screen.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

STAMP = re.compile(r"tick (\d+) (\d+)")

#: Called as ``on_row(pane, stamp_ns, tick, now_ns)`` for each stamped row in a drawn crop.
OnRow = Callable[[Any, int, str, int], None]


@contextmanager
def stamped_rows_drawn(on_row: OnRow) -> Iterator[None]:
    """Hook ``PaneView.render_lines`` (the rows a pane hands the compositor) while active."""
    # Imported here: a bench points agentmux at its scratch home before agentmux is imported.
    from agentmux.ui.pane_view import PaneView  # noqa: PLC0415

    original = PaneView.render_lines

    def render_lines(self: PaneView, crop: Any) -> Any:
        strips = original(self, crop)
        now = time.monotonic_ns()
        for y in crop.line_range:
            row = self.rows[y - 1] if 0 < y <= len(self.rows) else ""  # row 0 is the border
            match = STAMP.search(row)
            if match:
                on_row(self, int(match.group(1)), match.group(2), now)
        return strips

    PaneView.render_lines = render_lines  # type: ignore[method-assign]
    try:
        yield
    finally:
        PaneView.render_lines = original  # type: ignore[method-assign]
