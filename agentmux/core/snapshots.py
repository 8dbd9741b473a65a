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
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import Repo, git_out, run_git
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
        self._repo_objects = Path(
            git_out(["rev-parse", "--path-format=absolute", "--git-path", "objects"], repo.root)
        )
        self._git_dirs: dict[str, Path] = {}

    @property
    def env(self) -> dict[str, str]:
        """Environment for git commands that must see snapshot objects (and write new ones here)."""
        return {
            "GIT_OBJECT_DIRECTORY": str(self.objects),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(self._repo_objects),
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
            self._git_dirs[key] = Path(
                git_out(["rev-parse", "--path-format=absolute", "--git-dir"], worktree)
            )
        return self._git_dirs[key]

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
            head_proc = run_git(["rev-parse", "--verify", "--quiet", "HEAD"], worktree, check=False)
            head = head_proc.stdout.decode().strip() if head_proc.returncode == 0 else None
            partial = [_relative(worktree, p) for p in changed or ()]
            # A watched path can vanish before git looks (an editor's temp file): then rescan all.
            rescan = fresh or changed is None or (partial and not self._add(worktree, env, partial))
            if rescan and not self._add(worktree, env, ["."]):
                raise AgentmuxError(f"cannot snapshot {worktree}: git add failed.")
            tree = git_out(["write-tree"], worktree, env=env)
        parents = ["-p", head] if head else []
        commit = git_out(
            ["commit-tree", tree, *parents],
            worktree,
            env={**self.env, **_IDENTITY},
            stdin=b"agentmux snapshot\n",
        )
        return Snapshot(session_id, commit=commit, tree=tree, head=head)

    def _add(self, worktree: Path, env: Mapping[str, str], paths: Sequence[str]) -> bool:
        """``git add --all`` of ``paths`` into the private index; whether it worked."""
        proc = run_git(
            [
                "-c",
                "advice.addIgnoredFile=false",
                "--literal-pathspecs",
                "add",
                "--all",
                "--",
                *paths,
            ],
            worktree,
            env=env,
            check=False,
        )
        if proc.returncode == 0:
            return True
        # A path the watcher saw may be ignored: git says so and still adds the others.
        return proc.stderr.startswith(b"The following paths are ignored")

    def forget(self, session_id: str) -> None:
        """Drop a session's private index (its worktree is gone)."""
        (self._indexes / f"{session_id}.index").unlink(missing_ok=True)


def _relative(worktree: Path, path: Path) -> str:
    try:
        return os.path.relpath(path, worktree)
    except ValueError:
        return str(path)
