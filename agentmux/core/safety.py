"""What removing a session would lose, and keeping it reachable before anything is removed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agentmux.core import git
from agentmux.core.records import SessionRecord

ARCHIVE_PREFIX = "refs/agentmux/archive/"


@dataclass(frozen=True)
class WorkAtRisk:
    """What removing a session's worktree would lose."""

    dirty_paths: list[str]
    unmerged_commits: list[str]
    base: str

    @property
    def empty(self) -> bool:
        """Nothing would be lost."""
        return not self.dirty_paths and not self.unmerged_commits

    def describe(self) -> str:
        """A clause naming what is at risk."""
        parts: list[str] = []
        if self.dirty_paths:
            shown = ", ".join(self.dirty_paths[:3]) + (" ..." if len(self.dirty_paths) > 3 else "")
            parts.append(f"{len(self.dirty_paths)} uncommitted or untracked path(s) ({shown})")
        if self.unmerged_commits:
            parts.append(f"{len(self.unmerged_commits)} commit(s) not in {self.base}")
        return " and ".join(parts)


def _tips(repo: git.Repo, record: SessionRecord) -> list[str]:
    """Every commit the session's work may end at: its branch and its worktree's HEAD.

    They differ when the agent detached HEAD or switched branches; the worktree's HEAD reflog dies
    with the worktree, so both count.
    """
    tips: list[str] = []
    if git.ref_exists(repo, f"refs/heads/{record.branch}"):
        tips.append(f"refs/heads/{record.branch}")
    worktree = Path(record.worktree)
    if worktree.is_dir():
        head = git.worktree_head(worktree)
        if head is not None:
            tips.append(head)
    return tips


def work_at_risk(repo: git.Repo, record: SessionRecord) -> WorkAtRisk:
    """Uncommitted and untracked paths, and commits not in the base, that removal would drop."""
    base = record.base_ref
    base_ref = f"refs/heads/{base}"
    base_rev = base_ref if git.ref_exists(repo, base_ref) else record.base_commit
    worktree = Path(record.worktree)
    dirty = git.dirty_paths(worktree) if worktree.is_dir() else []
    unmerged = git.commits_not_in(repo, _tips(repo, record), base_rev)
    shown = base if base_rev == base_ref else base[:12]
    return WorkAtRisk(dirty, unmerged, shown)


def archive(repo: git.Repo, record: SessionRecord) -> str | None:
    """Record all of a session's work on ``refs/agentmux/archive/<name>/<time>-<id>``.

    The archive commit holds the worktree exactly as it is (uncommitted and untracked files too,
    ignored ones not), with the worktree's HEAD and the branch tip as parents, so every commit
    stays reachable even if the branch is deleted. None when there is nothing to keep.
    """
    worktree = Path(record.worktree)
    branch_ref = f"refs/heads/{record.branch}"
    branch_tip = repo.git(["rev-parse", branch_ref]) if git.ref_exists(repo, branch_ref) else None
    if worktree.is_dir():
        commit = git.snapshot_commit(
            worktree,
            f"agentmux: archive of session {record.name} (its worktree as it was)\n",
            extra_parents=[branch_tip] if branch_tip else [],
        )
    elif branch_tip is not None:
        commit = branch_tip
    else:
        return None
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    ref = f"{ARCHIVE_PREFIX}{record.name}/{stamp}-{record.id[:8]}"
    git.update_ref(repo, ref, commit, f"agentmux rm --force {record.name}")
    return ref
