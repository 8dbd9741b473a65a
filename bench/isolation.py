"""A benchmark's own agentmux home: XDG dirs, a short tmux socket dir, a git identity."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def isolate(scratch: Path) -> Path:
    """Point this process (and what it starts) at dirs under ``scratch``; return the socket dir."""
    sockets = Path(tempfile.mkdtemp(prefix="amxb-", dir="/tmp"))  # socket paths must stay short
    os.environ.update(IDENTITY)
    for var, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
    ):
        os.environ[var] = str(scratch / sub)
    os.environ["AGENTMUX_SOCKET_DIR"] = str(sockets)
    return sockets


def kill_servers(sockets: Path) -> None:
    """Stop every tmux server a benchmark started."""
    for sock in sockets.glob("*.sock"):
        subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True, check=False)


def clean_up(scratch: Path, sockets: Path) -> None:
    """Stop the benchmark's tmux servers and delete everything it made."""
    # The queue ticks that ending panes start would make the socket directory again.
    for tick in sockets.glob("*.tick.sh"):
        tick.unlink(missing_ok=True)
    kill_servers(sockets)
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(sockets, ignore_errors=True)


def machine() -> str:
    """One line naming the machine the figures come from."""
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}"
    )


def scratch_repo(scratch: Path) -> tuple[Path, Path]:
    """Isolate this process under ``scratch`` and make a one-commit repository there; return the
    repository and the socket dir."""
    sockets = isolate(scratch)
    repo = scratch / "repo"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / "README.md").write_text("bench\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "bench"], cwd=repo, check=True)
    return repo, sockets
