"""`new` that fails part-way leaves nothing behind: no worktree, no branch, no record."""

from __future__ import annotations

from pathlib import Path

from agentmux.core.sessions import SessionManager
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

