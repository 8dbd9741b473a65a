"""A session's whole change against its fork point, work in progress included, for review.

The fork point is the merge base of the session's branch and its base. The other side is a
snapshot of the worktree (:mod:`agentmux.core.git.snapshots`): its committed, uncommitted and
untracked (not ignored) files, taken without touching the worktree, its index or its lock. Every
diff is git's own (``git diff-tree`` with rename detection, external diff drivers and text
conversion off), run in the session's worktree so its ``.gitattributes`` apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.host import Snapshot, SnapshotStore
from agentmux.core.records import SessionRecord

if TYPE_CHECKING:
    from agentmux.core.sessions.manager import SessionManager

ChangeKind = Literal["added", "modified", "deleted", "renamed", "type-changed"]
_KINDS: dict[str, ChangeKind] = {
    "A": "added",
    "M": "modified",
    "D": "deleted",
    "R": "renamed",
    "T": "type-changed",
}
_DIFF_OPTIONS = ("-r", "-z", "-M", "--no-ext-diff", "--no-textconv")


@dataclass(frozen=True)
class ChangedFile:
    """One file the session changed since its fork point."""

    path: str
    change: ChangeKind
    old_path: str | None  # for renames
    uncommitted: bool  # the worktree's version differs from the branch's last commit
    binary: bool
    added: int | None  # lines; None for binary
    deleted: int | None

    def to_json(self) -> dict[str, object]:
        """The file as ``agentmux diff --json`` prints it."""
        return {
            "path": self.path,
            "change": self.change,
            "old_path": self.old_path,
            "uncommitted": self.uncommitted,
            "binary": self.binary,
            "added": self.added,
            "deleted": self.deleted,
        }


@dataclass(frozen=True)
class SessionDiff:
    """A session's change against its fork point (or why there is none)."""

    name: str
    fork_point: str  # commit
    head: str | None  # the branch's last commit
    snapshot: str | None  # the snapshot commit of the worktree (None when unavailable)
    files: tuple[ChangedFile, ...]
    unavailable: str | None  # one sentence why there is no diff (worktree gone, mid-rebase)
    #: The worktree the diffs run in (None when it is missing).
    worktree: str | None = None

    def to_json(self) -> dict[str, object]:
        """The stable JSON form (``agentmux diff --json``)."""
        return {
            "name": self.name,
            "fork_point": self.fork_point,
            "head": self.head,
            "snapshot": self.snapshot,
            "unavailable": self.unavailable,
            "files": [f.to_json() for f in self.files],
        }


def session_diff(manager: SessionManager, name: str) -> SessionDiff:
    """The session's change from its fork point to its worktree as it is now."""
    record = manager.get(name)
    repo = manager.repo
    head = _commit_of(repo, f"refs/heads/{record.branch}")
    worktree = manager.host.own_worktree(Path(record.worktree))
    if worktree is None:
        fork = _fork_point(repo, record, head)
        why = f"{record.name}'s worktree {record.worktree} is missing, so there is no diff."
        return SessionDiff(record.name, fork, head, None, (), why)
    store = manager.host.snapshots(repo)
    try:
        snap = store.take(record.id, worktree)
    except AgentmuxError as exc:  # git could not read the worktree: say why, as for the others
        snap = Snapshot(record.id, unavailable=exc.message.rstrip("."))
    fork = _fork_point(repo, record, head or snap.head)
    if snap.commit is None:
        unreadable = snap.unavailable or "its worktree could not be read"
        why = f"{record.name}: {unreadable}, so there is no diff."
        return SessionDiff(record.name, fork, head, None, (), why, str(worktree))
    files = _changed_files(store, repo.root, fork, snap.commit, head)
    return SessionDiff(record.name, fork, head, snap.commit, files, None, str(worktree))


