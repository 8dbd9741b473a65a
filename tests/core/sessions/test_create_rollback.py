"""`new` that fails part-way leaves nothing behind: no worktree, no branch, no record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from agentmux.core.config.settings import load_config
from agentmux.core.events import SessionCreated, SessionEvent, SessionStarted
from agentmux.core.git.repo import discover_repo
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import git, run_cli


def failing_hook(tmp_path: Path, repo: Path) -> Path:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    hook = hooks / "post-checkout"
    hook.write_text("#!/bin/sh\necho 'post-checkout says no' >&2\nexit 3\n")
    hook.chmod(0o755)
    git(repo, "config", "core.hooksPath", str(hooks))
    return hook


def test_a_failing_post_checkout_hook_rolls_new_back_fully(repo: Path, tmp_path: Path) -> None:
    hook = failing_hook(tmp_path, repo)
    failed = run_cli(repo, "new", "--agent", "demo", "--name", "hooked")
    assert failed.code != 0
    assert failed.err.startswith("agentmux: ") and failed.err.count("\n") == 1, failed.err
    assert "post-checkout hook" in failed.err and str(hook) in failed.err, failed.err
    assert "post-checkout says no" in failed.err
    assert "agentmux/hooked" not in git(repo, "branch", "--list")
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert not (repo / ".git" / "worktrees").exists() or not any(
        (repo / ".git" / "worktrees").iterdir()
    )
    manager = SessionManager.open(repo)
    try:
        assert manager.sessions() == []
        assert not (manager.worktree_root / "hooked").exists()
    finally:
        manager.close()
    # The retry the issue describes: with the hook fixed, the same name works.
    hook.write_text("#!/bin/sh\nexit 0\n")
    again = run_cli(repo, "new", "--agent", "demo", "--name", "hooked")
    assert again.code == 0, again.err
    assert run_cli(repo, "rm", "hooked", "--force").code == 0


def raise_on(kind: type[SessionEvent]) -> Callable[[SessionEvent], None]:
    def sink(event: SessionEvent) -> None:
        if isinstance(event, kind):
            raise OSError(32, "Broken pipe")  # e.g. `new` printing progress to a closed pipe

    return sink


@pytest.mark.parametrize("kind", [SessionCreated, SessionStarted])
def test_new_failing_after_its_worktree_exists_undoes_everything(
    repo: Path, kind: type[SessionEvent]
) -> None:
    manager = SessionManager(discover_repo(repo), load_config(repo), on_event=raise_on(kind))
    try:
        with pytest.raises(OSError, match="Broken pipe"):
            manager.create(agent="demo", name="undone")
        worktree = manager.worktree_root / "undone"
        assert not worktree.exists()
        assert "agentmux/undone" not in git(repo, "branch", "--list")
        assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1
        assert manager.sessions(include_removed=True) == []
        assert manager.panes_by_session() == {}, "an agent that started was ended"
        stray = [
            p.pid
            for p in psutil.process_iter(["cwd"])
            if (p.info["cwd"] or "").startswith(str(worktree))
        ]
        assert stray == []
    finally:
        manager.close()
