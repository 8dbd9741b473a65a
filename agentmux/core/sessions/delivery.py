"""Typing prompts into agents: a session's first prompt once the agent is ready, ``send`` and
``broadcast``, in the order they were given.

Only the pane tmux confirms is tagged with the session's id is typed into. A prompt for an agent
in the middle of a turn is held (see :mod:`agentmux.core.sessions.held`); a session's first prompt
(from ``new``) always goes before any sent after it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agentmux.core.agents.events import PROMPT_SENT
from agentmux.core.agents.first_prompt import (
    NOT_DELIVERED,
    cancel_first_prompt,
    first_prompt_waits,
    note_first_prompt,
)
from agentmux.core.agents.prompts import sanitize_prompt
from agentmux.core.agents.readiness import wait_ready
from agentmux.core.errors import AgentmuxError
from agentmux.core.events import PromptDelivered, PromptNotDelivered
from agentmux.core.host import PaneInfo
from agentmux.core.locking import try_lock, wait_lock
from agentmux.core.records import SessionRecord, Status

if TYPE_CHECKING:
    from agentmux.core.sessions.manager import SessionManager

#: Seconds `send` waits for another process delivering held prompts to the same session.
DELIVER_LOCK_WAIT = 2.0


class Delivery:
    """Types prompts into the agents of one :class:`SessionManager`."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager

    def deliver_prompt(self, session_id: str) -> bool:
        """Type a session's pending prompt once the agent is ready; True when delivered.

        One process at a time waits for a given session (a per-session lock); another finds the
        lock taken and leaves the delivery to it. Ctrl-C while waiting cancels the prompt: typed
        later, it could land after prompts sent since.
        """
        with try_lock(self.manager.lock_file("deliver", session_id)) as mine:
            return mine and self._deliver_first(session_id)

    def _deliver_first(self, session_id: str) -> bool:
        """:meth:`deliver_prompt`, the session's deliver lock held."""
        m = self.manager
        record = m.store.session(session_id)
        if not record.prompt_pending or record.status is not Status.RUNNING:
            return False
        profile = m.profile_of(record)
        try:
            problem = wait_ready(m.host, record.id, profile)
        except KeyboardInterrupt:
            raise cancel_first_prompt(m.store, record) from None
        if problem is None:
            prompt = m.store.claim_prompt(session_id)
            if prompt is None:
                return False
            if self._paste(record, prompt, submit=True):
                m.store.record_event(session_id, "prompt_sent", {"bytes": len(prompt)})
                note_first_prompt(m.store, session_id, prompt)
                m.emit(PromptDelivered(record.name, record.id, len(prompt)))
                m.held.deliver_oldest(session_id)  # one sent meanwhile, held behind it
                return True
            problem = "the agent's pane went away"
        m.store.record_event(session_id, NOT_DELIVERED, {"reason": problem})
        m.emit(PromptNotDelivered(record.name, record.id, problem))
        return False

    def _paste(self, record: SessionRecord, data: bytes, *, submit: bool) -> bool:
        """Type into the session's agent: only into the pane tmux confirms is tagged with its
        id (its stored pane id names nothing for sure once the tmux server has restarted)."""
        if record.tmux_pane_id is None:
            return False
        delay = self.manager.profile_of(record).submit_delay
        return self.manager.host.paste(
            record.tmux_pane_id, data, tag=record.id, submit=submit, submit_delay=delay
        )

    def send(self, name: str, text: bytes, *, submit: bool, hold: bool) -> SessionRecord:
        """Type ``text`` into a running session's agent, as a bracketed paste, then Enter.

        With ``hold``, a prompt for an agent in the middle of a turn (as its hooks report) is
        kept and typed when the agent is idle again, after any prompts held before it. Without
        ``submit`` (keys typed live in the TUI) it is typed at once.
        """
        m = self.manager
        record = m.get(name)
        pane = self.running_pane(record, m.panes_by_session())
        if not submit:
            return self.type_prompt(record, pane, text, submit=False)
        self._await_first_ready(record)
        return self.type_or_hold(record, pane, text, hold=hold)

    def type_or_hold(
        self, record: SessionRecord, pane: PaneInfo, text: bytes, *, hold: bool
    ) -> SessionRecord:
        """Type a prompt after the session's first prompt and, with ``hold``, after the turn
        under way and the prompts held before it; until then it is held.

        One process at a time types into an agent (the session's deliver lock): two pastes at
        once interleave into one garbled prompt. A process typing right now (``new`` with its
        first prompt, a turn's end with a held one) starts a turn, so ours is held behind it.
        """
        m = self.manager
        with wait_lock(m.lock_file("deliver", record.id), DELIVER_LOCK_WAIT) as mine:
            if mine:
                if first_prompt_waits(m.store, record.id):
                    self._deliver_first(record.id)
                behind = first_prompt_waits(m.store, record.id)
                if not hold and not behind:
                    return self.type_prompt(record, pane, text, submit=True)
                if not m.held.hold_unless_idle(record, pane, text, behind=behind):
                    return record
            elif not hold:
                raise AgentmuxError(
                    f"{record.name} is taking another prompt right now: send again in a moment, "
                    "or without --now to have it typed after that one."
                )
            else:
                m.held.hold(record, text)
        # The turn may have ended since we looked, its Stop hook finding the lock taken: look
        # again now that the prompt is recorded and the lock let go, or it could wait for good.
        m.held.deliver_held(record.id, wait=True)
        return record

    def _await_first_ready(self, record: SessionRecord) -> None:
        """A prompt sent just after ``new`` waits for the agent to be ready, as ``new``'s own
        prompt does: typed earlier, it could land in a start-up question or be lost."""
        if record.started_at is None:
            return
        m = self.manager
        profile = m.profile_of(record)
        if profile.ready_pattern is None or time.time() - record.started_at > profile.ready_timeout:
            return  # without a pattern there is nothing reliable to wait for
        if m.store.last_event(record.id, PROMPT_SENT) is not None:
            return  # it has taken a prompt already: it was ready once
        problem = wait_ready(m.host, record.id, profile)
        if problem is not None:
            raise AgentmuxError(f"{record.name} is not ready for a prompt: {problem}.")

    def type_prompt(
        self, record: SessionRecord, pane: PaneInfo, text: bytes, *, submit: bool
    ) -> SessionRecord:
        """Type ``text`` into the session's pane now (its budget checked first)."""
        m = self.manager
        m.budgets.check(record)
        data = sanitize_prompt(text)
        delay = m.profile_of(record).submit_delay
        if not m.host.paste(pane.pane_id, data, tag=record.id, submit=submit, submit_delay=delay):
            m.reconcile()
            raise AgentmuxError(f"session {record.name!r} is not running any more.")
        m.store.record_event(record.id, "prompt_sent", {"bytes": len(data)})
        note_first_prompt(m.store, record.id, data)
        m.emit(PromptDelivered(record.name, record.id, len(data)))
        return record

    def broadcast(self, text: bytes, to: str) -> list[str]:
        """Send ``text`` to several running sessions; return the names it reached.

        ``to`` is ``all``, ``idle`` (no screen change for ``idle_seconds``) or ``NAME,NAME``.
        """
        m = self.manager
        records = [r for r in m.reconcile() if r.status is Status.RUNNING]
        if to == "all":
            targets = records
        elif to == "idle":
            panes = m.last_panes
            targets = [
                r
                for r in records
                if (idle := m.idle_seconds(r, panes)) is not None and idle >= m.config.idle_seconds
            ]
        else:
            names = [n.strip() for n in to.split(",") if n.strip()]
            by_name = {r.name: r for r in records}
            for n in names:
                record = m.get(n)
                if n not in by_name:
                    raise AgentmuxError(f"session {n!r} is not running ({record.status}).")
            targets = [by_name[n] for n in names]
        panes = m.last_panes  # listed by the reconcile above: one tmux call for all targets
        for record in targets:
            self.type_or_hold(record, self.running_pane(record, panes), text, hold=True)
        return [r.name for r in targets]

    def running_pane(self, record: SessionRecord, panes: dict[str, PaneInfo]) -> PaneInfo:
        """The pane of a running session's agent; one sentence when it is not running."""
        m = self.manager
        if record.status is not Status.RUNNING:
            raise AgentmuxError(f"session {record.name!r} is not running ({record.status}).")
        pane = panes.get(record.id)
        if pane is None or pane.dead or m.host.read_exit(record.id) is not None:
            m.reconcile()
            raise AgentmuxError(f"session {record.name!r} is not running any more.")
        return pane

    def pending_deliveries(self) -> list[SessionRecord]:
        """See :meth:`SessionManager.pending_deliveries`."""
        store = self.manager.store
        pending = [r for r in store.sessions() if r.status is Status.RUNNING and r.prompt_pending]
        return [r for r in pending if store.last_event(r.id, NOT_DELIVERED) is None]
