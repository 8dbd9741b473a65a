"""The host's side: the clone of a repository that another machine's agentmux drives.

It is an ordinary repository whose checked-out branch (:data:`CLONE_BRANCH`) is the base commit
pushed last; git's ``receive.denyCurrentBranch=updateInstead`` moves its files with each push.
Sessions are made from it by this host's agentmux as from any repository.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from agentmux.core.errors import AgentmuxError
from agentmux.core.git.repo import require_git
from agentmux.core.paths import data_dir, ensure_private_dir

#: The branch a host's clone has checked out: the base commit of the newest session pushed there.
CLONE_BRANCH = "agentmux-base"


def clone_path(key: str, path: str | None) -> Path:
    """Where the clone named ``key`` is: in the directory ``path`` when given (a host's
    ``--path``: one directory for the clones of every repository driven from elsewhere), else in
    agentmux's data dir."""
    if not key or "/" in key or key.startswith(".") or len(key) > 80:
        raise AgentmuxError(f"bad clone key {key!r}.")
    parent = Path(path).expanduser() if path else data_dir() / "clones"
    return (parent / key).absolute()


def ensure_clone(clone: Path) -> bool:
    """Make the clone at ``clone`` unless it exists; whether it was made now."""
    require_git()
    if (clone / ".git").exists():
        return False
    try:
        ensure_private_dir(clone)
    except OSError as exc:
        raise AgentmuxError(f"could not make a clone at {clone}: {exc.strerror}.") from exc
    for args in (
        ["init", "--quiet", f"--initial-branch={CLONE_BRANCH}"],
        # Pushing the base moves the checked-out branch, and its files with it.
        ["config", "receive.denyCurrentBranch", "updateInstead"],
    ):
        proc = subprocess.run(
            ["git", "-C", str(clone), *args], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            raise AgentmuxError(f"could not make a clone at {clone}: {why}")
    return True
