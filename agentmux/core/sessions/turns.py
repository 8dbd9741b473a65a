"""Whether a session's agent is in the middle of a turn, by what it reports of itself.

Held prompts wait for a turn's end, a budget's interrupt is sent only when there may be a turn to
stop, and ``commit`` refuses during a turn. Agents whose hooks report a turn's start (Claude Code,
the demo agent) can be known idle; others are judged by their screen too.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from agentmux.core.agents.events import AGENT_EVENT, PROMPT_SENT, ActivityTracker
from agentmux.core.agents.held_prompts import is_busy
from agentmux.core.metrics.runs import RESUMED
from agentmux.core.records import SessionRecord

if TYPE_CHECKING:
    from agentmux.core.metrics.collector import MetricsCollector
    from agentmux.core.sessions.manager import SessionManager

# After agentmux types a prompt, how long the agent counts as busy before it reports the turn.
TYPED_GRACE = 30.0
#: The agents whose hooks report a turn's start as well as its end.
HOOKED_TURNS = ("claude", "demo")


class Turns:
    """Tells whether the agents of one :class:`SessionManager` are in a turn."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        # Transcript readers for telling interrupted turns, kept between calls (see busy).
        self._interruptions: MetricsCollector | None = None
        self._interruptions_lock = threading.Lock()

    def busy(self, session_id: str) -> bool:
        """Whether the agent is in a turn, by its own latest event; a prompt typed since its
        latest event counts too (the agent has not said so yet), for a while."""
        store = self.manager.store
        last = store.last_event(session_id, AGENT_EVENT)
        if last is None:
            return False  # an agent that reports nothing is never held for
        ended_at = float(last["ts"])
        resumed = store.last_event(session_id, RESUMED)
        if resumed is not None and resumed["ts"] > ended_at:
            ended_at = float(resumed["ts"])  # a new run since: the turn of the old one is over
        elif is_busy(str(last["data"].get("event"))):
            # Claude Code fires no hook when the user interrupts a turn: only its transcript
            # says so, and without looking there the agent would stay "busy" for good.
            times = self._interruptions_of(session_id)
            if not times:
                return True
            tracker = ActivityTracker()
            for event in store.events(session_id, kinds=(AGENT_EVENT, PROMPT_SENT)):
                tracker.feed(event)
            tracker.note_interrupts(times)
            if is_busy(tracker.last):
                return True
            ended_at = tracker.last_ts
        typed = store.last_event(session_id, PROMPT_SENT)
        return typed is not None and ended_at < typed["ts"] > time.time() - TYPED_GRACE

    def _interruptions_of(self, session_id: str) -> list[float]:
        """When the user interrupted the session's turns, by its transcript (read incrementally:
        a long-lived manager keeps its reader)."""
        record = self.manager.store.session(session_id)
        with self._interruptions_lock:
            if self._interruptions is None:
                self._interruptions = self.manager.metrics_collector()
            # Imported here: the transcript readers cost every verb's start-up otherwise.
            from agentmux.core.metrics.collector import interruptions  # noqa: PLC0415

            return interruptions(self._interruptions.usage(record))

    def may_be_in_turn(self, record: SessionRecord) -> bool:
        """Whether an interrupt may have a turn to stop. Only agents whose hooks report a turn's
        start (Claude Code, the demo agent) can be known idle; Codex reports only a turn's end
        and other commands nothing, so they are always interrupted."""
        m = self.manager
        if m.profile_of(record).kind not in HOOKED_TURNS:
            return True
        if m.store.last_event(record.id, AGENT_EVENT) is None:
            return True
        return self.busy(record.id)

    def in_turn(self, record: SessionRecord) -> bool:
        """Whether the session's agent may be in the middle of a turn now (never when it is not
        running). Agents whose hooks report a turn's start (Claude Code, the demo agent) are known
        by their hooks; any other (Codex, a command, one that reported nothing yet) counts as in a
        turn too while its screen changed within ``idle_seconds``."""
        m = self.manager
        idle = m.idle_seconds(m.store.session(record.id), m.panes_by_session())
        if idle is None:
            return False
        hooks = m.store.last_event(record.id, AGENT_EVENT) is not None
        if hooks and m.profile_of(record).kind in HOOKED_TURNS:
            return self.busy(record.id)
        return self.busy(record.id) or idle < m.config.idle_seconds
