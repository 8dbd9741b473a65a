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

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agentmux.core.agents.first_prompt import first_prompt_line
from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.merge import MergeWork, WorkCommitted, require_identity
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


def uncommitted_files(manager: SessionManager, name: str) -> int:
    """How many files of the session's worktree differ from its last commit: changed, deleted
    and untracked ones, ignored ones excluded (one sentence when the worktree is missing)."""
    record = manager.get(name)
    worktree = manager.host.own_worktree(Path(record.worktree))
    if worktree is None:
        raise AgentmuxError(f"{record.name}'s worktree {record.worktree} is missing.")
    return len(manager.host.work_in_progress(worktree))


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
    manager.writable("commit")
    record = manager.get(name)
    if message is not None and not message.strip():
        raise AgentmuxError("the commit message is empty; give one with -m, or leave -m out.")
    worktree = manager.host.ready_for_commit(record)
    text = message if message is not None else default_message(manager, record)
    if not manager.host.work_in_progress(worktree):
        return CommitResult(record.name, None, 0, text)
    if not force and manager.in_turn(record):
        raise AgentBusyError(
            f"{record.name}'s agent is in the middle of a turn: committing now would race its "
            "edits; wait until it is idle."
        )
    manager.host.check_identity(
        manager.repo, worktree, what="the commit", retry=f"commit {record.name} again"
    )
    with repo_lock(manager.home / "commit" / f"{record.id}.lock"):
        commit, left_out = manager.host.commit_work(worktree, text)
    if commit is None:
        return CommitResult(record.name, None, 0, text, left_out)
    listing = ["diff-tree", "--root", "-r", "-z", "--no-renames", "--name-only", "--no-commit-id"]
    files = git.git_out([*listing, commit], manager.repo.root)
    count = len([p for p in files.split("\0") if p])
    return CommitResult(record.name, commit, count, text, left_out)


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
        worktree = manager.host.own_worktree(Path(record.worktree))
        if worktree is None or not manager.host.work_in_progress(worktree):
            continue  # nothing to commit (a missing worktree is the plan's to report)
        try:
            if dry_run:
                tips[record.id] = _stand_in(manager, record)
                files = len(manager.host.work_in_progress(worktree))
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
    worktree = manager.host.ready_for_commit(record)
    if manager.in_turn(record):
        raise AgentBusyError(f"{record.name}'s agent is in the middle of a turn.")
    store = manager.host.snapshots(manager.repo)
    snap = store.take(record.id, worktree)
    if snap.commit is None:
        raise AgentmuxError(f"{record.name}: {snap.unavailable or 'it could not be snapshotted'}.")
    have = [snap.head] if snap.head else []
    git.copy_objects(manager.repo.root, store.env, manager.repo, [snap.commit], have)
    return snap.commit
