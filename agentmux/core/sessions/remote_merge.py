"""Sessions on other hosts in a merge: their branches come here by git, and merge like any other.

Before a plan, each host exports its sessions' work in progress and their branches are fetched
(:meth:`~agentmux.core.sessions.remote_sessions.RemoteSessions.exported_work`). A session with
uncommitted work on its host is left out, as a local one is, unless the merge commits work first
(``--commit``): then its host's agentmux commits it there (``agentmux commit``), and the new tip
is fetched before planning. A merge lands on the local base branch; then each host is told
which tip of its session landed (``_merged``, recorded there as a merge made elsewhere), so its
``rm`` counts those commits as merged, as this repository does for a local session.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.records import SessionRecord, Status

if TYPE_CHECKING:
    from agentmux.core.git.merge import MergePlan
    from agentmux.core.sessions.manager import SessionManager


def prepare_remote(
    manager: SessionManager, records: Sequence[SessionRecord], *, commit: bool, dry_run: bool
) -> dict[str, str | None]:
    """Fetch the work of ``records`` (sessions on other hosts), committing it on its host first
    when ``commit`` (and not ``dry_run``); why each cannot be merged now, or None."""
    if not records:
        return {}
    snapshots = manager.remote.exported_work()
    problems: dict[str, str | None] = {}
    for record in records:
        if record.status is Status.UNREACHABLE:
            problems[record.id] = f"its host {record.host} cannot be reached"
            continue
        snap = snapshots.get(record.id)
        if snap is None or snap.tree is None:
            problems[record.id] = (snap.unavailable if snap else None) or "its work was not fetched"
            continue
        head_tree = (
            git.git_out(["rev-parse", f"{snap.head}^{{tree}}"], manager.repo.root)
            if snap.head
            else None
        )
        if snap.tree == head_tree:
            problems[record.id] = None
        elif not commit:
            problems[record.id] = (
                f"it has uncommitted work on host {record.host}; commit it first "
                f"(agentmux commit {record.name}), or merge with --commit"
            )
        elif dry_run:
            problems[record.id] = (
                f"its uncommitted work on host {record.host} is committed there only by a real "
                "merge --commit, not by a dry run"
            )
        else:
            problems[record.id] = _commit_there(manager, record)
    return problems


def _commit_there(manager: SessionManager, record: SessionRecord) -> str | None:
    """Commit the session's work on its host and fetch the new tip; why not, or None."""
    row, remote = manager.remote.require(record.name)
    try:
        remote.run(row.clone, "commit", record.name)
        remote.fetch(manager.repo, row.clone, [f"refs/heads/{record.branch}"])
    except AgentmuxError as exc:
        return f"its work on host {record.host} was not committed: {exc.message.rstrip('.')}"
    return None


def tell_hosts(manager: SessionManager, plan: MergePlan) -> list[str]:
    """After ``plan`` landed here: record on each remote session's host which of its tips
    landed. Returns a sentence for each host not told (its ``rm`` then needs ``--force``)."""
    notes: list[str] = []
    for step in plan.steps:
        row = manager.store.remote_by_id(step.session_id)
        if row is None or row.removed_at is not None:
            continue
        try:
            remote = manager.remote.host(row.host)
            args = ["--into", plan.into, "--tip", step.tip, "--commit", plan.result]
            remote.run(row.clone, "_merged", step.name, *args, *(["--squash"] * plan.squash))
        except AgentmuxError as exc:
            notes.append(
                f"host {row.host} was not told that {step.name} is merged "
                f"({exc.message.rstrip('.')}): removing it there needs --force"
            )
    return notes
