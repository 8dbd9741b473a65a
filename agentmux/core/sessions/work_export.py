"""The host's side of a session driven from another machine: its work, ready to be fetched.

The driving agentmux sees a session's committed work by fetching its branch. Its work in progress
(changed and untracked files) is a snapshot (:mod:`agentmux.core.git.snapshots`): taken here,
its objects copied into the repository, and pointed at by ``refs/agentmux/wip/<name>`` so one
``git fetch`` brings the branch and the work in progress together. Nothing in the worktree, its
index or its branch is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git

if TYPE_CHECKING:
    from agentmux.core.sessions.manager import SessionManager

#: Where each session's latest exported work in progress is kept (``<prefix><name>``).
WIP_PREFIX = "refs/agentmux/wip/"


def export_work(manager: SessionManager, name: str) -> dict[str, Any]:
    """Snapshot session ``name``'s worktree into ``refs/agentmux/wip/<name>``: what was
    exported (``wip``: the snapshot commit, ``head``: its parent, ``dirty``: whether it differs
    from that parent), or why not (``unavailable``)."""
    record = manager.get(name)
    branch = f"refs/heads/{record.branch}"
    tip = git.resolve_commit(manager.repo, branch) if git.ref_exists(manager.repo, branch) else None
    found: dict[str, Any] = {"id": record.id, "name": name, "tip": tip, "wip_ref": None}
    worktree = manager.host.own_worktree(Path(record.worktree))
    if worktree is None:
        return {**found, "unavailable": "its worktree is missing"}
    store = manager.host.snapshots(manager.repo)
    try:
        snap = store.take(record.id, worktree)
    except AgentmuxError as exc:
        return {**found, "unavailable": exc.message}
    if snap.commit is None:
        return {**found, "unavailable": snap.unavailable or "it could not be snapshotted"}
    have = [snap.head] if snap.head else []
    git.copy_objects(manager.repo.root, store.env, manager.repo, [snap.commit], have)
    ref = WIP_PREFIX + name
    git.run_git(["update-ref", ref, snap.commit], manager.repo.root)
    head_tree = (
        git.git_out(["rev-parse", f"{snap.head}^{{tree}}"], manager.repo.root)
        if snap.head
        else None
    )
    return {
        **found,
        "wip_ref": ref,
        "wip": snap.commit,
        "tree": snap.tree,
        "head": snap.head,
        "dirty": snap.tree != head_tree,
        "unavailable": None,
    }
