"""Whether an agent was in the middle of a turn when its run ended: a vanished tmux session (a
reboot) is a failed turn only then.

A session whose tmux server went down while its agent sat idle (a reboot overnight, then
``agentmux resume``) lost no turn: its failure is still listed, but counting it as a failed turn
would say one prompt in three failed when every prompt was answered. Agents that report a turn's
start through hooks (Claude Code, the demo agent) say whether one was going on: a prompt
submitted, a tool run or a question asked mean it was; a turn's end (``Stop``, ``StopFailure``),
an interruption read from the transcript, or a new agent process (``SessionStart``) mean it was
not. Codex reports only a turn's end, and agentmux's own record of typing a prompt can land after
the agent already answered it, so for Codex (and any agent that reported nothing) it is not
known, and its loss counts as a failed turn as before. An agent process that failed on its own
(a non-zero exit, a signal) counts as a failed turn either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agentmux.core.agents.events import AGENT_EVENT, TURN_ENDS, WORKING_EVENTS

_IDLE_FROM = TURN_ENDS | {"SessionStart"}


class TurnTracker:
    """Per session: in a turn now (``True``), idle (``False``) or unknown (``None``), from the
    session's agent events fed oldest first; and the same for each earlier run, as it ended."""

    def __init__(self) -> None:
        self._busy: dict[str, bool] = {}
        self._since: dict[str, float] = {}  # when the turn going on began to be known
        self._ended: dict[str, list[bool | None]] = {}

    def feed(self, event: Mapping[str, Any]) -> None:
        """Take in one event (only the agent's own reports count)."""
        if event["kind"] != AGENT_EVENT:
            return
        sid = str(event["session_id"])
        data = event.get("data")
        name = data.get("event") if isinstance(data, Mapping) else None
        if name in WORKING_EVENTS:
            self._start(sid, float(event.get("ts", 0.0)))
        elif name == "SessionStart" or (name in _IDLE_FROM and sid in self._busy):
            self._busy[sid] = False  # (a turn's end from an agent never seen starting one: Codex)

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
