"""Removing a session in an order that never loses work: every check first, then stop, archive,
delete.

:class:`Removal` holds what the steps share. :meth:`Removal.preflight` runs everything that can
fail before anything is stopped: the refusals of a plain ``rm`` and, for ``rm --force``, a full
dry run of the archive (nested repositories read and copied, objects written, every ref locked and
checked, the branch's deletion too). The caller then stops the agent; :meth:`Removal.archive` ends
any other process in the worktree and archives for real, and if that fails nothing has been
deleted, so the same ``rm --force`` can run again; :meth:`Removal.delete` comes last.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.nested import NestedSnapshotter, snapshotter
from agentmux.core.git.safety import (
    Archive,
    WorkAtRisk,
    Worktree,
    archive,
    archive_name,
    work_at_risk,
)
from agentmux.core.git.safety import worktree_state as state_of
from agentmux.core.records import SessionRecord
from agentmux.core.tmux.occupants import Occupant, describe, end_occupants, occupants

if TYPE_CHECKING:
    from agentmux.core.host.protocol import Host


class Removal:
    """One session's removal (use :func:`removal`, which cleans up its scratch space)."""

    def __init__(
        self,
        host: Host,
        repo: git.Repo,
        record: SessionRecord,
        nested: NestedSnapshotter,
        *,
        force: bool,
        delete_branch: bool,
        merged: Callable[[WorkAtRisk], WorkAtRisk] = lambda risk: risk,
    ) -> None:
        self.host = host
        self.repo = repo
        # Takes out of the risk what is merged by other means (a squash merge's commits).
        self._merged = merged
        # The queue tick a pane's wrapper starts in the worktree is agentmux's own: processes
        # whose command line names its script never count as being in the worktree.
        self._spare = (str(host.tick_script),)
        self.record = record
        self.force = force
        self.delete_branch = delete_branch
        self.worktree = Path(record.worktree)
        self.state = state_of(repo, record)
        self._nested = nested
        self._ref = archive_name(record)
        self._branch_ref = f"refs/heads/{record.branch}"
        #: a directory left where the worktree was, because it is not the session's worktree
        self.left_in_place: str | None = None

    def _occupants(self, agent_pid: int | None = None) -> list[Occupant]:
        # A plain directory is never deleted, so what runs in it is not in the way.
        if self.state is not Worktree.OURS:
            return []
        return occupants(self.worktree, besides=agent_pid, spare=self._spare)

    def preflight(self, *, agent_alive: bool, agent_pid: int | None) -> None:
        """Refuse (one sentence, nothing changed) unless every later step can work."""
        name = self.record.name
        if self.delete_branch:
            elsewhere = [
                p
                for p in git.branch_checked_out_in(self.repo, self.record.branch)
                if p != self.worktree
            ]
            if elsewhere:
                raise AgentmuxError(
                    f"not removing {name!r}: its branch {self.record.branch} is checked out in "
                    f"{elsewhere[0]}, so it cannot be deleted; switch that worktree away first."
                )
        found = self._occupants(agent_pid if agent_alive else None)
        deleted = (self._branch_ref,) if self._deletes_branch() else ()
        if not self.force:
            self._refuse_unless_safe(agent_alive, found)
            if deleted:
                git.update_refs(self.repo, {}, "agentmux rm", dry_run=True, delete=deleted)
            return
        theirs = [o for o in found if not o.ours]
        if theirs:
            raise AgentmuxError(
                f"not removing {name!r}: another user's process is in its worktree, which "
                f"agentmux cannot end: {describe(theirs)}; nothing was stopped or removed."
            )
        try:
            archive(
                self.repo, self.record, self._nested, ref=self._ref, dry_run=True, delete=deleted
            )
        except AgentmuxError as exc:
            raise AgentmuxError(
                f"not removing {name!r}: {exc.message.rstrip('.')}; nothing was stopped or removed."
            ) from exc

    def _deletes_branch(self) -> bool:
        return self.delete_branch and git.ref_exists(self.repo, self._branch_ref)

    def _refuse_unless_safe(self, agent_alive: bool, found: list[Occupant]) -> None:
        problems: list[str] = []
        if agent_alive:
            problems.append("its agent is still running (stop it first)")
        if found:
            problems.append(f"a process is still in its worktree: {describe(found)}")
        try:
            risk = self._merged(work_at_risk(self.repo, self.record))
        except AgentmuxError as exc:
            raise AgentmuxError(
                f"not removing {self.record.name!r}: {exc.message.rstrip('.')}; nothing was "
                "removed (move it out of the worktree, or repair it, and try again)."
            ) from exc
        if not risk.empty:
            problems.append(f"it has {risk.describe()}")
        if problems:
            plain = ", and that directory is left as it is" if risk.plain_entries else ""
            raise AgentmuxError(
                f"not removing {self.record.name!r}: "
                + "; ".join(problems)
                + ". Use --force to remove it anyway (processes in its worktree are ended; its "
                f"work is kept on archive refs{plain})."
            )

    def archive(self) -> Archive:
        """With ``force`` (the agent already stopped): end what else runs in the worktree, then
        archive everything. On failure nothing is deleted and the removal can be run again."""
        if not self.force:
            return Archive(None)
        name = self.record.name
        found = self._occupants()
        left = end_occupants(self.worktree, found, spare=self._spare) if found else []
        if left:
            raise AgentmuxError(
                f"not removing {name!r}: these processes in its worktree did not end: "
                f"{describe(left)}; nothing was removed."
            )
        try:
            return archive(self.repo, self.record, self._nested, ref=self._ref)
        except AgentmuxError as exc:
            raise AgentmuxError(
                f"could not archive {name!r} after stopping its agent: {exc.message.rstrip('.')};"
                f" nothing was removed, so `agentmux rm --force {name}` can be run again."
            ) from exc

    def delete(self) -> None:
        """Remove the worktree (never while a process is in it), the repository's record of it,
        and with ``delete_branch`` the branch. A directory that is not the session's worktree
        is left as it is, unless it is empty."""
        if self.state is Worktree.OURS:
            found = self._occupants()
            if found:
                raise AgentmuxError(
                    f"not removing {self.record.name!r}: a process is in its worktree: "
                    f"{describe(found)}."
                )
            self.host.remove_worktree(self.repo, self.worktree)
        elif self.state is Worktree.PLAIN:
            with contextlib.suppress(OSError):
                self.worktree.rmdir()  # only ever succeeds on an empty directory
            if self.worktree.exists() or self.worktree.is_symlink():
                self.left_in_place = str(self.worktree)
        git.forget_worktree(self.repo, self.worktree)
        if self._deletes_branch():
            git.delete_branch(self.repo, self.record.branch)


