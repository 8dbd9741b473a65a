"""Snapshots of session worktrees as they are now, work in progress included, kept out of the way.

A snapshot is a commit whose tree is the worktree's content (committed, uncommitted and untracked
but not ignored files) and whose parent is the worktree's HEAD. It is made without touching the
worktree, its index, its index lock or its stash: each session has a private index that starts as
a copy of the worktree's own (so its stat cache spares rehashing unchanged files) and is kept up to
date between snapshots, and every new object goes to an agentmux-owned object directory that has the
repository's store as an alternate. Snapshot commits carry a fixed date, so the same content on the
same HEAD always gives the same commit id.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentmux.core.errors import AgentmuxError
from agentmux.core.git.repo import Repo, git_out, run_git
from agentmux.core.git.worktree_commit import alternates
from agentmux.core.locking import repo_lock

#: A whole store is dropped (and rebuilt on the next snapshot) past this size.
STORE_LIMIT_BYTES = 512 * 1024 * 1024
_IDENTITY = {
    "GIT_AUTHOR_NAME": "agentmux",
    "GIT_AUTHOR_EMAIL": "agentmux@localhost",
    "GIT_COMMITTER_NAME": "agentmux",
    "GIT_COMMITTER_EMAIL": "agentmux@localhost",
    "GIT_AUTHOR_DATE": "@0 +0000",
    "GIT_COMMITTER_DATE": "@0 +0000",
}
_MESSAGE = "agentmux snapshot\n"
# git add's complaint about a nested repository that has no commit checked out.
_UNBORN_NESTED = re.compile(r"^error: '(.+)' does not have a commit checked out$", re.M)


def unborn_nested(stderr: bytes) -> list[str]:
    """The nested repositories with no commit yet that made ``git add`` fail, from its stderr."""
    return _UNBORN_NESTED.findall(stderr.decode(errors="replace"))


def add_all(
    worktree: Path, paths: Sequence[str] = (".",), *, env: Mapping[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[bytes], tuple[str, ...]]:
    """``git add --all -- paths`` (taken literally); git's last answer, and the nested
    repositories with no commit yet it left out.

    git refuses to add a nested repository with no commit (there is nothing a gitlink could
    name); like any nested repository it is not the worktree's own content, so it is left out
    and named rather than failing the whole add (snapshots and ``commit`` both rely on this).
    """
    base = ["-c", "advice.addIgnoredFile=false"]
    proc = run_git(
        [*base, "--literal-pathspecs", "add", "--all", "--", *paths],
        worktree,
        env=env,
        stdin=b"",
        check=False,
    )
    unborn = unborn_nested(proc.stderr) if proc.returncode != 0 else []
    if not unborn:
        return proc, ()
    specs = [f":(literal){p}" for p in paths]
    specs += [f":(exclude,literal){p}" for p in unborn]
    proc = run_git([*base, "add", "--all", "--", *specs], worktree, env=env, stdin=b"", check=False)
    return proc, tuple(unborn) if proc.returncode == 0 else ()


_IN_PROGRESS = (
    ("rebase-merge", "a rebase"),
    ("rebase-apply", "a rebase"),
    ("MERGE_HEAD", "a merge"),
    ("CHERRY_PICK_HEAD", "a cherry-pick"),
    ("REVERT_HEAD", "a revert"),
    ("BISECT_LOG", "a bisect"),
)


@dataclass(frozen=True)
class Snapshot:
    """One worktree's content at one moment, or why it could not be taken."""

    session_id: str
    commit: str | None = None
    tree: str | None = None
    head: str | None = None
    #: Set instead of a commit when the worktree is mid-merge, mid-rebase or missing.
    unavailable: str | None = None


def operation_in_progress(git_dir: Path) -> str | None:
    """The operation a worktree is in the middle of ("a merge", "a rebase", ...), if any."""
    for marker, what in _IN_PROGRESS:
        if (git_dir / marker).exists():
            return what
    return None


