"""Held prompts: a prompt sent to an agent in the middle of a turn is recorded and typed once the
agent is idle again, oldest first, after the session's first prompt.

The agent's Stop hook (a ``_tick``) and every later ``send`` look for held prompts; a per-session
lock file makes one process at a time type them.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from agentmux.core.agents.first_prompt import first_prompt_waits
from agentmux.core.agents.held_prompts import HELD, RELEASED, held_data, pending
from agentmux.core.agents.prompts import sanitize_prompt
from agentmux.core.agents.readiness import wait_ready
from agentmux.core.errors import AgentmuxError
from agentmux.core.events import PromptHeld
from agentmux.core.host import PaneInfo
from agentmux.core.locking import try_lock
from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.delivery import DELIVER_LOCK_WAIT

if TYPE_CHECKING:
    from agentmux.core.sessions.manager import SessionManager


class HeldPrompts:
    """Holds and releases the prompts of one :class:`SessionManager`'s sessions."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager

    def hold_unless_idle(
        self, record: SessionRecord, pane: PaneInfo, text: bytes, *, behind: bool = False
    ) -> bool:
        """Type ``text`` now if the agent is idle and nothing waits before it, else hold it;
        True when held. The caller holds the session's deliver lock."""
        m = self.manager
        m.budgets.check(record)
        # Prompts held earlier go first: one is typed now if the agent is idle (a turn ended by
        # an interruption fires no hook to release it), and this one waits behind it.
        self.deliver_oldest(record.id)
        waiting = pending(m.store.events(record.id, kinds=(HELD, RELEASED)))
        if behind or waiting or m.turns.busy(record.id):
            self.hold(record, text)
            return True
        m.delivery.type_prompt(record, pane, text, submit=True)
        return False

    def hold(self, record: SessionRecord, text: bytes) -> None:
        """Record ``text`` as held for the session, after any held before it."""
        m = self.manager
        m.budgets.check(record)
        waiting = pending(m.store.events(record.id, kinds=(HELD, RELEASED)))
        m.store.record_event(
            record.id, HELD, held_data(uuid.uuid4().hex, sanitize_prompt(text), True)
        )
        m.emit(PromptHeld(record.name, record.id, len(waiting) + 1))

    def deliver_held(self, session_id: str, *, wait: bool = False) -> bool:
        """Type the oldest held prompt if the agent is idle now; True when one was typed. With
        ``wait``, a delivery under way elsewhere for this session is waited for (a moment), then
        we look again; without it, that delivery is left to do it."""
        lock = self.manager.lock_file("deliver", session_id)
        # A delivery under way may have read the held prompts before ours. One that found
        # nothing to type lets go at once; one that types is starting a turn, whose end releases
        # ours. So a short wait is enough, and `send` never waits on an agent's start-up.
        deadline = time.monotonic() + (DELIVER_LOCK_WAIT if wait else 0.0)
        while True:
            with try_lock(lock) as mine:
                if mine:
                    return self.deliver_oldest(session_id)
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def deliver_oldest(self, session_id: str) -> bool:
        """Type the oldest held prompt if the agent is idle (the deliver lock held)."""
        m = self.manager
        record = m.store.session(session_id)
        if record.status is not Status.RUNNING:
            return False
        if first_prompt_waits(m.store, session_id):
            return False  # the first prompt is typed first (deliver_prompt releases these)
        waiting = pending(m.store.events(session_id, kinds=(HELD, RELEASED)))
        if not waiting or m.turns.busy(session_id):
            return False
        profile = m.profile_of(record)
        if wait_ready(m.host, record.id, profile) is not None:
            return False
        first = waiting[0]
        try:
            pane = m.delivery.running_pane(record, m.panes_by_session())
            m.delivery.type_prompt(record, pane, first.text, submit=first.submit)
        except AgentmuxError:
            return False  # e.g. its budget was reached: the prompt stays held
        waited = round(time.time() - first.held_at, 3)
        m.store.record_event(session_id, RELEASED, {"hold_id": first.hold_id, "wait": waited})
        return True

    def deliver_held_all(self, *, wait: bool = False) -> list[str]:
        """See :meth:`SessionManager.deliver_held_all`."""
        store = self.manager.store
        sessions = {e["session_id"] for e in store.events(kinds=(HELD,))}
        return [
            r.name
            for r in store.sessions()
            if r.id in sessions
            and r.status is Status.RUNNING
            and self.deliver_held(r.id, wait=wait)
        ]
