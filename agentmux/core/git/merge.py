"""Merging sessions into their base branch: a plan first, then one atomic landing.

The whole result is built off to the side with ``git merge-tree`` and ``git commit-tree`` (no
worktree, index or ref is touched while planning), optionally checked in a throw-away integration
worktree (:mod:`agentmux.core.git.integration`), and landed with a single compare-and-swap move
of the base branch (:mod:`agentmux.core.git.merge_landing`). On any failure the base branch is
exactly where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.merge_tree import MergeResult, merge_args, parse_merge_tree
from agentmux.core.git.merged import SquashMerge, squash_merged_into
from agentmux.core.git.reachability import commits_not_in
from agentmux.core.git.snapshots import operation_in_progress
from agentmux.core.records import SessionRecord, branch_ref


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
class WorkCommitted:
    """A session's work in progress that ``merge --commit`` committed before planning (or, in a
    dry run, would commit)."""

    name: str
    files: int
    commit: str | None  # None in a dry run: nothing was committed


@dataclass(frozen=True)
class MergeWork:
    """What ``merge --commit`` did with the sessions' work in progress before planning."""

    committed: tuple[WorkCommitted, ...] = ()
    #: Session id -> why its work in progress could not be committed (it is left out).
    refused: Mapping[str, str] = field(default_factory=dict)
    #: Session id -> the commit to plan with instead of its branch tip (a dry run's stand-in for
    #: the commit it would make; never on a branch).
    tips: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MergePlan:
    """What ``merge`` will do: the order, the result, and what it leaves out."""

    into: str
    base_before: str
    squash: bool
    steps: tuple[MergeStep, ...]
    left_out: tuple[LeftOut, ...]
    #: Sentences about what happened before planning (an interrupted merge finished, ...).
    notes: tuple[str, ...] = ()
    #: Work in progress committed first (``merge --commit``), or that a dry run would commit.
    committed: tuple[WorkCommitted, ...] = ()

    @property
    def result(self) -> str:
        """The commit the base branch will point at."""
        return self.steps[-1].commit if self.steps else self.base_before


def describe_plan(plan: MergePlan) -> list[str]:
    """The plan in plain sentences, one per line."""
    how = "squash-merge" if plan.squash else "merge"
    lines = [f"note: {note}" for note in plan.notes]
    lines += (
        [f"{how} into {plan.into} (at {_short(plan.base_before)}), in this order:"]
        + [f"  {n}. {s.name} ({_tip_text(plan, s)})" for n, s in enumerate(plan.steps, start=1)]
        if plan.steps
        else [f"nothing to merge into {plan.into}."]
    )
    lines += [f"  left out {x.name}: {x.reason}{_left_out_work(plan, x)}" for x in plan.left_out]
    return lines


def _work_of(plan: MergePlan, name: str) -> WorkCommitted | None:
    return next((w for w in plan.committed if w.name == name), None)


def _tip_text(plan: MergePlan, step: MergeStep) -> str:
    work = _work_of(plan, step.name)
    if work is None:
        return f"{step.branch} at {_short(step.tip)}"
    if work.commit is None:
        return f"{step.branch} and its {work.files} uncommitted file(s), to be committed first"
    return f"{step.branch} at {_short(step.tip)}, its {work.files} uncommitted file(s) committed"


def _left_out_work(plan: MergePlan, left: LeftOut) -> str:
    work = _work_of(plan, left.name)
    if work is None:
        return ""
    if work.commit is None:
        return f" (its {work.files} uncommitted file(s) would be committed on its branch)"
    return (
        f" (its {work.files} uncommitted file(s) were committed on its branch as "
        f"{_short(work.commit)})"
    )


def _short(commit: str) -> str:
    return commit[:10]


def _merge_tree(repo: git.Repo, ours: str, theirs: str) -> MergeResult:
    """``git merge-tree`` of two commits; a failure (not a conflict) says what git said."""
    proc = git.run_git(merge_args(ours, theirs), repo.root, check=False)
    if proc.returncode not in (0, 1):
        detail = git.error_detail(proc.stderr.decode(errors="replace"), proc.returncode)
        raise git.GitError(f"git merge-tree failed: {detail}")
    return parse_merge_tree(proc.stdout, proc.returncode)


