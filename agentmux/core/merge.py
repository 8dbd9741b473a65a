"""Merging sessions into their base branch: a plan first, then one atomic landing.

The whole result is built off to the side with ``git merge-tree`` and ``git commit-tree`` (no
worktree, index or ref is touched while planning), optionally checked in a throw-away integration
worktree, and landed with a single compare-and-swap move of the base branch. On any failure the base
branch is exactly where it was.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentmux.core import git
from agentmux.core.errors import AgentmuxError
from agentmux.core.locking import repo_lock
from agentmux.core.merge_tree import merge_args, parse_merge_tree
from agentmux.core.records import SessionRecord
from agentmux.core.snapshots import operation_in_progress


@dataclass(frozen=True)
class MergeStep:
    """One session merged into the integration result."""

    name: str
    session_id: str
    branch: str
    tip: str
    commit: str  # the integration result after this step


@dataclass(frozen=True)
class LeftOut:
    """A session the plan does not merge, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class MergePlan:
    """What ``merge`` will do: the order, the result, and what it leaves out."""

    into: str
    base_before: str
    squash: bool
    steps: tuple[MergeStep, ...]
    left_out: tuple[LeftOut, ...]

    @property
    def result(self) -> str:
        """The commit the base branch will point at."""
        return self.steps[-1].commit if self.steps else self.base_before


def describe_plan(plan: MergePlan) -> list[str]:
    """The plan in plain sentences, one per line."""
    how = "squash-merge" if plan.squash else "merge"
    lines = (
        [f"{how} into {plan.into} (at {_short(plan.base_before)}), in this order:"]
        + [
            f"  {n}. {s.name} ({s.branch} at {_short(s.tip)})"
            for n, s in enumerate(plan.steps, start=1)
        ]
        if plan.steps
        else [f"nothing to merge into {plan.into}."]
    )
    lines += [f"  left out {x.name}: {x.reason}" for x in plan.left_out]
    return lines


@dataclass(frozen=True)
class CheckResult:
    """The outcome of ``--check CMD`` in the integration worktree."""

    command: str
    exit_status: int
    output: str = field(repr=False)


def _short(commit: str) -> str:
    return commit[:10]


def _conflicts(repo: git.Repo, ours: str, theirs: str) -> list[str]:
    proc = git.run_git(merge_args(ours, theirs), repo.root, check=False)
    return [c.path for c in parse_merge_tree(proc.stdout, proc.returncode).conflicts]


def _commit(repo: git.Repo, tree: str, parents: Sequence[str], message: str) -> str:
    args = ["commit-tree", tree, *[arg for p in parents for arg in ("-p", p)]]
    return git.git_out(args, repo.root, stdin=message.encode())


def default_into(records: Sequence[SessionRecord]) -> str:
    """The base branch the sessions share, or a one-sentence error asking for ``--into``."""
    bases = sorted({r.base_ref for r in records})
    if len(bases) != 1:
        raise AgentmuxError(
            f"the sessions start from different bases ({', '.join(bases)}); name one with --into."
        )
    return bases[0]


def plan_merge(
    repo: git.Repo, records: Sequence[SessionRecord], into: str, *, squash: bool = False
) -> MergePlan:
    """Order the sessions so every one that merges cleanly onto the others does; name the rest.

    Sessions that conflict with no other candidate go first, then the rest by creation time; each
    is merged onto the result so far, and one that would conflict with it is left out.
    """
    base_before = git.resolve_commit(repo, f"refs/heads/{into}")
    left_out: list[LeftOut] = []
    candidates: list[tuple[SessionRecord, str]] = []
    for record in sorted(records, key=lambda r: r.created_at):
        reason, tip = _readiness(repo, record, base_before)
        if reason is not None or tip is None:
            left_out.append(LeftOut(record.name, reason or "it has no branch"))
        else:
            candidates.append((record, tip))
    clashes = {r.id: 0 for r, _ in candidates}
    for i, (a, tip_a) in enumerate(candidates):
        for b, tip_b in candidates[i + 1 :]:
            if _conflicts(repo, tip_a, tip_b):
                clashes[a.id] += 1
                clashes[b.id] += 1
    candidates.sort(key=lambda c: (clashes[c[0].id], c[0].created_at))
    steps: list[MergeStep] = []
    current = base_before
    for record, tip in candidates:
        proc = git.run_git(merge_args(current, tip), repo.root, check=False)
        result = parse_merge_tree(proc.stdout, proc.returncode)
        if not result.clean:
            files = ", ".join(c.path for c in result.conflicts[:3])
            more = " ..." if len(result.conflicts) > 3 else ""
            against = ", ".join(s.name for s in steps) or into
            left_out.append(LeftOut(record.name, f"it conflicts with {against} in {files}{more}"))
            continue
        if squash:
            subjects = git.git_out(["log", "--format=- %s", f"{current}..{tip}"], repo.root)
            message = f"{record.name}: squashed agentmux session\n\n{subjects}\n"
            commit = _commit(repo, result.tree, [current], message)
        else:
            message = f"Merge agentmux session {record.name} (branch {record.branch})\n"
            commit = _commit(repo, result.tree, [current, tip], message)
        steps.append(MergeStep(record.name, record.id, record.branch, tip, commit))
        current = commit
    return MergePlan(into, base_before, squash, tuple(steps), tuple(left_out))


