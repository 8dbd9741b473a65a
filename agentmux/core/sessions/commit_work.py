"""Committing a session's work in progress on its own branch, in its own worktree.

Agents such as Claude Code usually leave their work uncommitted, and ``merge`` merges commits.
:func:`commit_work` is what a user would type in the session's worktree, ``git add --all`` then
``git commit``, through the git CLI, so the repository's own hooks run as for any commit: all
changes and untracked files, never ignored ones, on the branch checked out there, which must be the
session's own. It refuses while the agent is in the middle of a turn (it would race the agent's
edits), and when the worktree is missing, mid-merge or mid-rebase, or has another branch checked
out. If ``git commit`` fails (a hook refuses), the worktree's index is put back as it was.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentmux.core.agents.first_prompt import first_prompt_line
from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.merge import (
    MergeWork,
    WorkCommitted,
    own_worktree,
    require_identity,
    work_in_progress,
)
from agentmux.core.git.snapshots import SnapshotStore, operation_in_progress, unborn_nested
from agentmux.core.locking import repo_lock
from agentmux.core.records import SessionRecord

if TYPE_CHECKING:
    from agentmux.core.sessions.manager import SessionManager

#: A default commit subject longer than this is shortened (the whole line goes in the body).
SUBJECT_MAX = 72


class AgentBusyError(AgentmuxError):
    """The session's agent is in the middle of a turn: committing would race its edits."""


@dataclass(frozen=True)
class CommitResult:
    """What :func:`commit_work` did."""

    name: str
    commit: str | None  # None when there was nothing to commit
    files: int  # files committed
    message: str  # the commit message used
    #: Nested repositories with no commit yet, left out (git cannot add them); still in place.
    left_out: tuple[str, ...] = ()


def session_worktree(record: SessionRecord) -> Path:
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
    proc = git.run_git(["symbolic-ref", "--quiet", "HEAD"], worktree, check=False)
    checked_out = proc.stdout.decode(errors="surrogateescape").strip()
    if checked_out != f"refs/heads/{record.branch}":
        what = checked_out.removeprefix("refs/heads/") or "a detached HEAD"
        raise AgentmuxError(
            f"{record.name}'s worktree has {what} checked out, not its branch {record.branch}; "
            "switch back to it there first."
        )
    return worktree


def uncommitted_files(manager: SessionManager, name: str) -> int:
    """How many files of the session's worktree differ from its last commit: changed, deleted
    and untracked ones, ignored ones excluded (one sentence when the worktree is missing)."""
    record = manager.get(name)
    worktree = own_worktree(Path(record.worktree))
    if worktree is None:
        raise AgentmuxError(f"{record.name}'s worktree {record.worktree} is missing.")
    return len(work_in_progress(worktree))


def default_message(manager: SessionManager, record: SessionRecord) -> str:
    """``<name>: <first line of its first prompt>`` (or ``<name>: work in progress``), and a
    body saying where the commit came from."""
    line = first_prompt_line(manager.store, record.id)
    subject = f"{record.name}: {line or 'work in progress'}"
    body = f"Work in progress of agentmux session {record.name} ({record.agent} agent)."
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 3].rstrip() + "..."
        body = f"First prompt: {line}\n\n{body}"
    return f"{subject}\n\n{body}\n"


def commit_work(
    manager: SessionManager, name: str, message: str | None = None, *, force: bool = False
) -> CommitResult:
    """Commit the session's work in progress on its branch, in its worktree (see the module
    docstring); raises :class:`AgentmuxError` with one sentence when it refuses
    (:class:`AgentBusyError` while the agent is in a turn, unless ``force``)."""
    record = manager.get(name)
    if message is not None and not message.strip():
        raise AgentmuxError("the commit message is empty; give one with -m, or leave -m out.")
    worktree = session_worktree(record)
    text = message if message is not None else default_message(manager, record)
    if not work_in_progress(worktree):
        return CommitResult(record.name, None, 0, text)
    if not force and manager.in_turn(record):
        raise AgentBusyError(
            f"{record.name}'s agent is in the middle of a turn: committing now would race its "
            "edits; wait until it is idle."
        )
    require_identity(
        manager.repo, what="the commit", retry=f"commit {record.name} again", cwd=worktree
    )
    with repo_lock(manager.home / "commit" / f"{record.id}.lock"):
        commit, left_out = _add_and_commit(worktree, text)
    if commit is None:
        return CommitResult(record.name, None, 0, text, left_out)
    listing = ["diff-tree", "--root", "-r", "-z", "--no-renames", "--name-only", "--no-commit-id"]
    files = git.git_out([*listing, commit], worktree)
    count = len([p for p in files.split("\0") if p])
    return CommitResult(record.name, commit, count, text, left_out)