class SnapshotStore:
    """Private objects and indexes for snapshots of one repository's sessions."""

    def __init__(self, repo: Repo, root: Path) -> None:
        self.repo = repo
        self.root = root
        self.objects = root / "objects"
        self._indexes = root / "indexes"
        paths = ["--path-format=absolute", "--git-path", "objects"]
        self._repo_objects = Path(git_out(["rev-parse", *paths], repo.root))
        self._git_dirs: dict[str, Path] = {}

    @property
    def env(self) -> dict[str, str]:
        """Environment for git commands that must see snapshot objects (and write new ones here)."""
        return {
            "GIT_OBJECT_DIRECTORY": str(self.objects),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": alternates(self._repo_objects),
            "GIT_OPTIONAL_LOCKS": "0",
        }

    def git(self, args: Sequence[str], *, stdin: bytes | None = None) -> str:
        """Run git in the main worktree with snapshot objects visible."""
        return git_out(args, self.repo.root, env=self.env, stdin=stdin)

    def prune_if_large(self) -> None:
        """Drop the store (objects and indexes) when it has grown past its limit."""
        if not self.objects.exists():
            return
        size = sum(f.stat().st_size for f in self.objects.rglob("*") if f.is_file())
        if size > STORE_LIMIT_BYTES:
            with repo_lock(self.root / "store.lock"):
                shutil.rmtree(self.objects, ignore_errors=True)
                shutil.rmtree(self._indexes, ignore_errors=True)

    def _git_dir(self, worktree: Path) -> Path:
        key = str(worktree)
        if key not in self._git_dirs:
            # Reading the worktree's ``.git`` file spares a git process per worktree; git decides
            # whenever the file is not the plain ``gitdir:`` pointer it normally is.
            self._git_dirs[key] = read_git_dir(worktree) or Path(
                git_out(["rev-parse", "--path-format=absolute", "--git-dir"], worktree)
            )
        return self._git_dirs[key]

    def head(self, worktree: Path, git_dir: Path) -> str | None:
        """The commit the worktree's HEAD points at (``None`` on an unborn branch)."""
        found = read_head(git_dir)
        if found is not None:
            return found
        proc = run_git(["rev-parse", "--verify", "--quiet", "HEAD"], worktree, check=False)
        return proc.stdout.decode().strip() if proc.returncode == 0 else None

    def take(
        self, session_id: str, worktree: Path, changed: Sequence[Path] | None = None
    ) -> Snapshot:
        """Snapshot ``worktree``; with ``changed``, only those paths are looked at again.

        ``changed`` is a hint from a file watcher: a private index that already exists is brought
        up to date for those paths alone. Without it (or on first use) the whole tree is scanned.
        """
        if not worktree.is_dir():
            return Snapshot(session_id, unavailable="its worktree is missing")
        try:
            git_dir = self._git_dir(worktree)
        except AgentmuxError:
            return Snapshot(session_id, unavailable="its worktree is not a git worktree")
        busy = operation_in_progress(git_dir)
        if busy is not None:
            return Snapshot(session_id, unavailable=f"its worktree is in the middle of {busy}")
        self.objects.mkdir(parents=True, exist_ok=True)
        self._indexes.mkdir(parents=True, exist_ok=True)
        index = self._indexes / f"{session_id}.index"
        with repo_lock(self._indexes / f"{session_id}.lock"):
            fresh = not index.exists()
            if fresh:
                real_index = git_dir / "index"
                if real_index.exists():
                    shutil.copy2(real_index, index)
            env = {**self.env, "GIT_INDEX_FILE": str(index)}
            head = self.head(worktree, git_dir)
            partial = [_relative(worktree, p) for p in changed or ()]
            # A watched path can vanish before git looks (an editor's temp file): then rescan all.
            rescan = fresh or changed is None or (partial and not self._add(worktree, env, partial))
            if rescan and not self._add(worktree, env, ["."]):
                raise AgentmuxError(f"cannot snapshot {worktree}: git add failed.")
            tree = git_out(["write-tree"], worktree, env=env)
        return Snapshot(session_id, commit=self._commit(tree, head), tree=tree, head=head)

    def _commit(self, tree: str, head: str | None) -> str:
        """The snapshot commit of ``tree`` on ``head``, written to the private store.

        A snapshot is never signed, whatever ``commit.gpgSign`` says (no gpg prompt, no key use).
        """
        parents = ["-p", head] if head else []
        return git_out(
            ["-c", "commit.gpgSign=false", "commit-tree", tree, *parents],
            self.repo.root,
            env={**self.env, **_IDENTITY},
            stdin=_MESSAGE.encode(),
        )

    def _add(self, worktree: Path, env: Mapping[str, str], paths: Sequence[str]) -> bool:
        """``git add --all`` of ``paths`` into the private index; whether it worked."""
        proc, _left_out = add_all(worktree, paths, env=env)
        if proc.returncode == 0:
            return True
        # A path the watcher saw may be ignored: git says so and still adds the others.
        return proc.stderr.startswith(b"The following paths are ignored")

    def forget(self, session_id: str) -> None:
        """Drop a session's private index (its worktree is gone)."""
        (self._indexes / f"{session_id}.index").unlink(missing_ok=True)