def _conflicts(repo: git.Repo, ours: str, theirs: str) -> list[str]:
    try:
        return [c.path for c in _merge_tree(repo, ours, theirs).conflicts]
    except AgentmuxError:
        return []  # the ordering only; the merge step itself reports the failure


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


def require_identity(
    repo: git.Repo,
    *,
    what: str = "the merge commits",
    retry: str = "merge again",
    cwd: Path | None = None,
) -> None:
    """Refuse, with how to fix it, when git (run in ``cwd``, else the main worktree) has no
    identity to make ``what`` with; the sentence ends with ``retry``."""
    for who in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"):
        proc = git.run_git(["var", who], cwd or repo.root, check=False)
        if proc.returncode != 0:
            why = git.error_detail(proc.stderr.decode(errors="replace"), proc.returncode)
            raise AgentmuxError(
                f"git has no identity to make {what} with ({why}); set one with "
                "git config --global user.name 'Your Name' and git config --global user.email "
                f"you@example.com (without --global for this repository only), then {retry}."
            )


def plan_merge(
    repo: git.Repo,
    records: Sequence[SessionRecord],
    into: str,
    *,
    squash: bool = False,
    squashed: Mapping[str, SquashMerge] | None = None,
    work: MergeWork | None = None,
    worktree_problem: WorktreeProblem | None = None,
) -> MergePlan:
    """Order the sessions so every one that merges cleanly onto the others does; name the rest.

    Sessions that conflict with no other candidate go first, then the rest by creation time; each
    is merged onto the result so far, and one that would conflict with it is left out. A session
    that cannot be read (a broken worktree, a missing branch, a git error) is left out with the
    reason; the others are still merged. ``squashed`` holds each session's last squash merge;
    ``work`` what ``merge --commit`` did with the sessions' work in progress;
    ``worktree_problem`` reads each session's worktree (the host's; this machine's by default).
    """
    worktree_problem = worktree_problem or unmergeable_work
    require_identity(repo)
    into = into.removeprefix("refs/heads/")
    base_before = git.branch_commit(repo, into)
    left_out: list[LeftOut] = []
    candidates: list[tuple[SessionRecord, str]] = []
    for record in sorted(records, key=lambda r: r.created_at):
        prior = (squashed or {}).get(record.id)
        if work is not None and record.id in work.refused:
            left_out.append(LeftOut(record.name, work.refused[record.id]))
            continue
        stand_in = work.tips.get(record.id) if work is not None else None
        try:
            reason, tip = _readiness(
                repo,
                record,
                base_before,
                into,
                prior,
                worktree_problem=worktree_problem,
                stand_in=stand_in,
            )
        except AgentmuxError as exc:
            reason, tip = f"it could not be read ({exc.message.rstrip('.')})", None
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
        try:
            step, why = _step(
                repo, record, tip, current,
                into=into, steps=steps, squash=squash, squashed=squashed or {},
            )  # fmt: skip
        except AgentmuxError as exc:
            step, why = None, f"it could not be merged ({exc.message.rstrip('.')})"
        if step is None:
            left_out.append(LeftOut(record.name, why or "it could not be merged"))
            continue
        steps.append(step)
        current = step.commit
    committed = work.committed if work is not None else ()
    return MergePlan(into, base_before, squash, tuple(steps), tuple(left_out), committed=committed)


