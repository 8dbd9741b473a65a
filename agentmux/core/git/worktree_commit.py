"""A commit of a worktree exactly as it is, made without touching the worktree.

Removal archives a session's work (and each repository nested in it) this way before anything is
deleted. Its objects can go to a store of their own, with the repository's store as an alternate
(`alternates`), as the session snapshots in `snapshots` do.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from agentmux.core.git.repo import IDENTITY, git_out, run_git


def snapshot_commit(
    worktree: Path,
    message: str,
    *,
    object_dir: Path | None = None,
    extra_parents: Sequence[str] = (),
    gitlinks: Mapping[str, str] | None = None,
    head_parent: bool = True,
) -> str:
    """A commit of the worktree exactly as it is, including uncommitted and untracked work.

    The worktree, its index and its index lock are never touched: a copy of the index (which keeps
    its stat cache, so unchanged files are not rehashed) is used as ``GIT_INDEX_FILE``. With
    ``object_dir``, new objects go there, with the repository's store as an alternate.
    ``gitlinks`` (path to commit) records the repositories nested at those paths as those commits
    instead of reading them (``git add`` fails on a nested repository with no commit yet). Without
    ``head_parent`` the worktree's HEAD is not a parent.
    """
    index = Path(git_out(["rev-parse", "--path-format=absolute", "--git-path", "index"], worktree))
    objects = Path(
        git_out(["rev-parse", "--path-format=absolute", "--git-path", "objects"], worktree)
    )
    with tempfile.TemporaryDirectory(prefix="agentmux-snap-") as tmp:
        tmp_index = Path(tmp) / "index"
        if index.exists():
            shutil.copy2(index, tmp_index)
        env = {"GIT_INDEX_FILE": str(tmp_index), "GIT_OPTIONAL_LOCKS": "0"}
        if object_dir is not None:
            object_dir.mkdir(parents=True, exist_ok=True)
            env["GIT_OBJECT_DIRECTORY"] = str(object_dir)
            env["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = alternates(objects)
        links = gitlinks or {}
        excluded = [f":(exclude,literal){path}" for path in links]
        run_git(["add", "--all", "--", ".", *excluded], worktree, env=env)
        if links:
            entries = "".join(f"160000 {commit}\t{path}\0" for path, commit in links.items())
            run_git(
                ["update-index", "--add", "-z", "--index-info"],
                worktree,
                env=env,
                stdin=entries.encode(errors="surrogateescape"),
            )
        tree = git_out(["write-tree"], worktree, env=env)
        head = run_git(["rev-parse", "--verify", "--quiet", "HEAD"], worktree, check=False)
        tips = [head.stdout.decode().strip()] if head.returncode == 0 and head_parent else []
        tips += [tip for tip in extra_parents if tip not in tips]
        parents = [arg for tip in tips for arg in ("-p", tip)]
        return git_out(
            ["commit-tree", tree, *parents],
            worktree,
            env={**env, **IDENTITY},
            stdin=message.encode(),
        )


def alternates(*object_dirs: Path) -> str:
    """``GIT_ALTERNATE_OBJECT_DIRECTORIES`` naming ``object_dirs`` exactly.

    The variable is colon-separated, so a repository under a path with a ``:`` would be split in
    two; git reads an entry in double quotes as a C-style quoted path instead.
    """
    quoted = []
    for path in object_dirs:
        raw = os.fsencode(path)
        body = "".join(
            "\\" + chr(c) if c in b'"\\' else chr(c) if 0x20 <= c < 0x7F else f"\\{c:03o}"
            for c in raw
        )
        quoted.append(f'"{body}"')
    return ":".join(quoted)
