"""`doctor` reports what would stop a merge before the user runs one: no git identity, and a
merge that was killed while it landed (real git, real `agentmux merge` processes)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from agentmux.core.git.merge_landing import JOURNAL
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import run_cli
from tests.core.git.test_merge import commit, session
from tests.core.git.test_merge_inputs import _without_identity
from tests.core.git.test_merge_signals import agentmux_dir, paused, start_merge


def line(out: str, name: str) -> str:
    found = [row for row in out.splitlines() if row[5:].startswith(f"{name}:")]
    assert len(found) == 1, out
    return found[0]


def test_doctor_says_git_has_no_identity_and_how_to_set_one(
    repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert line(run_cli(repo, "doctor").out, "git identity").startswith("ok   ")
    _without_identity(monkeypatch, tmp_path)
    result = run_cli(repo, "doctor")
    found = line(result.out, "git identity")
    assert found.startswith("warn ") and "git config --global user.email" in found


def test_doctor_reports_a_merge_killed_while_it_landed_until_the_next_merge_finishes_it(
    repo: Path, manager: SessionManager
) -> None:
    assert line(run_cli(repo, "doctor").out, "merge landing") == (
        "ok   merge landing: no interrupted merge"
    )
    commit(session(manager, "a"), "a.txt", "a\n")
    proc = start_merge(repo, "a", "--keep", pause="landed-ref")
    paused(repo, "landed-ref")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    journal = agentmux_dir(repo) / JOURNAL
    assert journal.exists()
    found = line(run_cli(repo, "doctor").out, "merge landing")
    assert found.startswith("warn ") and "a merge into main (a) was interrupted" in found
    assert journal.exists(), "doctor only reads the journal"
    assert run_cli(repo, "merge", "--all", "--dry-run").code in (0, 1)
    assert not journal.exists()
    assert line(run_cli(repo, "doctor").out, "merge landing").startswith("ok   ")
    journal.write_text("{not json")
    assert "is damaged" in line(run_cli(repo, "doctor").out, "merge landing")
