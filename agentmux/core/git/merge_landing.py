"""Landing a merge plan: one move of the target branch, atomic against signals, recoverable.

Under agentmux's merge lock, with SIGINT, SIGTERM and SIGHUP held (they act once landing is
over) and every git child in a session of its own (a Ctrl-C or hang-up sent to the terminal's
process group does not reach it):

1. check: the target branch has not moved, and every worktree that has it checked out has no
   uncommitted changes to tracked files and no untracked file the update would overwrite
   (``read-tree -n``); nothing is touched yet;
2. a journal (``<git common dir>/agentmux/merge-journal.json``, fsync'd) records the plan;
3. ``update-ref`` moves the branch from the plan's base to its result (compare-and-swap): the
   point of no return;
4. ``read-tree -m -u`` brings each such worktree's index and files from the base to the result,
   under git's index lock;
5. each merge is recorded in the state store and the journal removed.

Killed anywhere (even SIGKILL), the journal stays; the next merge reads it first (:func:`recover`):
before step 3 nothing changed and it is dropped; after it the landing is finished, and an
``index.lock`` is removed only when it is provably the landing's own (the journal is older and no
process has it open). A file the interrupted update left in a state that is neither the old nor
the new version is moved to ``<git common dir>/agentmux/recovered/``, never deleted.

``AGENTMUX_TEST_PAUSE_AT=landing`` (after step 2) or ``=landed-ref`` (after step 3) makes landing
wait there while the file ``<git common dir>/agentmux/test-pause-<point>`` exists (it creates it,
the test deletes it; at most 60 s): the only test hook, so tests can signal it at that moment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.merge import MergePlan, MergeStep
from agentmux.core.locking import repo_lock

JOURNAL = "merge-journal.json"
LOCK = "merge.lock"
PAUSE_ENV = "AGENTMUX_TEST_PAUSE_AT"
_HELD = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
#: How long recovery waits for a live git process to let go of a lock it holds.
LOCK_WAIT = 30.0

RecordMerge = Callable[[MergePlan, MergeStep], None]


@contextmanager
def held_signals() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP for the calling thread; they act when the block ends."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def pause_for_test(point: str, home: Path) -> None:
    """The test hook described in the module docstring; nothing unless the variable names
    ``point``."""
    if os.environ.get(PAUSE_ENV) != point:
        return
    marker = home / f"test-pause-{point}"
    marker.write_text(f"{os.getpid()}\n")
    deadline = time.monotonic() + 60
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)


@dataclass(frozen=True)
class Journal:
    """What a landing in progress is doing, kept on disk until it is done."""

    plan: MergePlan
    trees: tuple[str, ...]
    started: float
    pid: int

    def to_json(self) -> str:
        """The journal file's text."""
        plan = self.plan
        data = {
            "into": plan.into,
            "base_before": plan.base_before,
            "result": plan.result,
            "squash": plan.squash,
            "steps": [asdict(step) for step in plan.steps],
            "trees": list(self.trees),
            "started": self.started,
            "pid": self.pid,
        }
        return json.dumps(data, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Journal:
        """Parse a journal file (KeyError, TypeError or ValueError when it is not one)."""
        data: dict[str, Any] = json.loads(text)
        steps = tuple(MergeStep(**step) for step in data["steps"])
        plan = MergePlan(
            str(data["into"]), str(data["base_before"]), bool(data["squash"]), steps, ()
        )
        if not steps or plan.result != data["result"]:
            raise ValueError("the journal's steps do not end at its result")
        trees = tuple(str(t) for t in data["trees"])
        return cls(plan, trees, float(data["started"]), int(data["pid"]))


def _write_journal(home: Path, journal: Journal) -> None:
    path = home / JOURNAL
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    try:
        os.write(fd, journal.to_json().encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(home)


def _remove_journal(home: Path) -> None:
    (home / JOURNAL).unlink(missing_ok=True)
    _fsync_dir(home)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pending_landing(home: Path) -> Journal | None:
    """The journal of a landing that did not finish, if one was left (a damaged one is set
    aside and ignored)."""
    path = home / JOURNAL
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        return Journal.from_json(text)
    except (KeyError, TypeError, ValueError):
        path.replace(path.with_suffix(".damaged"))
        return None


# --- landing ------------------------------------------------------------------------------------


def land(repo: git.Repo, plan: MergePlan, home: Path, record_merge: RecordMerge) -> None:
    """Move the base branch (and the files of any worktree that has it checked out) to the plan's
    result in one step, or leave it exactly where it was; see the module docstring."""
    if not plan.steps:
        return
    with repo_lock(home / LOCK), held_signals():
        _recover_locked(repo, home, record_merge)
        now = git.branch_commit(repo, plan.into)
        if now != plan.base_before:
            raise AgentmuxError(
                f"{plan.into} moved while the merge was being prepared; nothing was merged, "
                "run the merge again."
            )
        trees = git.branch_checked_out_in(repo, plan.into)
        for tree in trees:
            _preflight(tree, plan)
        journal = Journal(plan, tuple(str(t) for t in trees), time.time(), os.getpid())
        _write_journal(home, journal)
        pause_for_test("landing", home)
        names = ", ".join(step.name for step in plan.steps)
        ref = f"refs/heads/{plan.into}"
        try:
            git.run_git(
                ["update-ref", "-m", f"agentmux merge {names}", ref, plan.result, plan.base_before],
                trees[0] if trees else repo.root,
                own_session=True,
            )
        except AgentmuxError as exc:
            _remove_journal(home)
            raise AgentmuxError(
                f"{plan.into} could not be moved ({exc.message}); nothing was merged."
            ) from exc
        pause_for_test("landed-ref", home)
        for tree in trees:
            try:
                _read_tree(tree, plan)
            except AgentmuxError as exc:
                raise AgentmuxError(
                    f"{plan.into} now holds the merge, but the files in {tree} could not be "
                    f"updated ({exc.message}); fix that, then run agentmux merge again to finish."
                ) from exc
        _finish(home, plan, record_merge)


def _preflight(tree: Path, plan: MergePlan) -> None:
    """Refuse, before anything moves, what would stop the worktree's update half-way."""
    check_main_worktree_at(tree, plan.into)
    proc = git.run_git(
        ["read-tree", "-n", "-m", "-u", plan.base_before, plan.result], tree, check=False,
        own_session=True,
    )  # fmt: skip
    if proc.returncode != 0:
        detail = git.error_detail(proc.stderr.decode(errors="replace"), proc.returncode)
        fix = "; move or remove it, then" if "overwritten" in detail else ", then"
        raise AgentmuxError(
            f"nothing was merged into {plan.into}: in {tree}, {detail}{fix} merge again."
        )


def check_main_worktree_at(tree: Path, into: str) -> None:
    """:func:`check_main_worktree` for one worktree."""
    dirty = git.dirty_paths(tree, untracked=False)
    if dirty:
        raise AgentmuxError(
            f"{tree} has uncommitted changes ({', '.join(dirty[:3])}); commit or stash them "
            f"before merging into {into}."
        )


def _read_tree(tree: Path, plan: MergePlan) -> None:
    git.run_git(["read-tree", "-m", "-u", plan.base_before, plan.result], tree, own_session=True)


def _finish(home: Path, plan: MergePlan, record_merge: RecordMerge) -> None:
    for step in plan.steps:
        record_merge(plan, step)
    _remove_journal(home)


# --- recovery -----------------------------------------------------------------------------------


def recover(repo: git.Repo, home: Path, record_merge: RecordMerge) -> str | None:
    """Finish or drop a landing a killed agentmux left half-done; one sentence saying which, or
    None when there was none."""
    if not (home / JOURNAL).exists():
        return None
    with repo_lock(home / LOCK), held_signals():
        return _recover_locked(repo, home, record_merge)


def _recover_locked(repo: git.Repo, home: Path, record_merge: RecordMerge) -> str | None:
    journal = pending_landing(home)
    if journal is None:
        return None
    plan = journal.plan
    into = plan.into
    _clear_ref_lock(repo, journal)
    head = (
        git.run_git(
            ["rev-parse", "--verify", "--quiet", f"refs/heads/{into}^{{commit}}"],
            repo.root,
            check=False,
        )
        .stdout.decode()
        .strip()
    )
    what = f"an interrupted merge of {', '.join(s.name for s in plan.steps)} into {into}"
    if head == plan.base_before:
        _remove_journal(home)
        return f"{what} had not landed, so nothing of it was changed; it was dropped."
    if head != plan.result:
        landed = bool(head) and _is_ancestor(repo, plan.result, head)
        if landed:
            _finish(home, plan, record_merge)
            return f"{what} had landed ({into} has moved on since); it is now recorded."
        _remove_journal(home)
        return f"{what} was dropped: {into} has been moved elsewhere since; it is left as it is."
    notes: list[str] = []
    for name in journal.trees:
        tree = Path(name)
        if tree not in git.branch_checked_out_in(repo, into):
            continue
        note = _finish_tree(tree, journal, home)
        notes += [note] if note else []
    _finish(home, plan, record_merge)
    trees = ", ".join(journal.trees)
    files = f", and the files in {trees} are up to date" if trees else ""
    extra = f" ({'; '.join(notes)})" if notes else ""
    return f"{what} was finished: {into} is at {plan.result[:10]}{files}{extra}."


def _is_ancestor(repo: git.Repo, commit: str, of: str) -> bool:
    args = ["merge-base", "--is-ancestor", commit, of]
    return git.run_git(args, repo.root, check=False).returncode == 0


def _clear_ref_lock(repo: git.Repo, journal: Journal) -> None:
    """Remove the branch's lock file when it is the landing's own, left by a killed update-ref:
    no process has it open, and it is empty or holds the result the journal names."""
    lock = repo.common_dir / "refs" / "heads" / f"{journal.plan.into}.lock"
    if not lock.exists() or not _wait_released(lock, 2.0):
        return
    try:
        text = lock.read_text().strip()
    except OSError:
        return
    if text in ("", journal.plan.result) and lock.stat().st_mtime >= journal.started - 1:
        lock.unlink(missing_ok=True)


def _finish_tree(tree: Path, journal: Journal, home: Path) -> str | None:
    """Bring one worktree the interrupted landing was updating to the result."""
    plan = journal.plan
    lock = Path(
        git.git_out(["rev-parse", "--path-format=absolute", "--git-path", "index.lock"], tree)
    )
    if lock.exists():
        if not _wait_released(lock, LOCK_WAIT):
            raise AgentmuxError(
                f"{lock} is held by a running git process; run agentmux merge again once it "
                f"ends, to finish the interrupted merge into {plan.into}."
            )
        if lock.exists():
            if lock.stat().st_mtime < journal.started - 1:
                raise AgentmuxError(
                    f"{lock} is older than the interrupted merge into {plan.into}, so agentmux "
                    "leaves it: if no git process is running, delete it and run agentmux merge "
                    "again."
                )
            lock.unlink()
    if _index_is(tree, plan.result):
        return None  # read-tree had written the index, which it does after every file
    if not _index_is(tree, plan.base_before):
        return f"the index of {tree} has changed since, so that worktree is left as it is"
    aside = _back_to_base(tree, plan, home)
    _read_tree(tree, plan)
    return f"files it found half-written were moved to {aside}" if aside else None


def _index_is(tree: Path, commit: str) -> bool:
    proc = git.run_git(
        ["diff-index", "--cached", "--quiet", commit, "--"], tree, check=False,
        env={"GIT_OPTIONAL_LOCKS": "0"},
    )  # fmt: skip
    return proc.returncode == 0


def _wait_released(lock: Path, seconds: float) -> bool:
    """Wait until no process has ``lock`` open (or it is gone); False on timeout. Without
    ``/proc`` nothing can be seen holding it: then a lock still there after ``seconds`` counts
    as released (a live git holds one for milliseconds to seconds)."""
    deadline = time.monotonic() + seconds
    while lock.exists():
        held = _held_open(lock)
        if held is False:
            return True
        if time.monotonic() >= deadline:
            return held is None
        time.sleep(0.05)
    return True


def _held_open(path: Path) -> bool | None:
    """Whether a process has ``path`` open; None when this system cannot tell (no /proc)."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    target = os.path.realpath(path)
    for fd_dir in proc.glob("[0-9]*/fd"):
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd_dir / fd) == target:
                    return True
            except OSError:
                continue
    return False


def _back_to_base(tree: Path, plan: MergePlan, home: Path) -> Path | None:
    """Put the paths the landing changes back to the base version the index still records, so
    ``read-tree`` can move them forward again. Each such path holds the base version, the result
    version, or nothing; anything else is moved aside (returned), never deleted."""
    raw = git.run_git(
        ["diff-tree", "-r", "-z", "--no-renames", plan.base_before, plan.result], tree
    ).stdout.decode(errors="surrogateescape")
    fields = raw.split("\0")
    changes: list[tuple[str, str | None, str | None]] = []
    for i in range(0, len(fields) - 1, 2):
        meta = fields[i].split()
        if len(meta) < 5:
            continue
        null = set("0")
        old = None if set(meta[2]) == null else meta[2]
        new = None if set(meta[3]) == null else meta[3]
        changes.append((fields[i + 1], old, new))
    found = _worktree_blobs(tree, [path for path, _, _ in changes])
    aside: Path | None = None
    restore: list[str] = []
    for path, old, new in changes:
        have = found[path]
        if have not in (old, new):
            if aside is None:
                stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
                aside = home / "recovered" / stamp
            target = aside / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(tree / path, target)
            have = None
        if old is not None:
            restore.append(path)
        elif have is not None:
            (tree / path).unlink()
    if restore:
        git.run_git(
            ["checkout-index", "-f", "-q", "-z", "--stdin"], tree,
            stdin="".join(f"{p}\0" for p in restore).encode(errors="surrogateescape"),
            own_session=True,
        )  # fmt: skip
    return aside


_OTHER = "other"


def _worktree_blobs(tree: Path, paths: list[str]) -> dict[str, str | None]:
    """The blob id each path's content has in the worktree (None: absent; "other": a directory
    or something unreadable)."""
    found: dict[str, str | None] = {}
    regular: list[str] = []
    fmt = git.git_out(["rev-parse", "--show-object-format"], tree) or "sha1"
    for path in paths:
        full = tree / path
        if full.is_symlink():
            data = os.readlink(full).encode(errors="surrogateescape")
            found[path] = hashlib.new(fmt, b"blob %d\0" % len(data) + data).hexdigest()
        elif not full.exists():
            found[path] = None
        elif full.is_file():
            regular.append(path)
        else:
            found[path] = _OTHER
    if regular:
        proc = git.run_git(
            ["hash-object", "--stdin-paths"], tree,
            stdin="".join(f"{p}\n" for p in regular).encode(errors="surrogateescape"),
            check=False,
        )  # fmt: skip
        ids = proc.stdout.decode().split()
        if proc.returncode != 0 or len(ids) != len(regular):
            ids = [_OTHER] * len(regular)
        found.update(zip(regular, ids, strict=True))
    return found
