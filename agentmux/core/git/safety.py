"""What removing a session would lose, and keeping it reachable before anything is removed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from agentmux.core.git import repo as git
from agentmux.core.git.nested import NestedSnapshotter, NestedWork, archive_refs, nested_work
from agentmux.core.git.reachability import commits_not_in, joining_commit
from agentmux.core.git.worktree_commit import snapshot_commit
from agentmux.core.records import SessionRecord

ARCHIVE_PREFIX = "refs/agentmux/archive/"


class Worktree(StrEnum):
    """What is at a session's worktree path."""

    OURS = "ours"  # the session's git worktree
    MISSING = "missing"  # nothing: deleted behind agentmux's back
    PLAIN = "plain"  # a directory that is not this repository's worktree (made again by hand)


def worktree_state(repo: git.Repo, record: SessionRecord) -> Worktree:
    """Whether the session's worktree path holds its git worktree, nothing, or something else."""
    path = Path(record.worktree)
    if git.is_worktree_of(repo, path):
        return Worktree.OURS
    return Worktree.PLAIN if os.path.lexists(path) else Worktree.MISSING


def _entries(path: Path) -> int:
    """How many files and directories are under ``path`` (0 when it cannot be read)."""
    try:
        return (
            sum(len(dirs) + len(files) for _root, dirs, files in os.walk(path))
            if path.is_dir()
            else 1
        )
    except OSError:
        return 0


@dataclass(frozen=True)
class WorkAtRisk:
    """What removing a session's worktree would lose."""

    dirty_paths: list[str]
    unmerged_commits: list[str]
    base: str
    #: repositories nested in the worktree with work of their own
    nested: list[NestedWork] = field(default_factory=list)
    #: a plain directory (with this many entries) where the worktree was
    plain_dir: str | None = None
    plain_entries: int = 0

    @property
    def empty(self) -> bool:
        """Nothing would be lost."""
        return not (self.dirty_paths or self.unmerged_commits or self.nested or self.plain_entries)

    def describe(self) -> str:
        """A clause naming what is at risk."""
        parts: list[str] = []
        if self.dirty_paths:
            shown = ", ".join(self.dirty_paths[:3]) + (" ..." if len(self.dirty_paths) > 3 else "")
            parts.append(f"{len(self.dirty_paths)} uncommitted or untracked path(s) ({shown})")
        if self.unmerged_commits:
            parts.append(f"{len(self.unmerged_commits)} commit(s) not in {self.base}")
        if self.nested:
            shown = ", ".join(work.describe() for work in self.nested[:3])
            more = " ..." if len(self.nested) > 3 else ""
            parts.append(f"{len(self.nested)} nested repositor(ies) with work: {shown}{more}")
        if self.plain_entries:
            parts.append(
                f"a plain directory at its worktree path {self.plain_dir}, not its git worktree "
                f"({self.plain_entries} file(s) and folder(s) in it)"
            )
        return " and ".join(parts)


def _tips(repo: git.Repo, record: SessionRecord, state: Worktree) -> list[str]:
    """Every commit the session's work may end at: its worktree's HEAD and its branch.

    They differ when the agent detached HEAD or switched branches; the worktree's HEAD reflog dies
    with the worktree, so both count. A worktree deleted behind agentmux's back still has its HEAD
    in the repository's own record of it until that is pruned.
    """
    tips: list[str] = []
    worktree = Path(record.worktree)
    head = (
        git.worktree_head(worktree)
        if state is Worktree.OURS
        else git.registered_head(repo, worktree)
    )
    if head is not None:
        tips.append(head)
    if git.ref_exists(repo, f"refs/heads/{record.branch}"):
        tips.append(f"refs/heads/{record.branch}")
    return tips


def work_at_risk(repo: git.Repo, record: SessionRecord) -> WorkAtRisk:
    """Uncommitted and untracked paths, commits not in the base, work in nested repositories and
    files in a plain directory at the worktree path, that removal would drop."""
    base = record.base_ref
    base_ref = f"refs/heads/{base}"
    base_rev = base_ref if git.ref_exists(repo, base_ref) else record.base_commit
    worktree = Path(record.worktree)
    state = worktree_state(repo, record)
    dirty = git.dirty_paths(worktree) if state is Worktree.OURS else []
    nested = nested_work(worktree) if state is Worktree.OURS else []
    unmerged = commits_not_in(repo, _tips(repo, record, state), base_rev)
    shown = base if base_rev == base_ref else base[:12]
    plain = str(worktree) if state is Worktree.PLAIN else None
    entries = _entries(worktree) if state is Worktree.PLAIN else 0
    return WorkAtRisk(dirty, unmerged, shown, nested, plain, entries)


@dataclass(frozen=True)
class Archive:
    """The refs an archive made (or, in a dry run, would make)."""

    ref: str | None
    #: every ref, the worktree's own first, to the commit it keeps
    refs: dict[str, str] = field(default_factory=dict)
    #: nested repositories kept as files only (shallow or partial clones: their history is not)
    files_only: list[str] = field(default_factory=list)

    @property
    def nested_refs(self) -> list[str]:
        """The refs keeping nested repositories' work."""
        return [ref for ref in self.refs if ref != self.ref]


def archive_name(record: SessionRecord) -> str:
    """A new archive ref name for the session: ``refs/agentmux/archive/<name>/<time>-<id>``."""
    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{ARCHIVE_PREFIX}{record.name}/{stamp}-{record.id[:8]}"


def archive(
    repo: git.Repo,
    record: SessionRecord,
    nested: NestedSnapshotter,
    *,
    ref: str,
    dry_run: bool = False,
    delete: tuple[str, ...] = (),
) -> Archive:
    """Record all of a session's work on ``ref`` (and, for nested repositories, refs beside it).

    The archive commit holds the worktree exactly as it is (uncommitted and untracked files too,
    ignored ones not), with the worktree's HEAD and the branch tip as parents, so every commit
    stays reachable even if the branch is deleted. A nested repository is recorded as a gitlink
    to a snapshot of it, which is copied into this repository and kept by its own ref. Nothing
    when there is nothing to keep. With ``dry_run`` every step runs (objects are written) except
    that the refs are only checked, together with the refs in ``delete``; nothing changes that
    anyone can see.
    """
    worktree = Path(record.worktree)
    branch_ref = f"refs/heads/{record.branch}"
    branch_tip = repo.git(["rev-parse", branch_ref]) if git.ref_exists(repo, branch_ref) else None
    message = f"agentmux: archive of session {record.name} (its worktree as it was)\n"
    state = worktree_state(repo, record)
    files_only: list[str] = []
    if state is Worktree.OURS:
        snapshots = nested.snapshot(worktree, message)
        if snapshots.commits:
            message += "\nNested repositories, each kept on its own ref beside this one:\n"
            message += "".join(f"  {path}\n" for path in snapshots.commits)
        commit = snapshot_commit(
            worktree,
            message,
            extra_parents=[branch_tip] if branch_tip else [],
            gitlinks=snapshots.gitlinks(),
        )
        refs = {ref: commit, **archive_refs(ref, snapshots)}
        files_only = snapshots.files_only
    else:
        tips = list(dict.fromkeys(_tips(repo, record, state)))
        if not tips:
            return Archive(None)  # no branch, no HEAD: nothing to keep, nothing to delete
        commits = [repo.git(["rev-parse", tip]) for tip in tips]
        refs = {ref: joining_commit(repo, list(dict.fromkeys(commits)), message)}
    git.update_refs(
        repo, refs, f"agentmux rm --force {record.name}", dry_run=dry_run, delete=delete
    )
    return Archive(ref, refs, files_only)
