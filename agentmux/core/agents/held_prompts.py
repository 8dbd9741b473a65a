"""Prompts held for a busy agent: sent when it is idle again, in the order they were asked for.

A prompt for an agent that is working (its own hooks say so) is not typed into the middle of its
turn: it is kept as a ``prompt_held`` event and released, oldest first, once the agent reports that
the turn ended. The time from holding to releasing is queue wait.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agentmux.core.agents.events import WORKING_EVENTS

HELD = "prompt_held"
RELEASED = "prompt_released"


@dataclass(frozen=True)
class HeldPrompt:
    """One prompt waiting for its agent to be idle."""

    hold_id: str
    held_at: float
    text: bytes
    submit: bool


def held_data(hold_id: str, text: bytes, submit: bool) -> dict[str, Any]:
    """The event data that keeps a held prompt (its bytes exactly, as base64)."""
    return {"hold_id": hold_id, "text": base64.b64encode(text).decode(), "submit": submit}


class HeldTracker:
    """One session's held prompts and the waits of those released, fed one event at a time."""

    def __init__(self) -> None:
        self.held: dict[str, HeldPrompt] = {}
        self.waits: list[float] = []

    def feed(self, event: Mapping[str, Any]) -> None:
        """Take one more ``prompt_held`` or ``prompt_released`` event into account."""
        data = event["data"]
        if event["kind"] == HELD:
            self.held[data["hold_id"]] = HeldPrompt(
                data["hold_id"],
                float(event["ts"]),
                base64.b64decode(data["text"]),
                bool(data.get("submit", True)),
            )
        elif event["kind"] == RELEASED:
            self.held.pop(data["hold_id"], None)
            self.waits.append(float(data["wait"]))

    def pending(self) -> list[HeldPrompt]:
        """Held prompts not yet released, oldest first."""
        return sorted(self.held.values(), key=lambda h: h.held_at)


def pending(events: Iterable[Mapping[str, Any]]) -> list[HeldPrompt]:
    """Held prompts not yet released, oldest first (events of one session, oldest first)."""
    tracker = HeldTracker()
    for event in events:
        tracker.feed(event)
    return tracker.pending()


def is_busy(last_agent_event: str | None) -> bool:
    """Whether an agent whose latest own event is this one is in the middle of a turn."""
    return last_agent_event in WORKING_EVENTS