def _add_and_commit(worktree: Path, message: str) -> tuple[str | None, tuple[str, ...]]:
    """``git add --all`` and ``git commit`` with the repository's hooks; the new commit (None
    when nothing was staged) and the nested repositories left out. On failure the index is put
    back as it was."""
    where = ["rev-parse", "--path-format=absolute", "--git-path", "index"]
    index = Path(git.git_out(where, worktree))
    saved = index.read_bytes() if index.exists() else None
    try:
        left_out = _add_all(worktree)
        staged = git.run_git(["diff", "--cached", "--quiet", "HEAD", "--"], worktree, check=False)
        if staged.returncode == 0:
            _restore_index(index, saved)
            return None, left_out
        # No terminal for hooks or a signing program to wait on: the TUI may be calling.
        proc = git.run_git(["commit", "--quiet", "-m", message], worktree, stdin=b"", check=False)
    except AgentmuxError as exc:
        _restore_index(index, saved)
        raise AgentmuxError(f"{exc.message.rstrip('.')}; nothing was committed.") from exc
    if proc.returncode != 0:
        output = (proc.stderr + b"\n" + proc.stdout).decode(errors="replace")
        detail = git.error_detail(output, proc.returncode)
        kept = _restore_index(index, saved)
        staged_note = "" if kept else " (its changes are left staged)"
        raise AgentmuxError(
            f"git commit failed in {worktree}: {detail}; nothing was committed{staged_note}."
        )
    return git.git_out(["rev-parse", "HEAD"], worktree), left_out


def _add_all(worktree: Path) -> tuple[str, ...]:
    """``git add --all``; a nested repository with no commit yet (git cannot add one: there is
    nothing for a gitlink to name) is left out, and named, rather than failing the commit."""
    proc = git.run_git(["add", "--all"], worktree, stdin=b"", check=False)
    if proc.returncode == 0:
        return ()
    unborn = unborn_nested(proc.stderr)
    if unborn:
        specs = [":(literal).", *(f":(exclude,literal){path}" for path in unborn)]
        retry = git.run_git(["add", "--all", "--", *specs], worktree, stdin=b"", check=False)
        if retry.returncode == 0:
            return tuple(unborn)
        proc = retry
    detail = git.error_detail(proc.stderr.decode(errors="replace"), proc.returncode)
    raise AgentmuxError(f"git add failed in {worktree}: {detail}")


def _restore_index(index: Path, saved: bytes | None) -> bool:
    """Put the index back as it was, the way git writes one (through ``index.lock``); False when
    that cannot be done (a git process holds the lock)."""
    if saved is None:
        return False
    lock = index.with_name(index.name + ".lock")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(saved)
        os.replace(lock, index)
    except OSError:
        with contextlib.suppress(OSError):
            lock.unlink()
        return False
    return True


def commit_for_merge(
    manager: SessionManager, records: list[SessionRecord], *, dry_run: bool = False
) -> MergeWork:
    """``merge --commit``: commit each session's work in progress before planning. A session whose
    work cannot be committed (its agent in a turn, a hook refusing, ...) is left out with the
    reason; the others go on. In a ``dry_run`` nothing is committed: each is planned with a
    stand-in commit of its work in progress (a snapshot, never on a branch)."""
    if not dry_run:
        require_identity(manager.repo, what="the commits", retry="merge again")
    committed: list[WorkCommitted] = []
    refused: dict[str, str] = {}
    tips: dict[str, str] = {}
    for record in records:
        worktree = own_worktree(Path(record.worktree))
        if worktree is None or not work_in_progress(worktree):
            continue  # nothing to commit (a missing worktree is the plan's to report)
        try:
            if dry_run:
                tips[record.id] = _stand_in(manager, record)
                files = len(work_in_progress(worktree))
                committed.append(WorkCommitted(record.name, files, None))
                continue
            result = commit_work(manager, record.name)
        except AgentBusyError:
            refused[record.id] = (
                "its agent is in the middle of a turn, so its work in progress was not committed "
                f"(it would race the agent's edits); merge it once {record.name} is idle"
            )
            continue
        except AgentmuxError as exc:
            why = exc.message.rstrip(".")
            refused[record.id] = f"its work in progress was not committed: {why}"
            continue
        if result.commit is not None:
            committed.append(WorkCommitted(record.name, result.files, result.commit))
    return MergeWork(tuple(committed), refused, tips)


def _stand_in(manager: SessionManager, record: SessionRecord) -> str:
    """The commit :func:`commit_work` would make, as a snapshot copied into the repository (no
    ref, no worktree, index or branch touched); refuses as :func:`commit_work` would."""
    worktree = session_worktree(record)
    if manager.in_turn(record):
        raise AgentBusyError(f"{record.name}'s agent is in the middle of a turn.")
    store = SnapshotStore(manager.repo, manager.home / "snapshots")
    snap = store.take(record.id, worktree)
    if snap.commit is None:
        raise AgentmuxError(f"{record.name}: {snap.unavailable or 'it could not be snapshotted'}.")
    have = [snap.head] if snap.head else []
    git.copy_objects(manager.repo.root, store.env, manager.repo, [snap.commit], have)
    return snap.commit
