"""Sessions on real git worktrees and a real private tmux server, driven through the core API."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import demo_transcript, git, screen, wait_for, write_config


def user_prompts(mgr: SessionManager, name: str) -> list[str]:
    return [
        str(r["message"]["content"])
        for r in demo_transcript(mgr, name)
        if r.get("type") == "user" and isinstance(r["message"]["content"], str)
    ]


def ready(mgr: SessionManager, name: str) -> Callable[[], bool]:
    return lambda: "demo ❯" in screen(mgr, name)


def test_new_creates_branch_worktree_and_private_tmux_session(
    repo: Path, manager: SessionManager
) -> None:
    record = manager.create(agent="demo", name="alpha")
    assert record.status is Status.RUNNING
    assert record.branch == "agentmux/alpha"
    worktree = Path(record.worktree)
    # Independent source: git's own view of the repository.
    heads = git(repo, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
    assert f"agentmux/alpha {git(repo, 'rev-parse', 'HEAD')}" in heads.splitlines()
    listed = git(repo, "worktree", "list", "--porcelain")
    assert f"worktree {worktree}" in listed.splitlines()
    assert repo not in worktree.parents, "worktrees live outside the main tree"
    clean = git(repo, "status", "--porcelain", "--untracked-files=all", "--ignored")
    assert clean == "", "main tree's git status stays clean"
    # The tmux session is on agentmux's private socket, addressed by id.
    out = subprocess.run(
        [
            "tmux",
            "-S",
            str(manager.tmux.socket_path),
            "list-sessions",
            "-F",
            "#{session_id} #{session_name}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{record.tmux_session_id} alpha" in out
    assert record.tmux_pane_id is not None and record.tmux_pane_id.startswith("%")
    assert oct(manager.tmux.socket_path.stat().st_mode & 0o777) == "0o600"
    wait_for(lambda: "demo ❯" in screen(manager, "alpha"), what="demo prompt")


def test_child_environment_drops_nested_agent_variables(repo: Path, monkeypatch: object) -> None:
    write_config(repo, '[agents.envdump]\ncommand = ["sh", "-c", "env > env.txt; sleep 60"]\n')
    os.environ["CLAUDECODE"] = "1"
    try:
        mgr = SessionManager.open(repo)
        record = mgr.create(agent="envdump", name="env")
    finally:
        del os.environ["CLAUDECODE"]
    dump = Path(record.worktree) / "env.txt"
    wait_for(lambda: dump.exists() and dump.read_text().strip(), what="env dump")
    env = dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)
    assert env["AGENTMUX_SESSION"] == "env"
    assert env["AGENTMUX_SESSION_ID"] == record.id
    assert "CLAUDECODE" not in env
    assert "TMUX" not in env
    assert "TMUX_PANE" not in env


def test_pane_is_kept_after_exit_and_status_is_recorded(repo: Path) -> None:
    write_config(repo, '[agents.quitter]\ncommand = ["sh", "-c", "exit 7"]\n')
    mgr = SessionManager.open(repo)
    mgr.create(agent="quitter", name="q")

    def exited() -> bool:
        return any(r.status is Status.EXITED for r in mgr.reconcile())

    wait_for(exited, what="exit recorded")
    record = mgr.get("q")
    assert record.exit_status == 7
    assert record.tmux_pane_id is not None
    pane = mgr.panes_by_session()[record.id]
    assert pane.dead, "the pane is kept after the agent exits"
    kinds = [e["kind"] for e in mgr.store.events(record.id) if e["kind"] != "hook_key"]
    assert kinds[:2] == ["created", "started"] and "exited" in kinds


def test_multiline_prompt_is_delivered_intact_and_directives_run(
    repo: Path, manager: SessionManager
) -> None:
    prompt = b"write notes/a.txt first\\nsecond\nappend notes/a.txt !\ncommit add notes"
    record = manager.create(agent="demo", name="writer", prompt=prompt)
    assert not record.prompt_pending
    worktree = Path(record.worktree)
    wait_for(lambda: git(worktree, "log", "--format=%s", "-1") == "add notes", what="commit")
    assert (worktree / "notes" / "a.txt").read_text() == "first\nsecond!"
    assert user_prompts(manager, "writer") == [prompt.decode()]
    kinds = [e["kind"] for e in manager.store.events(record.id)]
    assert "prompt_sent" in kinds


def test_send_and_broadcast_reach_agents(repo: Path, manager: SessionManager) -> None:
    for name in ("one", "two", "three"):
        manager.create(agent="demo", name=name)
    for name in ("one", "two", "three"):
        wait_for(ready(manager, name), what=f"{name} ready")
    manager.send("one", b"write only-one.txt 1")
    wait_for(lambda: (Path(manager.get("one").worktree) / "only-one.txt").exists())
    reached = manager.broadcast(b"write all.txt everyone", "all")
    assert sorted(reached) == ["one", "three", "two"]
    for name in reached:
        wait_for(
            (Path(manager.get(name).worktree) / "all.txt").exists,
            what=f"broadcast reaching {name}",
        )
    reached = manager.broadcast(b"write some.txt x", "two,three")
    assert reached == ["two", "three"]
    wait_for(lambda: (Path(manager.get("three").worktree) / "some.txt").exists())
    assert not (Path(manager.get("one").worktree) / "some.txt").exists()


def test_broadcast_to_idle_skips_busy_sessions(repo: Path) -> None:
    write_config(repo, "idle_seconds = 1.0\n")
    mgr = SessionManager.open(repo)
    mgr.create(agent="demo", name="calm")
    mgr.create(agent="demo", name="busy", prompt=b"sleep 8")
    wait_for(lambda: "thinking" in screen(mgr, "busy"), what="busy working")
    panes = mgr.panes_by_session()
    wait_for(
        lambda: (mgr.idle_seconds(mgr.get("calm"), mgr.panes_by_session()) or 0) >= 1.2,
        what="calm idle",
    )
    assert panes
    reached = mgr.broadcast(b"write idle.txt yes", "idle")
    assert reached == ["calm"]


def test_queue_past_the_limit_starts_when_a_slot_frees(repo: Path) -> None:
    write_config(repo, "max_sessions = 2\n")
    mgr = SessionManager.open(repo)
    mgr.create(agent="demo", name="a")
    mgr.create(agent="demo", name="b")
    queued = mgr.create(agent="demo", name="c", prompt=b"write from-queue.txt ok")
    assert queued.status is Status.QUEUED
    assert queued.queued_at is not None
    assert Path(queued.worktree).is_dir(), "the worktree exists while queued"
    mgr.stop("a")
    started = mgr.get("c")
    assert started.status is Status.RUNNING
    for record in mgr.pending_deliveries():
        mgr.deliver_prompt(record.id)
    wait_for(lambda: (Path(started.worktree) / "from-queue.txt").exists(), what="queued prompt")
    events = mgr.store.events(started.id)
    started_event = next(e for e in events if e["kind"] == "started")
    assert started_event["data"]["queue_wait"] >= 0


def test_queue_drains_by_itself_when_an_agent_exits(repo: Path) -> None:
    """No agentmux command runs: the tmux server's pane-died hook starts the queued session."""
    write_config(
        repo,
        'max_sessions = 1\n[agents.brief]\ncommand = ["sh", "-c", "sleep 1.5"]\n',
    )
    mgr = SessionManager.open(repo)
    mgr.create(agent="brief", name="first")
    second = mgr.create(agent="demo", name="second", prompt=b"write drained.txt yes")
    assert second.status is Status.QUEUED
    # Read the store directly (no reconcile) so only the hook can have started it.
    wait_for(
        lambda: mgr.store.session(second.id).status is Status.RUNNING,
        timeout=20,
        what="hook-driven start",
    )
    wait_for(
        lambda: (Path(second.worktree) / "drained.txt").exists(),
        timeout=20,
        what="prompt delivered by the hook",
    )


