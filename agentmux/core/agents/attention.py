"""Reading a mirrored screen: is the agent waiting for the user? (The fallback to hooks.)"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from agentmux.core.agents.profiles import AgentProfile

# Escape sequences (SGR colours and the like) as capture-pane -e leaves them in each row.
_ESCAPES = re.compile(r"\x1b\[[0-9;:?]*[ -/]*[@-~]")


def plain(rows: Sequence[str]) -> str:
    """The screen's text without escape sequences."""
    return "\n".join(_ESCAPES.sub("", row) for row in rows)


# A question still waiting for its answer is at the bottom of the screen; one answered earlier
# may still be visible higher up.
BOTTOM_LINES = 8


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.MULTILINE)


def is_waiting(profile: AgentProfile, rows: Sequence[str]) -> bool:
    """Whether the bottom of the screen shows the profile's question (its ``waiting_pattern``)."""
    if not profile.waiting_pattern:
        return False
    lines = [line for line in plain(rows).splitlines() if line.strip()][-BOTTOM_LINES:]
    return _compiled(profile.waiting_pattern).search("\n".join(lines)) is not None
