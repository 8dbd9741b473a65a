"""The sessions' side of merging: the conflict radar over their worktrees, a merge plan of the
sessions asked for (their work in progress committed first, on request), landing it, and what a
removal would lose.

How merges are planned and landed lives in :mod:`agentmux.core.git`; this applies it to the sessions
of one repository, and records what was merged in the state store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from agentmux.core.errors import AgentmuxError
from agentmux.core.git.conflict_history import record_merge
from agentmux.core.git.conflicts import ConflictRadar
from agentmux.core.git.integration import prune_integration
from agentmux.core.git.merge import MergePlan, MergeStep, default_into, plan_merge
from agentmux.core.git.merge_landing import land
from agentmux.core.git.merge_landing import recover as recover_landing
from agentmux.core.git.merged import (
    last_squash_merge,
    merged_event_data,
    record_merged,
    without_squash_merged,
)
from agentmux.core.host import WorkAtRisk
from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.commit_work import commit_for_merge
from agentmux.core.sessions.remote_merge import prepare_remote, tell_hosts
from agentmux.core.sessions.remote_sessions import remote_record

if TYPE_CHECKING:
    from agentmux.core.sessions.manager import SessionManager


class Merging:
    """Plans and lands merges of one :class:`SessionManager`'s sessions."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager

    def conflict_radar(self) -> ConflictRadar:
        """See :meth:`SessionManager.conflict_radar`."""
        m = self.manager
        store = m.host.snapshots(m.repo)
        store.prune_if_large()
        return ConflictRadar(store)

    def plan(
        self,
        names: Sequence[str] | None,
        *,
        into: str | None,
        squash: bool,
        commit: bool,
        dry_run: bool,
    ) -> MergePlan:
        """Plan merging the named sessions (every live one when ``names`` is None), after
        finishing what a killed merge left behind (its notes say what). With ``commit``, each
        session's work in progress is committed first (with ``dry_run``, planned as if it were:
        see :func:`agentmux.core.sessions.commit_work.commit_for_merge`)."""
        m = self.manager
        notes = self._before_merge()
        records = [r for r in m.reconcile(drain=False) if r.status is not Status.QUEUED]
        elsewhere = m.remote.records() if names is None else []
        if names is not None:
            records = []
            for name in dict.fromkeys(names):
                if (row := m.remote.find(name)) is not None and (
                    found := remote_record(row)
                ) is not None:
                    elsewhere.append(found)
                else:
                    records.append(m.get(name))
        if not records and not elsewhere:
            raise AgentmuxError("there are no sessions to merge.")
        problems = prepare_remote(m, elsewhere, commit=commit, dry_run=dry_run)
        everything = sorted([*records, *elsewhere], key=lambda r: r.created_at)
        squashed = {r.id: s for r in everything if (s := last_squash_merge(m.store, r.id))}
        target = into or default_into(everything)
        work = commit_for_merge(m, records, dry_run=dry_run) if commit and records else None

        def worktree_problem(record: SessionRecord, committing: bool) -> str | None:
            if record.id in problems:
                return problems[record.id]
            return m.host.unmergeable_work(record, committing)

        plan = plan_merge(
            m.repo,
            everything,
            target,
            squash=squash,
            squashed=squashed,
            work=work,
            worktree_problem=worktree_problem,
        )
        return replace(plan, notes=notes)

    def _before_merge(self) -> tuple[str, ...]:
        m = self.manager
        note = recover_landing(m.repo, m.home, self._record_merged)
        pruned = prune_integration(m.repo, m.home / "integration")
        return (
            *([note] if note else []),
            *(f"removed {p}, left by a killed merge --check" for p in pruned),
        )

    def _record_merged(self, plan: MergePlan, step: MergeStep) -> None:
        if self.manager.store.remote_by_id(step.session_id) is not None:
            return  # its host records it (tell_hosts); events here are this machine's sessions'.
        data = merged_event_data(plan.into, step.tip, plan.result, plan.squash)
        record_merged(self.manager.store, step.session_id, data)

    def land(self, plan: MergePlan) -> list[str]:
        """See :meth:`SessionManager.land_merge`."""
        m = self.manager
        land(m.repo, plan, m.home, self._record_merged)
        record_merge(m.store, plan, m.sessions, m.conflict_radar)
        # After the landing, not inside it: a host slow to answer never holds the landing's
        # lock and signals.
        return tell_hosts(m, plan)

    def work_at_risk(self, record: SessionRecord) -> WorkAtRisk:
        """See :meth:`SessionManager.work_at_risk`."""
        repo = self.manager.repo
        risk = self.manager.host.work_at_risk(repo, record)
        return without_squash_merged(repo, risk, last_squash_merge(self.manager.store, record.id))