def file_patch(manager: SessionManager, diff: SessionDiff, path: str) -> str:
    """The unified diff of one file of ``diff`` (fork point to snapshot), ``""`` when it has none;
    a binary file's says so ("Binary files ... differ")."""
    found = next((f for f in diff.files if f.path == path), None)
    if found is None or diff.snapshot is None:
        return ""
    paths = [path] if found.old_path is None else [found.old_path, path]
    return patch(manager, diff, paths).decode(errors="replace")


def patch(manager: SessionManager, diff: SessionDiff, paths: list[str] | None = None) -> bytes:
    """The unified diff of the whole change (or of ``paths``), as git's bytes."""
    if diff.snapshot is None:
        return b""
    store = manager.host.snapshots(manager.repo)
    args = ["diff-tree", "-p", *_DIFF_OPTIONS, "--no-color", diff.fork_point, diff.snapshot]
    if paths is not None:
        args = ["--literal-pathspecs", *args, "--", *paths]
    return git.run_git(args, manager.repo.root, env=store.env).stdout


def _commit_of(repo: git.Repo, ref: str) -> str | None:
    if ref.startswith("-"):
        return None
    args = ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"]
    proc = git.run_git(args, repo.root, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def _fork_point(repo: git.Repo, record: SessionRecord, tip: str | None) -> str:
    """The merge base of the session's tip and its base as it is now (a base branch that has
    moved on, or a remote branch fetched since); the commit it started from when that is all
    there is."""
    base = (
        _commit_of(repo, f"refs/heads/{record.base_ref}")
        or _commit_of(repo, record.base_ref)
        or record.base_commit
    )
    if tip is None:
        return record.base_commit
    proc = git.run_git(["merge-base", tip, base], repo.root, check=False)
    return proc.stdout.decode().strip() or record.base_commit


def _changed_files(
    store: SnapshotStore, root: Path, fork: str, snapshot: str, head: str | None
) -> tuple[ChangedFile, ...]:
    """The files a snapshot changes from the fork point (git run in the repository: the
    snapshot's objects are in ``store``, the repository's beside them)."""

    def run(*args: str) -> list[str]:
        out = git.run_git(["diff-tree", *args], root, env=store.env).stdout
        return out.decode(errors="surrogateescape").split("\0")

    raw = run(*_DIFF_OPTIONS, "--raw", fork, snapshot)
    counts = _numstat(run(*_DIFF_OPTIONS, "--numstat", fork, snapshot))
    # Paths whose worktree version is not the branch's last commit (both sides of a rename).
    if head is None:
        dirty = None
    else:
        dirty = set(run("-r", "-z", "--no-renames", "--name-only", head, snapshot))
    files: list[ChangedFile] = []
    fields = iter(raw)
    for meta in fields:
        if not meta.startswith(":"):
            continue
        status = meta.split()[-1]
        kind = _KINDS.get(status[:1], "modified")
        old = next(fields, "") if status[:1] in "RC" else None
        path = next(fields, "")
        added, deleted = counts.get(path, (None, None))
        uncommitted = dirty is None or path in dirty or (old is not None and old in dirty)
        files.append(
            ChangedFile(
                path=path,
                change=kind,
                old_path=old if kind == "renamed" else None,
                uncommitted=uncommitted,
                binary=added is None,
                added=added,
                deleted=deleted,
            )
        )
    return tuple(files)


def _numstat(fields: list[str]) -> dict[str, tuple[int | None, int | None]]:
    """``--numstat -z`` output: path -> (added, deleted) lines, (None, None) for a binary file."""
    counts: dict[str, tuple[int | None, int | None]] = {}
    entries = iter(fields)
    for entry in entries:
        if not entry:
            continue
        added, deleted, path = entry.split("\t", 2)
        if not path:  # a rename: the old path, then the new one, follow
            next(entries, "")
            path = next(entries, "")
        if added == "-":
            counts[path] = (None, None)
        else:
            counts[path] = (int(added), int(deleted))
    return counts
