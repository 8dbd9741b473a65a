"""Names the user gives (sessions, hosts): short, and safe as a tmux name, a ref component, a
directory name and an argument."""

from __future__ import annotations

import re

from agentmux.core.errors import AgentmuxError

# Letters, digits, '-' and '_' only: no '.' or ':' (tmux target syntax), no '/' (directory and
# ref escape), no whitespace or shell metacharacters; a letter or digit first, never an option.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def check_name(name: str, kind: str, max_length: int) -> str:
    """Return ``name`` if it can name a ``kind`` ("session", "host"), else raise a one-sentence
    error."""
    if not name:
        raise AgentmuxError(f"a {kind} name cannot be empty.")
    if len(name) > max_length:
        raise AgentmuxError(
            f"{kind} name {name[:40]!r}... is too long: at most {max_length} characters."
        )
    if not _NAME_RE.fullmatch(name):
        raise AgentmuxError(
            f"{kind} name {name!r} is not allowed: use letters, digits, '-' and '_', "
            "starting with a letter or digit."
        )
    return name
