"""Git in a session's worktree, on the machine it lives on: what the sessions room asks of a
worktree before it commits, resumes or creates one.

The repository's own operations (refs, branches, merges) stay in :mod:`agentmux.core.git`;
whatever reads or changes the files of a session's worktree is here, reached through the
:class:`~agentmux.core.host.protocol.Host`.
"""

from __future__ import annotations

from pathlib import Path

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.merge import own_worktree
from agentmux.core.git.snapshots import operation_in_progress
from agentmux.core.records import SessionRecord


def ready_for_commit(record: SessionRecord) -> Path:
    """The session's own git worktree, ready for a commit; one sentence when it is not there,
    is in the middle of a merge or rebase, or has another branch than the session's checked
    out."""
    worktree = own_worktree(Path(record.worktree))
    if worktree is None:
        raise AgentmuxError(f"{record.name}'s worktree {record.worktree} is missing.")
    git_dir = Path(git.git_out(["rev-parse", "--absolute-git-dir"], worktree))
    busy = operation_in_progress(git_dir)
    if busy is not None:
        raise AgentmuxError(
            f"{record.name}'s worktree is in the middle of {busy}; finish or abort it there first."
        )
    checked_out = checked_out_ref(worktree)
    if checked_out != f"refs/heads/{record.branch}":
        what = (checked_out or "").removeprefix("refs/heads/") or "a detached HEAD"
        raise AgentmuxError(
            f"{record.name}'s worktree has {what} checked out, not its branch {record.branch}; "
            "switch back to it there first."
        )
    return worktree


def checked_out_ref(worktree: Path) -> str | None:
    """The ref checked out in ``worktree`` (``refs/heads/...``); None for a detached HEAD."""
    proc = git.run_git(["symbolic-ref", "--quiet", "HEAD"], worktree, check=False)
    ref = proc.stdout.decode(errors="surrogateescape").strip()
    return ref if proc.returncode == 0 and ref else None


def make_room(root: Path, worktree: Path) -> None:
    """Check a new worktree's path is free and make its parent; one sentence when not."""
    if worktree.exists() or worktree.is_symlink():
        raise AgentmuxError(f"{worktree} already exists; remove it or pick another name.")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AgentmuxError(f"cannot create {root}: {exc.strerror}.") from exc


_QUIET = {"GIT_OPTIONAL_LOCKS": "0"}  # a hook's look must never take the index lock


def changed_in(record: SessionRecord, relative: str) -> bool:
    """Whether ``relative`` differs from the session's base in its worktree (any state)."""
    worktree = Path(record.worktree)
    if not worktree.is_dir():
        return False
    diff = git.run_git(
        ["diff", "--quiet", "--no-ext-diff", record.base_commit, "--", relative],
        worktree,
        env=_QUIET,
        check=False,
    )
    if diff.returncode == 1:
        return True
    untracked = git.run_git(
        ["ls-files", "--others", "--exclude-standard", "-z", "--", relative],
        worktree,
        env=_QUIET,
        check=False,
    )
    return bool(untracked.stdout.strip(b"\0"))
