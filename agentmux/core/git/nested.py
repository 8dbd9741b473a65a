"""Git repositories nested in a session's worktree (submodules, and directories with their own
``.git``): finding them, what of theirs removal would lose, and copying their work into the
outer repository.

Their commits live in their own object stores, which an archive ref of the outer repository does
not keep: a gitlink in an archive names a commit, it does not hold it. So an archive snapshots each
nested repository (its HEAD, uncommitted and untracked files) and copies that commit, its history
and its local branches into the outer repository's store, where a ref keeps them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.reachability import local_branch_tips
from agentmux.core.git.worktree_commit import alternates, snapshot_commit

# Nested repositories inside nested repositories are followed this deep, no deeper.
MAX_DEPTH = 8
_NO_LOCKS = {"GIT_OPTIONAL_LOCKS": "0"}


def nested_repos(tree: Path) -> list[str]:
    """Paths (relative to ``tree``, as git spells them) of the repositories directly inside it:
    checked-out submodules, and untracked, not ignored directories that have their own ``.git``.
    """
    found: list[str] = []
    staged = git.run_git(["ls-files", "-z", "-s"], tree, env=_NO_LOCKS).stdout
    for entry in staged.split(b"\0"):
        if entry.startswith(b"160000 "):
            found.append(entry.split(b"\t", 1)[1].decode(errors="surrogateescape"))
    others = git.run_git(["ls-files", "-z", "-o", "--exclude-standard"], tree, env=_NO_LOCKS).stdout
    # Listing every untracked file, git shows a nested repository as one entry ending in "/".
    found += [
        entry[:-1].decode(errors="surrogateescape")
        for entry in others.split(b"\0")
        if entry.endswith(b"/")
    ]
    return [path for path in dict.fromkeys(found) if (tree / path / ".git").exists()]


def _walk(tree: Path, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, Path]]:
    """Every nested repository under ``tree``, deepest first: (path from the top, directory)."""
    if depth >= MAX_DEPTH:
        return
    try:
        found = nested_repos(tree)
    except git.GitError as exc:
        if not prefix:
            raise
        name = prefix.removesuffix("/")
        raise AgentmuxError(f"{_readable(name, 'read').message}: {exc.message}") from exc
    for path in found:
        yield from _walk(tree / path, f"{prefix}{path}/", depth + 1)
        yield f"{prefix}{path}", tree / path


def _readable(path: str, action: str) -> AgentmuxError:
    return AgentmuxError(f"cannot {action} the nested git repository {path}")


@dataclass(frozen=True)
class NestedWork:
    """What removing a worktree would lose of one repository nested in it."""

    path: str
    dirty: int
    local_commits: int
    no_commit: bool

    @property
    def empty(self) -> bool:
        """Nothing of it would be lost."""
        return not (self.dirty or self.local_commits or self.no_commit)

    def describe(self) -> str:
        """``path`` and what it holds, in a few words."""
        parts = ["no commit yet"] if self.no_commit else []
        if self.local_commits:
            parts.append(f"{self.local_commits} commit(s) on no remote")
        if self.dirty:
            parts.append(f"{self.dirty} uncommitted or untracked path(s)")
        return f"{self.path} ({', '.join(parts)})"


def nested_work(tree: Path) -> list[NestedWork]:
    """Work at risk in every repository nested in ``tree``: its uncommitted and untracked paths,
    and commits of its HEAD and local branches that none of its remote-tracking refs has.

    Raises a one-sentence error naming a nested repository git cannot read.
    """
    found: list[NestedWork] = []
    for path, sub in _walk(tree):
        try:
            head = git.worktree_head(sub)
            dirty = len(git.dirty_paths(sub))
            tips = ["HEAD"] if head is not None else []
            local = git.git_out(
                ["rev-list", "--count", *tips, "--branches", "--not", "--remotes", "--"], sub
            )
        except git.GitError as exc:
            raise AgentmuxError(f"{_readable(path, 'read').message}: {exc.message}") from exc
        work = NestedWork(path, dirty, int(local or 0), head is None)
        if not work.empty:
            found.append(work)
    return found


@dataclass
class NestedSnapshots:
    """Snapshots of the nested repositories of one worktree, copied into the outer repository."""

    #: path (from the worktree's top) to the snapshot commit, deepest first
    commits: dict[str, str] = field(default_factory=dict)
    #: paths whose history is not kept, only their files (shallow or partial clones)
    files_only: list[str] = field(default_factory=list)

    def gitlinks(self, prefix: str = "") -> dict[str, str]:
        """The snapshots directly inside ``prefix`` (a nested repository's path and "/", or "" for
        the worktree), as paths relative to it."""
        direct: dict[str, str] = {}
        for path, commit in self.commits.items():
            if path.startswith(prefix):
                rest = path.removeprefix(prefix)
                if not any(rest.startswith(f"{other}/") for other in self._under(prefix)):
                    direct[rest] = commit
        return direct

    def _under(self, prefix: str) -> list[str]:
        return [p.removeprefix(prefix) for p in self.commits if p.startswith(prefix)]


def _history_kept(sub: Path) -> bool:
    """Whether the repository's history can be copied whole (a shallow or partial clone lacks
    part of it, and an outer repository holding such a commit fails ``git gc``)."""
    shallow = git.git_out(["rev-parse", "--is-shallow-repository"], sub) == "true"
    partial = git.run_git(["config", "--get", "extensions.partialClone"], sub, check=False)
    return not shallow and not partial.stdout.strip()


@contextmanager
def snapshotter(repo: git.Repo) -> Iterator[NestedSnapshotter]:
    """A :class:`NestedSnapshotter` with a private scratch object store, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="agentmux-nested-") as tmp:
        yield NestedSnapshotter(repo, Path(tmp) / "objects")


