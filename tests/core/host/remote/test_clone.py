"""The host's clone of a repository driven from elsewhere: where it is, and how it is made."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agentmux.core.errors import AgentmuxError
from agentmux.core.host.remote.clone import CLONE_BRANCH, clone_path, ensure_clone


def test_a_clone_is_in_the_data_dir_or_in_the_hosts_path(home: object, tmp_path: Path) -> None:
    data = Path(os.environ["XDG_DATA_HOME"])
    assert clone_path("project-abc", None) == data / "agentmux" / "clones" / "project-abc"
    assert clone_path("project-abc", str(tmp_path / "srv")) == tmp_path / "srv" / "project-abc"
    for bad in ("", "../x", "a/b", ".hidden", "x" * 81):
        with pytest.raises(AgentmuxError):
            clone_path(bad, None)


def test_a_clone_is_made_once_and_takes_a_push_of_its_checked_out_branch(
    home: object, repo: Path, tmp_path: Path
) -> None:
    clone = tmp_path / "clones" / "project-abc"
    assert ensure_clone(clone) is True
    assert ensure_clone(clone) is False
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "push",
            "--quiet",
            str(clone),
            f"{head}:refs/heads/{CLONE_BRANCH}",
        ],
        check=True,
    )
    # updateInstead: the clone's files follow the push of its checked-out branch.
    assert (clone / "README.md").read_text() == "hello\n"
    assert clone.stat().st_mode & 0o077 == 0