def _is_oid(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def read_git_dir(worktree: Path) -> Path | None:
    """The git dir a worktree's ``.git`` names, read from the file; ``None``: ask git."""
    dot_git = worktree / ".git"
    try:
        if dot_git.is_dir():
            return dot_git.absolute() if (dot_git / "HEAD").is_file() else None
        text = dot_git.read_text(errors="surrogateescape")
    except OSError:
        return None
    if not text.startswith("gitdir: ") or text.count("\n") > 1:
        return None
    target = Path(text.removeprefix("gitdir: ").removesuffix("\n").removesuffix("\r"))
    if not target.is_absolute():
        target = worktree / target
    return target if (target / "HEAD").is_file() and (target / "commondir").is_file() else None


def common_dir(git_dir: Path) -> Path:
    """A git dir's common dir (the repository's, for a linked worktree)."""
    try:
        text = (git_dir / "commondir").read_text(errors="surrogateescape").rstrip("\n")
    except FileNotFoundError:
        return git_dir
    return git_dir / text if not Path(text).is_absolute() else Path(text)


def read_branch(common: Path, ref: str) -> str | None:
    """The commit a ``refs/heads/`` ref holds, read from the files; ``None``: ask git.

    Only the plain cases are read: a loose ref holding an object id, else a ``packed-refs`` line.
    A symbolic ref, a reftable repository, anything unexpected: ``None``, and git decides. (git
    writes refs by renaming a lock file into place, so a read never sees half a ref.)
    """
    if not ref.startswith("refs/heads/") or ".." in ref or (common / "reftable").exists():
        return None
    try:
        loose = (common / ref).read_text(errors="surrogateescape").strip()
    except FileNotFoundError:
        loose = None
    except OSError:
        return None
    if loose is not None:
        return loose if _is_oid(loose) else None
    try:
        packed = (common / "packed-refs").read_text(errors="surrogateescape")
    except OSError:
        return None
    for line in packed.splitlines():
        oid, _, name = line.partition(" ")
        if name == ref and _is_oid(oid):
            return oid
    return None


def read_head(git_dir: Path) -> str | None:
    """The commit a worktree's HEAD points at, read from the files; ``None``: ask git."""
    try:
        text = (git_dir / "HEAD").read_text(errors="surrogateescape").strip()
    except OSError:
        return None
    if _is_oid(text):
        return text  # detached
    if not text.startswith("ref: "):
        return None
    return read_branch(common_dir(git_dir), text.removeprefix("ref: ").strip())


def _relative(worktree: Path, path: Path) -> str:
    try:
        return os.path.relpath(path, worktree)
    except ValueError:
        return str(path)