def test_stop_queued_session_takes_it_off_the_queue(repo: Path) -> None:
    write_config(repo, "max_sessions = 1\n")
    mgr = SessionManager.open(repo)
    mgr.create(agent="demo", name="a")
    mgr.create(agent="demo", name="b")
    stopped = mgr.stop("b")
    assert stopped.status is Status.STOPPED
    mgr.stop("a")
    assert mgr.get("b").status is Status.STOPPED, "a stopped session does not come back"


def test_stop_ends_the_agent_and_records_the_signal(repo: Path, manager: SessionManager) -> None:
    manager.create(agent="demo", name="s")
    record = manager.stop("s")
    assert record.status is Status.STOPPED
    assert record.exit_signal == 15, "the agent died of the SIGTERM"
    assert record.exit_status == 128 + 15, "as its shell wrapper reports it"
    pane = manager.panes_by_session()[record.id]
    assert pane.dead


def test_reconcile_marks_sessions_lost_when_the_server_dies(
    repo: Path, manager: SessionManager
) -> None:
    manager.create(agent="demo", name="x")
    manager.tmux.kill_server()
    records = manager.reconcile()
    assert [r.status for r in records] == [Status.LOST]
    lost = [e for e in manager.store.events(records[0].id) if e["kind"] == "lost"]
    assert lost and "not running" in lost[0]["data"]["reason"]
    # A new session still works afterwards (the server restarts).
    assert manager.create(agent="demo", name="y").status is Status.RUNNING


