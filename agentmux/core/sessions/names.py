"""Session names: short, unique, and safe as a tmux name, a ref component and a directory name."""

from __future__ import annotations

import re

from agentmux.core.errors import AgentmuxError

MAX_NAME_LENGTH = 32
# Letters, digits, '-' and '_' only: no '.' or ':' (tmux target syntax), no '/' (directory and
# ref escape), no whitespace or shell metacharacters; a letter or digit first, never an option.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid session name, else raise a one-sentence error."""
    if not name:
        raise AgentmuxError("a session name cannot be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise AgentmuxError(
            f"session name {name[:40]!r}... is too long: at most {MAX_NAME_LENGTH} characters."
        )
    if not _NAME_RE.fullmatch(name):
        raise AgentmuxError(
            f"session name {name!r} is not allowed: use letters, digits, '-' and '_', "
            "starting with a letter or digit."
        )
    return name


def next_free_name(prefix: str, taken: set[str]) -> str:
    """The first ``<prefix>-<n>`` (n from 1) that is not in ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", prefix).strip("-_") or "session"
    base = base[: MAX_NAME_LENGTH - 4]
    n = 1
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"
