"""Grid geometry: how many columns and rows for a number of visible sessions."""

from __future__ import annotations

MAX_VISIBLE = 9


def grid_shape(count: int) -> tuple[int, int]:
    """(columns, rows) for ``count`` panes: 1, 2, 3, 4, 6 or 9 cells."""
    if count <= 1:
        return (1, 1)
    if count == 2:
        return (2, 1)
    if count == 3:
        return (3, 1)
    if count == 4:
        return (2, 2)
    if count <= 6:
        return (3, 2)
    return (3, 3)
