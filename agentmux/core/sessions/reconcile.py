"""Keeping session records true to tmux: which agents run, which exited (and how), which were
lost with their tmux session or server, and which were found again.

The records are agentmux's memory; tmux (and each pane wrapper's exit file) is the truth. A
reconcile lists the panes once, adopts untagged orphans, brings every live or lost record in line,
and then (unless told not to) lets the queue start what fits.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from agentmux.core.events import SessionExited, SessionLost
from agentmux.core.host import PaneInfo
from agentmux.core.records import SessionRecord, Status

if TYPE_CHECKING:
    from agentmux.core.sessions.manager import SessionManager

#: The fields of a record that name its tmux objects, cleared once they name nothing.
NO_TMUX_IDS = {"tmux_session_id": None, "tmux_window_id": None, "tmux_pane_id": None}


class Reconciler:
    """Brings the records of one :class:`SessionManager` in line with its host's tmux server."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager

    def panes_by_session(
        self, *, settle: bool = False, listing: list[PaneInfo] | None = None
    ) -> dict[str, PaneInfo]:
        """The agents' tmux panes, keyed by the agentmux session id tagged on each (from
        ``listing`` when the caller has just listed them).

        With ``settle``, wait (a few seconds at most) until every pane that just died has its exit
        status, so an exit is never recorded as "status unknown" only because tmux was busy.
        """
        host = self.manager.host
        listed = host.panes() if listing is None else listing
        panes = {pane.agentmux_id: pane for pane in listed if pane.agentmux_id}
        while settle and any(p.status_pending for p in panes.values()):
            time.sleep(0.05)
            panes = {pane.agentmux_id: pane for pane in host.panes() if pane.agentmux_id}
        return panes

    def reconcile(self, *, drain: bool) -> list[SessionRecord]:
        """See :meth:`SessionManager.reconcile` (the repository lock held)."""
        m = self.manager
        m.follow_saved_socket()
        host = m.host
        listing = host.panes()
        records = m.store.sessions()
        for record, pane in host.adopt_orphans(records, listing):
            m.store.record_event(record.id, "orphan_tagged", {"pane_id": pane.pane_id})
            listing = host.panes()
        panes = self.panes_by_session(settle=True, listing=listing)
        # One tmux call in the usual case: panes listed means the server is up.
        server_up = bool(listing) or host.server_running()
        m.last_panes = panes
        for record in records:
            if record.status.is_live or record.status is Status.LOST:
                self._sync(record, panes.get(record.id), server_up)
            elif record.tmux_pane_id is not None and record.id not in panes:
                m.store.update_session(record.id, **NO_TMUX_IDS)  # gone with its pane
        m.started_by_last_drain = [r.id for r in m.lifecycle.drain()] if drain else []
        if m.started_by_last_drain:
            m.last_panes = self.panes_by_session()  # the panes the drain just made
        return m.store.sessions()

    def exit_of(
        self, record: SessionRecord, pane: PaneInfo | None
    ) -> tuple[int, int | None] | None:
        """How the agent ended: from its wrapper's record, else from tmux; None while it runs."""
        recorded = self.manager.host.read_exit(record.id)
        if recorded is not None:
            return recorded
        if pane is not None and pane.dead:
            if pane.dead_signal is not None:
                return 128 + pane.dead_signal, pane.dead_signal
            if pane.dead_status is not None:
                return pane.dead_status, None
        return None

    def _sync(self, record: SessionRecord, pane: PaneInfo | None, server_up: bool) -> None:
        m = self.manager
        now = time.time()
        if pane is not None and m.host.in_view_only(pane):
            # Its own tmux session was killed; only the TUI's view still shows the window. End it
            # as the kill meant to.
            m.host.kill_window_tagged(pane.pane_id, record.id)
            pane = None
        ended = self.exit_of(record, pane)
        if ended is not None or (pane is not None and pane.dead):
            status, sig = ended if ended is not None else (None, None)
            m.store.update_session(
                record.id,
                "exited",
                {"exit_status": status, "exit_signal": sig},
                status=Status.EXITED,
                ended_at=now,
                exit_status=status,
                exit_signal=sig,
            )
            m.emit(SessionExited(record.name, record.id, status, sig))
        elif pane is None:
            if record.status is Status.STARTING:
                # agentmux died while starting it: nothing runs, so it simply waits again.
                m.store.update_session(record.id, "requeued", status=Status.QUEUED)
            elif record.status is not Status.LOST:
                reason = (
                    "its tmux session is gone" if server_up else "the tmux server is not running"
                )
                # Its tmux ids name nothing now, and a new server hands the same ids out again.
                m.store.update_session(
                    record.id,
                    "lost",
                    {"reason": reason, "pane_id": record.tmux_pane_id},
                    status=Status.LOST,
                    ended_at=now,
                    **NO_TMUX_IDS,
                )
                m.emit(SessionLost(record.name, record.id, reason))
        elif record.status is not Status.RUNNING or record.tmux_pane_id != pane.pane_id:
            # Starting (agentmux died before it said so), or lost and found again: it is running.
            m.store.update_session(
                record.id,
                "adopted" if record.status in (Status.LOST, Status.STARTING) else None,
                status=Status.RUNNING,
                ended_at=None,
                tmux_session_id=pane.session_id,
                tmux_window_id=pane.window_id,
                tmux_pane_id=pane.pane_id,
            )
