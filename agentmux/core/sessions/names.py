"""Session names: short, unique, and safe as a tmux name, a ref component and a directory name."""

from __future__ import annotations

import re

from agentmux.core.naming import check_name

MAX_NAME_LENGTH = 32


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid session name, else raise a one-sentence error."""
    return check_name(name, "session", MAX_NAME_LENGTH)


def next_free_name(prefix: str, taken: set[str]) -> str:
    """The first ``<prefix>-<n>`` (n from 1) that is not in ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", prefix).strip("-_") or "session"
    base = base[: MAX_NAME_LENGTH - 4]
    n = 1
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
