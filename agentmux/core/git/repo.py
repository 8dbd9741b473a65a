"""The git operations agentmux needs, through the git CLI.

Why not GitPython here: agentmux needs byte-exact ``-z`` output, per-call environments
(``GIT_INDEX_FILE``, ``GIT_OBJECT_DIRECTORY``, ``GIT_OPTIONAL_LOCKS``) and commands GitPython does
not wrap (``merge-tree --write-tree``), and GitPython documents that it leaks resources in
long-running processes such as the TUI. Every call passes an argument list: no shell, ever.

Commits of a worktree as it is are made in `worktree_commit`; what is reachable from where is
asked in `reachability`. Both run git through `run_git` here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agentmux.core.errors import AgentmuxError

MIN_GIT = (2, 38)
#: The author and committer of the commits agentmux makes itself.
IDENTITY = {
    "GIT_AUTHOR_NAME": "agentmux",
    "GIT_AUTHOR_EMAIL": "agentmux@localhost",
    "GIT_COMMITTER_NAME": "agentmux",
    "GIT_COMMITTER_EMAIL": "agentmux@localhost",
}


class GitError(AgentmuxError):
    """A git command failed."""


def _git_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    env["LC_ALL"] = "C"
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    env.pop("GIT_INDEX_FILE", None)
    if extra:
        env.update(extra)
    return env


def run_git(
    args: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    check: bool = True,
    own_session: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``git args`` in ``cwd``; raise :class:`GitError` with git's own message on failure.

    With ``own_session``, git runs in a session of its own, so a Ctrl-C or hang-up sent to the
    terminal's process group does not stop it half-way through a write.
    """
    if shutil.which("git") is None:
        raise AgentmuxError(
            "git is not installed or not on PATH; agentmux needs git 2.38 or newer."
        )
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=_git_env(env),
        input=stdin,
        capture_output=True,
        check=False,
        start_new_session=own_session,
    )
    if check and proc.returncode != 0:
        detail = error_detail(proc.stderr.decode(errors="replace"), proc.returncode)
        raise GitError(f"git {args[0]} failed in {cwd}: {detail}")
    return proc


_PREFIXES = ("fatal: ", "error: ", "warning: ")
_LOCK = re.compile(r"Unable to create '([^']+\.lock)': File exists\.?")
_MAX_DETAIL = 600


def error_detail(stderr: str, returncode: int = 1) -> str:
    """git's error output as one line that keeps what matters: every ``fatal:``/``error:``
    line with the paths it lists and its advice, not only the last line (often "Aborting").

    A lock file left behind is named with its cause and its fix.
    """
    lock = _LOCK.search(stderr)
    if lock:
        return (
            f"{lock.group(1)} exists: another git process is working in this repository, or one "
            "was killed before it finished; if no git process is running, delete that file"
        )
    paragraphs = re.split(r"\n\s*\n", stderr.strip())
    # The paragraphs with an error line say what failed; the others are general advice.
    failing = [
        p for p in paragraphs if any(line.startswith(_PREFIXES[:2]) for line in p.split("\n"))
    ]
    parts: list[str] = []
    for paragraph in failing or paragraphs[-1:]:
        for raw in paragraph.splitlines():
            line = raw.rstrip()
            if not line.strip() or line.strip() == "Aborting" or line.startswith("hint:"):
                continue
            if raw[:1] in ("\t", " ") and parts:
                # The paths an error line lists, indented under it.
                joiner = " " if parts[-1].endswith(":") else ", "
                parts[-1] += joiner + line.strip()
                continue
            for prefix in _PREFIXES:
                line = line.removeprefix(prefix)
            if line not in parts:
                parts.append(line)
    if not parts:
        return f"exit status {returncode}"
    detail = "; ".join(
        part if n == 0 or part[1:2].isupper() else part[:1].lower() + part[1:]
        for n, part in enumerate(part.rstrip(".") for part in parts)
    )
    return detail if len(detail) <= _MAX_DETAIL else detail[: _MAX_DETAIL - 3] + "..."


def git_out(args: Sequence[str], cwd: Path, **kwargs: object) -> str:
    """Run git and return its stdout as stripped text."""
    proc = run_git(args, cwd, **kwargs)  # type: ignore[arg-type]
    return proc.stdout.decode(errors="surrogateescape").strip()


