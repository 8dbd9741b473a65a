"""Which commits are reachable from where, and one commit that keeps several tips reachable."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agentmux.core.git.repo import IDENTITY, Repo, git_out, run_git


def commits_not_in(repo: Repo, tips: Sequence[str], base: str) -> list[str]:
    """Commits reachable from any of ``tips`` (full ref names or ids) that ``base`` lacks."""
    if not tips:
        return []
    out = repo.git(["rev-list", *tips, "--not", base, "--"])
    return out.split() if out else []


def local_branch_tips(worktree: Path) -> list[str]:
    """The commits the local branches of the repository at ``worktree`` point at."""
    out = git_out(["for-each-ref", "--format=%(objectname)", "refs/heads/"], worktree)
    return list(dict.fromkeys(out.split()))


def joining_commit(repo: Repo, tips: Sequence[str], message: str) -> str:
    """A commit with the first tip's files whose parents are all ``tips`` (one ref keeps them
    all reachable); the tip itself when there is only one."""
    if len(tips) == 1:
        return tips[0]
    parents = [arg for tip in tips for arg in ("-p", tip)]
    return git_out(
        ["commit-tree", f"{tips[0]}^{{tree}}", *parents],
        repo.root,
        env=IDENTITY,
        stdin=message.encode(),
    )


def ref_tips(repo: Repo, prefix: str) -> dict[str, str]:
    """Every ref under ``prefix`` (``refs/heads/``) and the object it points at, in one call."""
    proc = run_git(
        ["for-each-ref", "--format=%(objectname) %(refname)", prefix], repo.root, check=False
    )
    tips: dict[str, str] = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        oid, _, ref = line.partition(" ")
        if ref:
            tips[ref] = oid
    return tips