class NestedSnapshotter:
    """Snapshots nested repositories into a scratch store, then copies them into ``repo``.

    Nested repositories' own stores are never written to. Taking the snapshots twice (a dry run
    before the agent is stopped, the real one after) copies only what changed the second time.
    """

    def __init__(self, repo: git.Repo, scratch: Path) -> None:
        self.repo = repo
        self.scratch = scratch
        self._copied: list[str] = []

    def snapshot(self, worktree: Path, message: str) -> NestedSnapshots:
        """Snapshot every repository nested in ``worktree`` and copy it into the outer store.

        Raises a one-sentence error naming a nested repository that cannot be kept.
        """
        result = NestedSnapshots()
        outer_objects = self.repo.common_dir / "objects"
        for path, sub in _walk(worktree):
            try:
                own = Path(
                    git.git_out(
                        ["rev-parse", "--path-format=absolute", "--git-path", "objects"], sub
                    )
                )
                whole = _history_kept(sub)
                tips = local_branch_tips(sub) if whole else []
                commit = snapshot_commit(
                    sub,
                    f"{message}nested repository {path}\n",
                    object_dir=self.scratch,
                    extra_parents=tips,
                    gitlinks=result.gitlinks(f"{path}/"),
                    head_parent=whole,
                )
                env = {
                    "GIT_OBJECT_DIRECTORY": str(self.scratch),
                    "GIT_ALTERNATE_OBJECT_DIRECTORIES": alternates(own, outer_objects),
                }
                git.copy_objects(sub, env, self.repo, [commit], self._copied)
            except git.GitError as exc:
                raise AgentmuxError(f"{_readable(path, 'keep').message}: {exc.message}") from exc
            self._copied.append(commit)
            result.commits[path] = commit
            if not whole:
                result.files_only.append(path)
        return result


def encode_path(path: str) -> str:
    """A nested repository's path as one ref name component (``vendor/lib`` ->
    ``vendor%2Flib``): anything but letters, digits, ``-`` and ``_`` is percent-encoded."""
    safe = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(
        chr(byte) if byte in safe else f"%{byte:02X}"
        for byte in path.encode(errors="surrogateescape")
    )


def archive_refs(archive_ref: str, snapshots: NestedSnapshots) -> dict[str, str]:
    """The ref for each nested snapshot, next to the worktree's own archive ref (a ref cannot
    also be a directory of refs, so they go under ``<archive ref>.nested/``)."""
    return {
        f"{archive_ref}.nested/{encode_path(path)}": commit
        for path, commit in snapshots.commits.items()
    }
