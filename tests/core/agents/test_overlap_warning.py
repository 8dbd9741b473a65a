"""Early warning: an agent about to edit a file another session changed is told first (a setting,
off by default), once per file; the second try goes through."""

from __future__ import annotations

from pathlib import Path

from agentmux.core.agents.overlap_warning import WARNED
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import wait_for, write_config
from tests.core.agents.test_agent_events import hook_names


def turn_done(manager: SessionManager, name: str, count: int) -> bool:
    return hook_names(manager, name).count("Stop") >= count


def test_agent_is_told_once_before_editing_a_file_another_session_changed(repo: Path) -> None:
    write_config(repo, "warn_agents_on_overlap = true\n")
    manager = SessionManager.open(repo)
    other = Path(manager.create(agent="demo", name="other").worktree)
    (other / "README.md").write_text("the other session's readme\n")  # uncommitted
    (other / "brand-new.txt").write_text("untracked in the other session\n")
    me = manager.create(agent="demo", name="me", prompt=b"write README.md mine")
    mine = Path(me.worktree)
    wait_for(lambda: turn_done(manager, "me", 1), what="the first try")
    assert (mine / "README.md").read_text() == "hello\n", "the edit did not land"
    (warned,) = [e["data"] for e in manager.store.events(me.id, kinds=(WARNED,))]
    assert warned == {"path": "README.md", "others": ["other"]}

    manager.send("me", b"write README.md mine")
    wait_for(lambda: turn_done(manager, "me", 2), what="the second try")
    assert (mine / "README.md").read_text() == "mine"

    manager.send("me", b"write brand-new.txt mine too\nwrite src/fresh.py ok")
    wait_for(lambda: turn_done(manager, "me", 3), what="an untracked overlap")
    assert not (mine / "brand-new.txt").exists()
    assert (mine / "src" / "fresh.py").exists(), "a file nobody else touched is not held up"


def test_off_by_default(repo: Path, manager: SessionManager) -> None:
    other = Path(manager.create(agent="demo", name="other").worktree)
    (other / "README.md").write_text("changed\n")
    me = manager.create(agent="demo", name="me", prompt=b"write README.md mine")
    wait_for(lambda: turn_done(manager, "me", 1), what="the turn")
    assert (Path(me.worktree) / "README.md").read_text() == "mine"
    assert manager.store.events(me.id, kinds=(WARNED,)) == []
