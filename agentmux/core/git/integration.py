"""``merge --check``: run a command on the whole merge result in a throw-away worktree.

The worktree lives under ``<git common dir>/agentmux/integration/integration-<token>``, next to an
owner file ``integration-<token>.json`` (written first) naming the agentmux process and the check's
process group. The check runs in a session of its own, so agentmux can end all of it (``make``
and everything it started) and a terminal's Ctrl-C reaches agentmux, which then cleans up.

SIGINT, SIGTERM and SIGHUP end the check and remove the worktree before agentmux exits (a SIGTERM
or SIGHUP is then delivered again, so agentmux still ends by it). A run killed outright (SIGKILL)
leaves them behind: the next merge ends such a check and removes its worktree, but only where the
owner file names an agentmux process that is gone.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from agentmux.core.git import repo as git
from agentmux.core.git.merge_landing import held_signals

PREFIX = "integration-"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of ``--check CMD`` in the integration worktree."""

    command: str
    exit_status: int
    output: str = field(repr=False)


class _Ended(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived while the check ran."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _ending_signals_raise() -> Iterator[None]:
    """In the main thread, turn SIGTERM and SIGHUP into an exception (so cleanup runs), and
    deliver the signal again once the block is left."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ended(signum: int, _frame: FrameType | None) -> None:
        raise _Ended(signum)

    old = {sig: signal.signal(sig, ended) for sig in (signal.SIGTERM, signal.SIGHUP)}
    arrived: int | None = None
    try:
        yield
    except _Ended as exc:
        arrived = exc.signum
        raise
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if arrived is not None:
            os.kill(os.getpid(), arrived)


def run_check(repo: git.Repo, commit: str, command: str, work_dir: Path) -> CheckResult:
    """Run ``command`` (a shell command line) in a throw-away worktree of ``commit``."""
    prune_integration(repo, work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)
    tree = work_dir / f"{PREFIX}{token}"
    owner = work_dir / f"{PREFIX}{token}.json"
    _write_owner(owner, None)
    proc: subprocess.Popen[bytes] | None = None
    with _ending_signals_raise():
        try:
            with held_signals():
                git.run_git(
                    ["worktree", "add", "--quiet", "--detach", str(tree), commit], repo.root,
                    own_session=True,
                )  # fmt: skip
            # Started outside held_signals: a child inherits the blocked signals.
            proc = subprocess.Popen(
                ["sh", "-c", command],
                cwd=tree,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            _write_owner(owner, proc.pid)
            output, _ = proc.communicate()
            return CheckResult(command, proc.returncode, output.decode(errors="replace"))
        finally:
            with held_signals():
                if proc is not None:
                    _end_group(proc.pid)
                    proc.wait()
                _remove(repo, tree, owner)


def _write_owner(owner: Path, check_group: int | None) -> None:
    data = {"pid": os.getpid(), "check_group": check_group}
    tmp = owner.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(owner)


def _end_group(pgid: int, grace: float = 2.0) -> None:
    """SIGTERM the check's process group, then SIGKILL what is left of it after ``grace``."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return


def _remove(repo: git.Repo, tree: Path, owner: Path) -> None:
    if tree.exists():
        git.run_git(
            ["worktree", "remove", "--force", "--force", str(tree)], repo.root, check=False,
            own_session=True,
        )  # fmt: skip
        shutil.rmtree(tree, ignore_errors=True)
    git.run_git(["worktree", "prune"], repo.root, check=False, own_session=True)
    owner.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _group_in(pgid: int, tree: Path) -> bool:
    """Whether the process group's leader still works in ``tree`` (so it is the check and not
    an unrelated group that reuses the number); False when that cannot be told."""
    try:
        cwd = os.readlink(f"/proc/{pgid}/cwd")
    except OSError:
        return False
    return Path(cwd) == tree or Path(cwd).is_relative_to(tree)


def prune_integration(repo: git.Repo, work_dir: Path) -> list[Path]:
    """Remove integration worktrees (and end their checks) that a killed agentmux left behind;
    return those removed. One whose owner is alive, or has no owner file, is left alone."""
    if not work_dir.is_dir():
        return []
    removed: list[Path] = []
    for owner in sorted(work_dir.glob(f"{PREFIX}*.json")):
        try:
            data = json.loads(owner.read_text())
            pid = int(data["pid"])
            group = data.get("check_group")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if _alive(pid):
            continue
        tree = owner.with_suffix("")
        if isinstance(group, int) and _alive(group) and _group_in(group, tree):
            _end_group(group)
        _remove(repo, tree, owner)
        removed.append(tree)
    return removed