@contextlib.contextmanager
def removal(
    host: Host,
    repo: git.Repo,
    record: SessionRecord,
    *,
    force: bool,
    delete_branch: bool,
    merged: Callable[[WorkAtRisk], WorkAtRisk] = lambda risk: risk,
) -> Iterator[Removal]:
    """A :class:`Removal` of ``record`` on ``host``, its scratch object store deleted
    afterwards."""
    with snapshotter(repo) as nested:
        yield Removal(
            host, repo, record, nested, force=force, delete_branch=delete_branch, merged=merged
        )


def discard_new_worktree(host: Host, repo: git.Repo, record: SessionRecord) -> str | None:
    """Remove the worktree and branch of a session created moments ago (they hold no work yet),
    ending first any process in the worktree (only ever one agentmux just started). Returns why
    it could not, keeping both, or None."""
    worktree = Path(record.worktree)
    spare = (str(host.tick_script),)
    if host.is_worktree_of(repo, worktree):
        found = occupants(worktree, spare=spare)
        left = end_occupants(worktree, found, spare=spare) if found else []
        if left:
            return f"these processes in its worktree did not end: {describe(left)}"
        host.remove_worktree(repo, worktree)
    git.forget_worktree(repo, worktree)
    if git.ref_exists(repo, f"refs/heads/{record.branch}"):
        git.delete_branch(repo, record.branch)
    return None