def git_version() -> tuple[int, int, int]:
    """The installed git version, e.g. ``(2, 39, 5)``."""
    out = git_out(["--version"], Path.cwd())
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    if not match:
        raise AgentmuxError(f"cannot tell the git version from {out!r}.")
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def require_git() -> tuple[int, int, int]:
    """Check git is installed and new enough; return its version."""
    version = git_version()
    if version[:2] < MIN_GIT:
        have = ".".join(map(str, version))
        raise AgentmuxError(f"git {have} is too old: agentmux needs git 2.38 or newer.")
    return version


@dataclass(frozen=True)
class Repo:
    """A non-bare git repository: its main working tree, its common git dir, and the working
    tree the command runs in (the main one, or a linked worktree)."""

    root: Path
    common_dir: Path
    worktree: Path | None = None

    @property
    def here(self) -> Path:
        """The working tree the command runs in (the main one when run from elsewhere)."""
        return self.worktree or self.root

    def git(self, args: Sequence[str], **kwargs: object) -> str:
        """Run git in the main working tree and return stdout text."""
        return git_out(args, self.root, **kwargs)

    @property
    def name(self) -> str:
        """The main working tree's directory name."""
        return self.root.name


def discover_repo(start: Path) -> Repo:
    """Find the repository containing ``start`` (from its main tree or any of its worktrees)."""
    require_git()
    if not start.is_dir():
        raise AgentmuxError(f"{start} is not a directory.")
    proc = run_git(
        ["rev-parse", "--path-format=absolute", "--is-bare-repository", "--git-common-dir"],
        start,
        check=False,
    )
    if proc.returncode != 0:
        raise AgentmuxError(
            f"{start} is not inside a git repository; run agentmux from your project's directory."
        )
    is_bare, common = proc.stdout.decode(errors="surrogateescape").split("\n")[:2]
    if is_bare.strip() == "true":
        raise AgentmuxError(
            f"{start} is a bare git repository; agentmux needs a repository with a working tree."
        )
    common_dir = Path(common.strip())
    listing = git_out(["worktree", "list", "--porcelain", "-z"], start)
    first = listing.split("\0", 1)[0]
    if not first.startswith("worktree "):
        raise AgentmuxError(f"cannot find the main working tree of the repository at {start}.")
    root = Path(first.removeprefix("worktree "))
    if not (root / ".git").exists():
        raise AgentmuxError(
            f"the repository at {start} has no main working tree; agentmux needs one."
        )
    top = run_git(["rev-parse", "--show-toplevel"], start, check=False)
    here = (
        Path(top.stdout.decode(errors="surrogateescape").strip()) if top.returncode == 0 else None
    )
    return Repo(root=root, common_dir=common_dir, worktree=here)


def resolve_commit(repo: Repo, ref: str) -> str:
    """The commit id ``ref`` names, or a one-sentence error when it does not exist."""
    if ref.startswith("-"):
        raise AgentmuxError(f"base ref {ref!r} does not exist in this repository.")
    proc = run_git(
        ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], repo.root, check=False
    )
    if proc.returncode != 0:
        raise AgentmuxError(f"base ref {ref!r} does not exist in this repository.")
    return proc.stdout.decode().strip()