def _step(
    repo: git.Repo,
    record: SessionRecord,
    tip: str,
    current: str,
    *,
    into: str,
    steps: Sequence[MergeStep],
    squash: bool,
    squashed: Mapping[str, SquashMerge],
) -> tuple[MergeStep | None, str | None]:
    """One session merged onto ``current``, or None and why not."""
    result = _merge_tree(repo, current, tip)
    if not result.clean:
        files = ", ".join(c.path for c in result.conflicts[:3])
        more = " ..." if len(result.conflicts) > 3 else ""
        against = ", ".join(s.name for s in steps) or into
        return None, f"it conflicts with {against} in {files}{more}"
    if squash:
        if result.tree == git.git_out(["rev-parse", f"{current}^{{tree}}"], repo.root):
            return None, f"its changes are already in {into}"
        prior = squashed.get(record.id)
        # Only what is new since an earlier squash merge is listed again.
        skip = [prior.tip] if prior is not None and _has_commit(repo, prior.tip) else []
        subjects = git.git_out(["log", "--format=- %s", tip, "--not", current, *skip], repo.root)
        message = f"{record.name}: squashed agentmux session\n\n{subjects}\n"
        commit = _commit(repo, result.tree, [current], message)
    else:
        message = f"Merge agentmux session {record.name} (branch {record.branch})\n"
        commit = _commit(repo, result.tree, [current, tip], message)
    return MergeStep(record.name, record.id, record.branch, tip, commit), None


def _has_commit(repo: git.Repo, commit: str) -> bool:
    args = ["cat-file", "-e", f"{commit}^{{commit}}"]
    return git.run_git(args, repo.root, check=False).returncode == 0


def work_in_progress(worktree: Path) -> list[str]:
    """The worktree's changed and untracked (not ignored) paths, each once (a rename is its two
    paths, as in the commit that would take them); never takes its index lock."""
    out = git.run_git(
        ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"],
        worktree,
        env={"GIT_OPTIONAL_LOCKS": "0"},
    ).stdout.decode(errors="surrogateescape")
    return [entry[3:] for entry in out.split("\0") if entry]


def own_worktree(worktree: Path) -> Path | None:
    """The session's worktree as git knows it, or None when it is missing: gone, or a plain
    directory made again at its path (git would answer from whatever repository encloses it)."""
    if not (worktree / ".git").is_file():
        return None
    proc = git.run_git(["rev-parse", "--show-toplevel"], worktree, check=False)
    top = proc.stdout.decode(errors="surrogateescape").strip()
    if proc.returncode != 0 or Path(top).resolve() != worktree.resolve():
        return None
    return worktree


def _readiness(
    repo: git.Repo,
    record: SessionRecord,
    base: str,
    into: str,
    prior: SquashMerge | None,
    *,
    worktree_problem: WorktreeProblem,
    stand_in: str | None = None,
) -> tuple[str | None, str | None]:
    """Why a session cannot be merged now (or None), and its branch tip (or ``stand_in``, a
    dry run's stand-in for the commit of its work in progress)."""
    ref = branch_ref(record)
    if not git.ref_exists(repo, ref):
        return f"its branch {record.branch} no longer exists", None
    tip = git.resolve_commit(repo, ref)
    problem = worktree_problem(record, stand_in is not None)
    if problem is not None:
        return problem, tip
    tip = stand_in or tip
    if prior is not None and prior.into == into and squash_merged_into(repo, prior, tip):
        return f"it is already squash-merged into {into}", tip
    if not commits_not_in(repo, [tip], base):
        return "it has no commits that are not already merged", tip
    return None, tip


#: Why a session's worktree keeps it from being merged now, or None: given the session and
#: whether its work in progress is committed for the merge (``merge --commit``).
WorktreeProblem = Callable[[SessionRecord, bool], str | None]


def unmergeable_work(record: SessionRecord, committing: bool) -> str | None:
    """Why the session's worktree (on this machine) keeps it from being merged now: in the
    middle of a merge or rebase, or work in progress left uncommitted (unless ``committing``)."""
    worktree = own_worktree(Path(record.worktree))
    if worktree is None:
        return None  # no worktree left: its branch is all there is to merge
    git_dir = Path(git.git_out(["rev-parse", "--absolute-git-dir"], worktree))
    busy = operation_in_progress(git_dir)
    if busy is not None:
        return f"its worktree is in the middle of {busy}"
    dirty = [] if committing else work_in_progress(worktree)
    if dirty:
        return (
            f"it has {len(dirty)} uncommitted or untracked file(s); commit them first "
            f"(agentmux commit {record.name}), or merge with --commit"
        )
    return None
