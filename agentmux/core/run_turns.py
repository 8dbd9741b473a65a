"""Whether an agent was in the middle of a turn when its process ended: a crash is a failed turn
only then.

A session whose tmux server went down while its agent sat idle (a reboot overnight, then
``agentmux resume``) lost no turn: its failure is still listed, but counting it as a failed turn
would say one prompt in three failed when every prompt was answered. The agents' own events say
whether a turn was going on: a prompt typed or submitted, a tool run or a question asked start
or continue one; a turn's end (``Stop``, ``StopFailure``, Codex's ``agent-turn-complete``), an
interruption read from the transcript, or a new agent process (``SessionStart``) end it. An
agent that reported nothing is not known to be idle, and its crash counts as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agentmux.core.agent_events import AGENT_EVENT, PROMPT_SENT, TURN_ENDS, WORKING_EVENTS

_IDLE_FROM = TURN_ENDS | {"SessionStart"}


class TurnTracker:
    """Per session: in a turn now (``True``), idle (``False``) or unknown (``None``), from the
    session's events fed oldest first; and the same for each earlier run, as it ended."""

    def __init__(self) -> None:
        self._busy: dict[str, bool] = {}
        self._since: dict[str, float] = {}  # when the turn going on began to be known
        self._ended: dict[str, list[bool | None]] = {}

    def feed(self, event: Mapping[str, Any]) -> None:
        """Take in one agent or prompt event."""
        sid = str(event["session_id"])
        ts = float(event.get("ts", 0.0))
        if event["kind"] == PROMPT_SENT:
            self._start(sid, ts)
        elif event["kind"] == AGENT_EVENT:
            data = event.get("data")
            name = data.get("event") if isinstance(data, Mapping) else None
            if name in WORKING_EVENTS:
                self._start(sid, ts)
            elif name in _IDLE_FROM:
                self._busy[sid] = False

    def _start(self, sid: str, ts: float) -> None:
        if not self._busy.get(sid):
            self._since[sid] = ts
        self._busy[sid] = True

    def note_interrupts(self, session_id: str, times: Iterable[float]) -> None:
        """The transcript says the user interrupted turns at these times (no hook says so)."""
        latest = max(times, default=None)
        busy = self._busy.get(session_id)
        if busy and latest is not None and latest >= self._since.get(session_id, 0.0):
            self._busy[session_id] = False

    def run_ended(self, session_id: str) -> None:
        """The session's run ended and another begins (a resume): keep how it ended."""
        self._ended.setdefault(session_id, []).append(self.in_turn(session_id))
        self._busy.pop(session_id, None)
        self._since.pop(session_id, None)

    def in_turn(self, session_id: str) -> bool | None:
        """Whether the session's current run is in a turn; None when its agent told nothing."""
        return self._busy.get(session_id)

    def ended_in_turn(self, session_id: str) -> list[bool | None]:
        """For each earlier run, oldest first: whether it ended in the middle of a turn."""
        return list(self._ended.get(session_id, ()))