def test_sessions_are_adopted_by_a_new_manager(repo: Path) -> None:
    first = SessionManager.open(repo)
    created = first.create(agent="demo", name="keep")
    first.close()
    second = SessionManager.open(repo)
    records = second.reconcile()
    assert [(r.name, r.status, r.tmux_pane_id) for r in records] == [
        ("keep", Status.RUNNING, created.tmux_pane_id)
    ]


def test_queue_drains_when_a_tmux_session_is_killed_from_outside(repo: Path) -> None:
    write_config(repo, "max_sessions = 1\n")
    mgr = SessionManager.open(repo)
    first = mgr.create(agent="demo", name="victim")
    second = mgr.create(agent="demo", name="waiting")
    assert second.status is Status.QUEUED
    subprocess.run(
        ["tmux", "-S", str(mgr.tmux.socket_path), "kill-session", "-t", str(first.tmux_session_id)],
        check=True,
    )
    wait_for(
        lambda: mgr.store.session(second.id).status is Status.RUNNING,
        timeout=20,
        what="session-closed hook starting the queued session",
    )
    assert mgr.store.session(first.id).status is Status.LOST


def test_a_window_the_user_opens_is_never_taken_for_the_agent(
    repo: Path, manager: SessionManager
) -> None:
    record = manager.create(agent="demo", name="split")
    wait_for(ready(manager, "split"), what="ready")
    sock = str(manager.tmux.socket_path)
    subprocess.run(
        [
            "tmux",
            "-S",
            sock,
            "split-window",
            "-t",
            str(record.tmux_pane_id),
            "sh",
            "-c",
            "cat > typed.txt",
        ],
        check=True,
        cwd=record.worktree,
    )
    subprocess.run(
        ["tmux", "-S", sock, "new-window", "-t", str(record.tmux_session_id), "sleep", "60"],
        check=True,
    )
    assert manager.reconcile()[0].tmux_pane_id == record.tmux_pane_id
    manager.send("split", b"write to-agent.txt yes")
    wait_for((Path(record.worktree) / "to-agent.txt").exists, what="prompt reaching the agent")
    assert manager.panes_by_session()[record.id].pane_id == record.tmux_pane_id


def test_agent_runs_under_sh_whatever_the_login_shell(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHELL", "/bin/false")
    mgr = SessionManager.open(repo)
    record = mgr.create(agent="demo", name="fishy", prompt=b"write ok.txt 1")
    wait_for((Path(record.worktree) / "ok.txt").exists, what="agent started despite SHELL")


def test_each_session_gets_the_callers_current_environment(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(repo, '[agents.envdump]\ncommand = ["sh", "-c", "env > env.txt; sleep 60"]\n')
    monkeypatch.setenv("AMX_PROBE", "first")
    mgr = SessionManager.open(repo)
    first = mgr.create(agent="envdump", name="e1")
    monkeypatch.setenv("AMX_PROBE", "second")
    monkeypatch.setenv("AMX_NEW", "new")
    second = mgr.create(agent="envdump", name="e2")

    def env_of(record_worktree: str) -> dict[str, str]:
        dump = Path(record_worktree) / "env.txt"
        wait_for(lambda: dump.exists() and "AMX_PROBE" in dump.read_text(), what="env dump")
        return dict(line.split("=", 1) for line in dump.read_text().splitlines() if "=" in line)

    assert env_of(first.worktree)["AMX_PROBE"] == "first"
    second_env = env_of(second.worktree)
    assert second_env["AMX_PROBE"] == "second" and second_env["AMX_NEW"] == "new"


def test_lost_session_is_adopted_again_when_its_pane_reappears(
    repo: Path, manager: SessionManager
) -> None:
    record = manager.create(agent="demo", name="back")
    manager.store.update_session(record.id, "lost", status=Status.LOST)
    assert manager.reconcile()[0].status is Status.RUNNING
    # The demo agent's hook may report (an agent_event) at any moment.
    kinds = [e["kind"] for e in manager.store.events(record.id) if e["kind"] != "agent_event"]
    assert kinds[-1] == "adopted"


def test_socket_path_is_fixed_at_first_use(
    repo: Path, manager: SessionManager, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manager.create(agent="demo", name="fixed")
    monkeypatch.setenv("AGENTMUX_SOCKET_DIR", str(tmp_path / "elsewhere"))
    again = SessionManager.open(repo)
    assert again.tmux.socket_path == manager.tmux.socket_path
    assert [r.status for r in again.reconcile()] == [Status.RUNNING]
