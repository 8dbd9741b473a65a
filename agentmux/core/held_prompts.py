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

HELD = "prompt_held"
RELEASED = "prompt_released"
#: The agent events after which it is in the middle of a turn (until Stop / StopFailure / ...).
#: A permission question counts: a prompt typed into it would be taken as the answer.
WORKING_EVENTS = frozenset({"UserPromptSubmit", "PreToolUse", "PostToolUse", "PermissionRequest"})


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


def pending(events: Iterable[Mapping[str, Any]]) -> list[HeldPrompt]:
    """Held prompts not yet released, oldest first (events of one session, oldest first)."""
    held: dict[str, HeldPrompt] = {}
    for event in events:
        data = event["data"]
        if event["kind"] == HELD:
            held[data["hold_id"]] = HeldPrompt(
                data["hold_id"],
                float(event["ts"]),
                base64.b64decode(data["text"]),
                bool(data.get("submit", True)),
            )
        elif event["kind"] == RELEASED:
            held.pop(data["hold_id"], None)
    return sorted(held.values(), key=lambda h: h.held_at)


def released_waits(events: Iterable[Mapping[str, Any]]) -> list[float]:
    """Seconds each released prompt was held."""
    return [float(e["data"]["wait"]) for e in events if e["kind"] == RELEASED]


def is_busy(last_agent_event: str | None) -> bool:
    """Whether an agent whose latest own event is this one is in the middle of a turn."""
    return last_agent_event in WORKING_EVENTS