def _readiness(repo: git.Repo, record: SessionRecord, base: str) -> tuple[str | None, str | None]:
    """Why a session cannot be merged now (or None), and its branch tip."""
    branch_ref = f"refs/heads/{record.branch}"
    if not git.ref_exists(repo, branch_ref):
        return f"its branch {record.branch} no longer exists", None
    tip = git.resolve_commit(repo, branch_ref)
    worktree = Path(record.worktree)
    if worktree.is_dir():
        git_dir = Path(git.git_out(["rev-parse", "--absolute-git-dir"], worktree))
        busy = operation_in_progress(git_dir)
        if busy is not None:
            return f"its worktree is in the middle of {busy}", tip
        dirty = git.dirty_paths(worktree)
        if dirty:
            return (
                f"it has {len(dirty)} uncommitted or untracked path(s); commit them first",
                tip,
            )
    if not git.commits_not_in(repo, [tip], base):
        return "it has no commits that are not already merged", tip
    return None, tip


def run_check(repo: git.Repo, commit: str, command: str, work_dir: Path) -> CheckResult:
    """Run ``command`` (a shell command line) in a throw-away worktree of ``commit``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    tree = Path(tempfile.mkdtemp(prefix="integration-", dir=work_dir))
    tree.rmdir()
    git.run_git(["worktree", "add", "--quiet", "--detach", str(tree), commit], repo.root)
    try:
        proc = subprocess.run(
            ["sh", "-c", command],
            cwd=tree,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        return CheckResult(command, proc.returncode, output)
    finally:
        git.run_git(["worktree", "remove", "--force", str(tree)], repo.root, check=False)
        shutil.rmtree(tree, ignore_errors=True)
        git.run_git(["worktree", "prune"], repo.root, check=False)


def land(
    repo: git.Repo,
    plan: MergePlan,
    lock_path: Path,
    record_merge: Callable[[MergeStep], None],
) -> None:
    """Move the base branch to the plan's result in one step, or leave it exactly where it was."""
    if not plan.steps:
        return
    with repo_lock(lock_path):
        now = git.resolve_commit(repo, f"refs/heads/{plan.into}")
        if now != plan.base_before:
            raise AgentmuxError(
                f"{plan.into} moved while the merge was being prepared; nothing was merged, "
                "run the merge again."
            )
        check_main_worktree(repo, plan.into)
        checked_out = git.branch_checked_out_in(repo, plan.into)
        if checked_out:
            tree = checked_out[0]
            # A fast-forward updates the branch, index and files together, or fails before any.
            git.run_git(["merge", "--ff-only", "--quiet", plan.result], tree)
        else:
            git.run_git(
                [
                    "update-ref",
                    "-m",
                    "agentmux merge",
                    f"refs/heads/{plan.into}",
                    plan.result,
                    plan.base_before,
                ],
                repo.root,
            )
    for step in plan.steps:
        record_merge(step)


def check_main_worktree(repo: git.Repo, into: str) -> None:
    """Refuse early when the worktree that has ``into`` checked out has uncommitted changes."""
    for tree in git.branch_checked_out_in(repo, into):
        dirty = git.dirty_paths(tree, untracked=False)
        if dirty:
            raise AgentmuxError(
                f"{tree} has uncommitted changes ({', '.join(dirty[:3])}); commit or stash them "
                f"before merging into {into}."
            )
