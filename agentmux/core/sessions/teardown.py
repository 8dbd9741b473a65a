"""Ending sessions: stop an agent (or take a queued session off the queue), and remove a session
in the order :mod:`agentmux.core.host.removal` lays down, never losing work.

Both hold the repository lock and, once a slot is free, start what waits in the queue.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agentmux.core.errors import AgentmuxError
from agentmux.core.events import SessionRemoved, SessionStopped
from agentmux.core.git.merged import last_squash_merge, without_squash_merged
from agentmux.core.host import PaneInfo
from agentmux.core.records import SessionRecord, Status

if TYPE_CHECKING:
    from agentmux.core.sessions.manager import SessionManager


class Teardown:
    """Stops and removes the sessions of one :class:`SessionManager`."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager

    def terminate(self, record: SessionRecord) -> PaneInfo | None:
        """End the agent of a session if it runs; return its pane afterwards."""
        m = self.manager
        pane = m.panes_by_session().get(record.id)
        if pane is not None and pane.pane_pid is not None and not pane.dead:
            m.host.terminate_agent(pane, lambda: self._pane_dead(record.id))
            pane = m.panes_by_session(settle=True).get(record.id)
        return pane

    def _pane_dead(self, session_id: str) -> bool:
        pane = self.manager.panes_by_session().get(session_id)
        return pane is None or pane.dead

    def stop(self, name: str) -> SessionRecord:
        """See :meth:`SessionManager.stop`."""
        m = self.manager
        with m.locked():
            m.reconcile(drain=False, locked=True)
            record = m.get(name)
            if record.status is Status.QUEUED:
                m.store.update_session(
                    record.id, "dequeued", status=Status.STOPPED, ended_at=time.time(), prompt=None
                )
            elif record.status.is_live:
                pane = self.terminate(record)
                status, sig = m.reconciler.exit_of(record, pane) or (None, None)
                m.store.update_session(
                    record.id,
                    "stopped",
                    {"exit_status": status, "exit_signal": sig},
                    status=Status.STOPPED,
                    ended_at=time.time(),
                    exit_status=status,
                    exit_signal=sig,
                )
            else:
                raise AgentmuxError(f"session {name!r} is not running ({record.status}).")
            m.emit(SessionStopped(record.name, record.id))
            m.drain_locked()
            return m.store.session(record.id)

    def remove(self, name: str, *, force: bool, delete_branch: bool) -> SessionRecord:
        """Remove a session's worktree (and tmux session), never losing work.

        Without ``force`` it refuses a running agent, a process in the worktree and any work not
        in the base. With ``force`` everything that can fail is tried first (see
        :mod:`agentmux.core.host.removal`); then the agent is stopped, then all its work
        recorded on ``refs/agentmux/archive/<name>/<time>-<id>`` (and refs beside it for nested
        repositories), and only then is anything removed.
        """
        m = self.manager
        with m.locked():
            m.reconcile(drain=False, locked=True)
            record = m.get(name)
            pane = m.panes_by_session().get(record.id)
            alive = pane is not None and not pane.dead
            squash = last_squash_merge(m.store, record.id)
            with m.host.removal(
                m.repo,
                record,
                force=force,
                delete_branch=delete_branch,
                merged=lambda risk: without_squash_merged(m.repo, risk, squash),
            ) as plan:
                plan.preflight(agent_alive=alive, agent_pid=pane.pane_pid if pane else None)
                if alive:
                    # Stopped before the snapshot, so nothing it writes while ending is lost.
                    pane = self.terminate(record)
                kept = plan.archive()
                if pane is not None:
                    m.host.kill_agent_session(pane)
                plan.delete()
            m.store.update_session(
                record.id,
                "removed",
                {
                    "archive_ref": kept.ref,
                    "nested_refs": kept.nested_refs,
                    "left_in_place": plan.left_in_place,
                    "branch_deleted": delete_branch,
                },
                status=Status.REMOVED,
                removed_at=time.time(),
                archive_ref=kept.ref,
                ended_at=record.ended_at or time.time(),
                prompt=None,
            )
            m.emit(
                SessionRemoved(
                    record.name,
                    record.id,
                    kept.ref,
                    tuple(kept.nested_refs),
                    tuple(kept.files_only),
                    plan.left_in_place,
                )
            )
            m.drain_locked()
            if not m.host.panes():
                m.host.kill_server()  # nothing left on it: no idle server lingers
            return m.store.session(record.id)
