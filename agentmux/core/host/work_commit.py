"""Committing a worktree's work in progress as a user would: ``git add --all``, ``git commit``.

Through the git CLI, so the repository's own hooks run as for any commit. If ``git commit`` fails
(a hook refuses), the worktree's index is put back as it was. The checks that come first (the
worktree is the session's, on its branch, not mid-merge, its agent idle) are the caller's: see
:mod:`agentmux.core.sessions.commit_work`.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.snapshots import add_all


def add_and_commit(worktree: Path, message: str) -> tuple[str | None, tuple[str, ...]]:
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
    proc, left_out = add_all(worktree)
    if proc.returncode == 0:
        return left_out
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