def current_branch(repo: Repo) -> str | None:
    """The branch checked out in the working tree the command runs in (a linked worktree's own
    branch, not the main one's), or None when HEAD is detached."""
    proc = run_git(["symbolic-ref", "--quiet", "--short", "HEAD"], repo.here, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def branch_commit(repo: Repo, branch: str) -> str:
    """The commit local ``branch`` points at, or one sentence on why ``branch`` is not one
    (a remote-tracking branch, a tag, a commit id, or nothing at all) that merging can move."""
    name = branch.removeprefix("refs/heads/")
    proc = run_git(
        ["rev-parse", "--verify", "--quiet", f"refs/heads/{name}^{{commit}}"],
        repo.root,
        check=False,
    )
    if proc.returncode == 0 and not name.startswith("-"):
        return proc.stdout.decode().strip()
    fix = "name a local branch with --into"
    if ref_exists(repo, f"refs/remotes/{name}"):
        why = "it is a remote-tracking branch, not a local branch"
        fix = f"name a local branch with --into (e.g. one made with: git branch <name> {name})"
    elif ref_exists(repo, f"refs/tags/{name}"):
        why = "it is a tag, not a branch"
    elif (
        not name.startswith("-")
        and run_git(
            ["rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"], repo.root, check=False
        ).returncode
        == 0
    ):
        why = "it is a commit, not a branch (the sessions started from a detached HEAD)"
    else:
        why = "there is no such branch in this repository"
    raise AgentmuxError(f"cannot merge into {name!r}: {why}; {fix}.")


def has_commits(repo: Repo) -> bool:
    """Whether HEAD points at a commit (a fresh ``git init`` has none)."""
    return (
        run_git(["rev-parse", "--verify", "--quiet", "HEAD"], repo.root, check=False).returncode
        == 0
    )


def ref_exists(repo: Repo, ref: str) -> bool:
    """Whether the full ref name exists."""
    return run_git(["show-ref", "--verify", "--quiet", ref], repo.root, check=False).returncode == 0


def add_worktree(repo: Repo, path: Path, branch: str, base_commit: str) -> None:
    """Create ``branch`` at ``base_commit`` and check it out in a new worktree at ``path``.

    Neither may exist yet. git can fail after it made both (a failing ``post-checkout`` hook runs
    last): then everything this call made is removed again, and the error names the hook.
    """
    had_branch = ref_exists(repo, f"refs/heads/{branch}")
    had_path = os.path.lexists(path)
    proc = run_git(
        ["worktree", "add", "--quiet", "-b", branch, str(path), base_commit],
        repo.root,
        check=False,
    )
    if proc.returncode == 0:
        return
    hook = _failed_hook(path) if not had_path else None
    if not had_path:
        run_git(["worktree", "remove", "--force", "--force", str(path)], repo.root, check=False)
        shutil.rmtree(path, ignore_errors=True)  # made by this call alone: nothing else is in it
    run_git(["worktree", "prune"], repo.root, check=False)
    if not had_branch and ref_exists(repo, f"refs/heads/{branch}"):
        run_git(["branch", "-D", "--quiet", branch], repo.root, check=False)
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    detail = lines[-1].removeprefix("fatal: ") if lines else f"exit status {proc.returncode}"
    if hook is not None:
        raise GitError(
            f"the post-checkout hook {hook} failed (exit status {proc.returncode}: {detail}) "
            f"after git made worktree {path}; the branch and worktree were removed again"
        )
    raise GitError(f"git worktree failed: {detail}")


def _failed_hook(path: Path) -> Path | None:
    """The post-checkout hook, when git had checked the new worktree out (so only it can have
    failed after that)."""
    if not (path / ".git").is_file() or worktree_head(path) is None:
        return None
    proc = run_git(
        ["rev-parse", "--path-format=absolute", "--git-path", "hooks/post-checkout"],
        path,
        check=False,
    )
    hook = Path(proc.stdout.decode(errors="surrogateescape").strip())
    return hook if proc.returncode == 0 and os.access(hook, os.X_OK) else None


def remove_worktree(repo: Repo, path: Path) -> None:
    """Remove a worktree (its work must already be recorded elsewhere) and prune stale entries.

    Only a directory that is this repository's worktree is removed; anything else at ``path`` is
    left alone (callers check for that first: see :func:`is_worktree_of`).
    """
    if is_worktree_of(repo, path):
        run_git(["worktree", "remove", "--force", "--force", str(path)], repo.root)
    run_git(["worktree", "prune"], repo.root)


def is_worktree_of(repo: Repo, path: Path) -> bool:
    """Whether ``path`` is the top of one of ``repo``'s worktrees (not a plain directory made
    again where a deleted worktree was, nor another repository)."""
    if not (path / ".git").is_file():
        return False
    proc = run_git(
        ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"],
        path,
        env={"GIT_CEILING_DIRECTORIES": str(path.parent)},
        check=False,
    )
    if proc.returncode != 0:
        return False
    lines = proc.stdout.decode(errors="surrogateescape").splitlines()
    return len(lines) == 2 and [os.path.realpath(line) for line in lines] == [
        os.path.realpath(path),
        os.path.realpath(repo.common_dir),
    ]


def _registration(repo: Repo, path: Path) -> Path | None:
    """The repository's own record (``<common dir>/worktrees/<id>``) of the worktree at
    ``path``; it outlives the directory until pruned."""
    admin_root = repo.common_dir / "worktrees"
    if not admin_root.is_dir():
        return None
    target = os.path.realpath(path / ".git")
    for admin in admin_root.iterdir():
        try:
            text = (admin / "gitdir").read_text(errors="surrogateescape").strip()
        except OSError:
            continue
        if text and os.path.realpath(admin / text) == target:
            return admin
    return None


def registered_head(repo: Repo, path: Path) -> str | None:
    """The commit checked out in the worktree registered at ``path``, from the repository's
    record of it (readable after the directory is gone), or None."""
    admin = _registration(repo, path)
    if admin is None:
        return None
    proc = run_git(
        ["rev-parse", "--verify", "--quiet", f"worktrees/{admin.name}/HEAD^{{commit}}"],
        repo.root,
        check=False,
    )
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def forget_worktree(repo: Repo, path: Path) -> None:
    """Drop the repository's record of a worktree whose directory is gone or is no longer a
    worktree (``git worktree prune`` keeps a record while something at ``path`` has a ``.git``,
    or while the worktree is locked); the directory itself is never touched."""
    run_git(["worktree", "prune"], repo.root)
    admin = _registration(repo, path)
    if admin is not None and not is_worktree_of(repo, path):
        shutil.rmtree(admin)


def delete_branch(repo: Repo, branch: str) -> None:
    """Delete a local branch (callers make sure its commits are reachable)."""
    run_git(["branch", "-D", "--quiet", branch], repo.root)


def dirty_paths(worktree: Path, *, untracked: bool = True) -> list[str]:
    """Uncommitted (and, unless told otherwise, untracked but not ignored) paths of a worktree;
    never takes its index lock."""
    out = run_git(
        ["status", "--porcelain=v1", "-z", f"--untracked-files={'all' if untracked else 'no'}"],
        worktree,
        env={"GIT_OPTIONAL_LOCKS": "0"},
    ).stdout.decode(errors="surrogateescape")
    paths: list[str] = []
    entries = iter(out.split("\0"))
    for entry in entries:
        if not entry:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":
            next(entries, None)  # the rename's source path
    return paths


def worktree_head(worktree: Path) -> str | None:
    """The commit checked out in a worktree (detached or not), or None."""
    proc = run_git(["rev-parse", "--verify", "--quiet", "HEAD"], worktree, check=False)
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def branch_checked_out_in(repo: Repo, branch: str) -> list[Path]:
    """Worktrees that have ``branch`` checked out."""
    listing = git_out(["worktree", "list", "--porcelain", "-z"], repo.root)
    found: list[Path] = []
    current: Path | None = None
    for field in listing.split("\0"):
        if field.startswith("worktree "):
            current = Path(field.removeprefix("worktree "))
        elif field == f"branch refs/heads/{branch}" and current is not None:
            found.append(current)
    return found


def update_refs(
    repo: Repo,
    refs: Mapping[str, str],
    reason: str,
    *,
    dry_run: bool = False,
    delete: Sequence[str] = (),
) -> None:
    """Create ``refs`` (name to commit; none may exist yet) and delete ``delete``, all or none.

    With ``dry_run`` the transaction is prepared (every ref locked and checked) and aborted: it
    tells whether the real one can work, and changes nothing.
    """
    lines = ["start", *(f"create {ref} {commit}" for ref, commit in refs.items())]
    lines += [f"delete {ref}" for ref in delete]
    lines += ["prepare", "abort" if dry_run else "commit"]
    run_git(
        ["update-ref", "-m", reason, "--stdin"],
        repo.root,
        stdin=("\n".join(lines) + "\n").encode(errors="surrogateescape"),
    )


def copy_objects(
    source: Path, env: Mapping[str, str], dest: Repo, tips: Sequence[str], have: Sequence[str]
) -> None:
    """Copy every object reachable from ``tips`` (and not from ``have``, which ``dest`` holds)
    from the repository at ``source`` (seen through ``env``) into ``dest``'s object store.

    The pack goes through a temporary file, so neither git process can stall the other.
    """
    revs = [*tips, "--not", *have] if have else list(tips)
    with tempfile.TemporaryFile(prefix="agentmux-pack-") as pack:
        packed = subprocess.run(
            ["git", "pack-objects", "--revs", "--stdout", "-q"],
            cwd=source,
            env=_git_env(env),
            input=("\n".join(revs) + "\n").encode(),
            stdout=pack,
            stderr=subprocess.PIPE,
            check=False,
        )
        if packed.returncode != 0:
            lines = packed.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(f"git pack-objects failed: {lines[-1] if lines else 'no output'}")
        pack.seek(0)
        indexed = subprocess.run(
            ["git", "index-pack", "--stdin"],
            cwd=dest.root,
            env=_git_env(None),
            stdin=pack,
            capture_output=True,
            check=False,
        )
        if indexed.returncode != 0:
            lines = indexed.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(f"git index-pack failed: {lines[-1] if lines else 'no output'}")
