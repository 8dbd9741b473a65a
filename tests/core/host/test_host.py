"""The Host boundary: LocalHost does each operation on a real private tmux server and a real
repository; session records name their host (old databases migrate); and nothing but the host
(and the tmux package itself) imports the tmux server module."""

from __future__ import annotations

import ast
import os
import re
import sqlite3
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agentmux.core.git.repo import Repo, discover_repo
from agentmux.core.host import LOCAL, Host
from agentmux.core.host.local import HIDDEN_PREFIX, LocalHost
from agentmux.core.records import SessionRecord, Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.state import SCHEMA_VERSION, StateStore
from tests.conftest import Home, git, wait_for

PACKAGE = Path(__file__).parents[3] / "agentmux"
KEY = "0123456789abcdef"
NO_REPO = Path("/nonexistent/agentmux-test-repo")


@pytest.fixture
def host(home: Home, tmp_path: Path) -> Iterator[LocalHost]:
    """A LocalHost on the test's own socket directory; its server killed afterwards."""
    made = LocalHost.open(home.sockets / f"{KEY}.sock", tmp_path / "files", KEY)
    yield made
    made.kill_server()


def tmux(host: LocalHost, *args: str) -> str:
    """A tmux command on the host's server, by hand (an independent look)."""
    proc = subprocess.run(
        ["tmux", "-S", str(host.socket), *args], capture_output=True, text=True, check=False
    )
    return proc.stdout.strip()


def start(host: Host, repo: Path, name: str, argv: list[str], **env: str) -> str:
    """Start ``argv`` as an agent tagged with a new id; its id. The queue tick its end runs
    finds no repository (``NO_REPO``) and does nothing."""
    session_id = str(uuid.uuid4())
    pane = host.start_agent(
        name, session_id=session_id, worktree=repo, argv=argv, env=env, repo_root=NO_REPO
    )
    assert pane.agentmux_id == session_id
    return session_id


def pane_of(host: Host, session_id: str) -> str:
    return next(p.pane_id for p in host.panes() if p.agentmux_id == session_id)


def screen_of(host: Host, session_id: str) -> str:
    return host.capture_tagged(pane_of(host, session_id), session_id) or ""


def test_local_host_runs_an_agent_in_tmux_tag_checked(host: LocalHost, repo: Path) -> None:
    assert host.name == LOCAL == "local"
    assert not host.server_running() and host.panes() == []
    version = subprocess.run(["tmux", "-V"], capture_output=True, text=True, check=True).stdout
    assert f"{host.tmux_version()[0]}.{host.tmux_version()[1]}" in version
    sid = start(
        host, repo, "cat", ["sh", "-c", 'echo "greeting=$GREETING"; exec cat'], GREETING="hi"
    )
    assert host.server_running() and host.socket.exists()
    listed = tmux(host, "list-panes", "-a", "-F", "#{pane_id} #{@agentmux_id} #{session_name}")
    pane_id = pane_of(host, sid)
    assert listed == f"{pane_id} {sid} cat"
    wait_for(lambda: "greeting=hi" in screen_of(host, sid), what="the env reaching the agent")
    # The env file is private and gone once the wrapper read it; the tick script is in place.
    assert not (host.files / "env" / sid).exists()
    assert host.tick_script.exists() and str(NO_REPO) in host.tick_script.read_text()
    assert "session-closed" in tmux(host, "show-hooks", "-g")
    other = str(uuid.uuid4())
    assert host.capture_tagged(pane_id, other) is None
    assert not host.paste(pane_id, b"never typed", tag=other, submit=True, submit_delay=0)
    assert host.paste(pane_id, b"typed once", tag=sid, submit=True, submit_delay=0)
    assert not host.send_keys_tagged(pane_id, other, "wrongkeys", "Enter")
    assert host.send_keys_tagged(pane_id, sid, "keys", "Enter")
    wait_for(lambda: screen_of(host, sid).count("keys") == 2, what="keys echoed by cat")
    screen = screen_of(host, sid)
    assert screen.count("typed once") == 2
    assert "never typed" not in screen and "wrongkeys" not in screen
    assert not host.size_window(pane_id, other, 90, 20)
    assert host.size_window(pane_id, sid, 90, 20)
    assert tmux(
        host, "display-message", "-p", "-t", pane_id, "#{window_width}x#{window_height}"
    ) == ("90x20")
    pane = next(p for p in host.panes() if p.agentmux_id == sid)
    assert not host.in_view_only(pane)
    assert host.attach_argv(pane.session_id)[:3] == ["tmux", "-S", str(host.socket)]
    host.kill_agent_session(pane)
    assert host.panes() == []


def test_local_host_records_the_exit_and_ends_agents(host: LocalHost, repo: Path) -> None:
    done = start(host, repo, "done", ["sh", "-c", "exit 3"])
    assert host.exit_file(done) == host.files / "exit" / done
    wait_for(lambda: host.read_exit(done) is not None, what="the exit recorded")
    assert host.read_exit(done) == (3, None)
    assert host.exit_file(done).read_text().strip() == "3"
    sleeper = start(host, repo, "sleeper", ["sleep", "600"])
    pane = next(p for p in host.panes() if p.agentmux_id == sleeper)
    assert pane.pane_pid is not None and host.read_exit(sleeper) is None

    def dead() -> bool:
        return all(p.dead for p in host.panes() if p.agentmux_id == sleeper)

    host.terminate_agent(pane, dead)
    assert dead()
    wait_for(lambda: host.read_exit(sleeper) is not None, what="the wrapper's record")
    assert host.kill_window_tagged(pane.pane_id, sleeper)
    assert all(p.agentmux_id != sleeper for p in host.panes())
    host.kill_server()
    assert not host.server_running()


def test_a_pane_left_only_in_the_tuis_view_is_told_and_killed(host: LocalHost, repo: Path) -> None:
    sid = start(host, repo, "viewed", ["sleep", "600"])
    pane_id = pane_of(host, sid)
    view = f"{HIDDEN_PREFIX}-view"
    tmux(host, "new-session", "-d", "-s", view, "sleep 600")
    assert host.server.link_window(pane_id, sid, view)
    tmux(host, "kill-session", "-t", "=viewed")  # its own session killed from outside
    pane = next(p for p in host.panes() if p.agentmux_id == sid)
    assert pane.session_name == view and host.in_view_only(pane)
    assert host.kill_window_tagged(pane.pane_id, sid)
    assert all(p.agentmux_id != sid for p in host.panes())


def test_local_host_adopts_an_untagged_agent_pane(host: LocalHost, repo: Path) -> None:
    start(host, repo, "keeper", ["sleep", "600"])  # the server is up
    tmux(host, "new-session", "-d", "-s", "orphan", "-c", str(repo), "sleep 600")
    orphan = next(p for p in host.panes() if p.session_name == "orphan")
    assert orphan.agentmux_id == ""
    record = SessionRecord(
        id=str(uuid.uuid4()),
        name="orphan",
        agent="demo",
        agent_kind="demo",
        agent_session_id=str(uuid.uuid4()),
        branch="agentmux/orphan",
        worktree=str(repo),
        base_ref="main",
        base_commit="0" * 40,
        status=Status.LOST,
        created_at=time.time(),
    )
    adopted = host.adopt_orphans([record], host.panes())
    assert [(r.id, p.pane_id) for r, p in adopted] == [(record.id, orphan.pane_id)]
    assert tmux(host, "display-message", "-p", "-t", orphan.pane_id, "#{@agentmux_id}") == record.id


def test_local_host_runs_git_in_worktrees(host: LocalHost, repo: Path, tmp_path: Path) -> None:
    project: Repo = discover_repo(repo)
    base = git(repo, "rev-parse", "HEAD")
    worktree = tmp_path / "wt"
    assert not host.is_worktree_of(project, worktree)
    host.add_worktree(project, worktree, "agentmux/wt", base)
    assert host.is_worktree_of(project, worktree)
    assert git(worktree, "symbolic-ref", "--short", "HEAD") == "agentmux/wt"
    (worktree / "new.txt").write_text("work in progress\n")
    store = host.snapshots(project)
    assert store.root == host.files / "snapshots"
    snap = store.take("sid", worktree)
    assert snap.commit is not None and snap.head == base
    assert store.git(["show", f"{snap.commit}:new.txt"]) == "work in progress"
    commit, left_out = host.commit_work(worktree, "wip: new.txt")
    assert commit == git(worktree, "rev-parse", "HEAD") and left_out == ()
    assert git(worktree, "log", "-1", "--format=%s") == "wip: new.txt"
    assert git(worktree, "status", "--porcelain") == ""
    assert host.commit_work(worktree, "nothing") == (None, ())
    host.remove_worktree(project, worktree)
    assert not worktree.exists() and not host.is_worktree_of(project, worktree)


def test_local_host_says_where_agents_find_their_files(host: LocalHost) -> None:
    assert host.environ() == dict(os.environ)
    assert host.files.name == "files"


def test_the_manager_goes_through_its_host(manager: SessionManager) -> None:
    host = manager.host
    assert isinstance(host, LocalHost) and manager.tmux is host.server
    assert host.files == manager.home
    record = manager.create(agent="demo", name="hosted")
    assert record.host == "local" and record.to_json()["host"] == "local"
    assert manager.get("hosted").host == "local"
    assert record.id in {p.agentmux_id for p in host.panes()}
    manager.remove("hosted", force=True)


# The schema of agentmux's state store before sessions named their host (version 2).
OLD_SCHEMA = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, agent TEXT NOT NULL, agent_kind TEXT NOT NULL,
    agent_session_id TEXT NOT NULL, argv TEXT NOT NULL, branch TEXT NOT NULL,
    worktree TEXT NOT NULL, base_ref TEXT NOT NULL, base_commit TEXT NOT NULL,
    status TEXT NOT NULL, prompt BLOB, created_at REAL NOT NULL, queued_at REAL,
    started_at REAL, ended_at REAL, exit_status INTEGER, exit_signal INTEGER, removed_at REAL,
    tmux_session_id TEXT, tmux_window_id TEXT, tmux_pane_id TEXT, archive_ref TEXT
);
CREATE UNIQUE INDEX sessions_live_name ON sessions(name) WHERE removed_at IS NULL;
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions(id),
    ts REAL NOT NULL, kind TEXT NOT NULL, data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_session ON events(session_id, ts);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version = 2;
"""


def test_an_old_database_gains_the_host_column_as_local(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute(
            "INSERT INTO sessions (id, name, agent, agent_kind, agent_session_id, argv, branch, "
            "worktree, base_ref, base_commit, status, created_at) "
            "VALUES ('old-id', 'old', 'demo', 'demo', 'conv', '[\"demo\"]', 'agentmux/old', "
            "'/wt/old', 'main', ?, 'exited', 1.0)",
            ("0" * 40,),
        )
        conn.execute("INSERT INTO meta VALUES ('tmux_socket', '/tmp/kept.sock')")
    conn.close()
    store = StateStore(path)
    try:
        old = store.session("old-id")
        assert (old.name, old.status, old.host) == ("old", Status.EXITED, "local")
        assert store.get_meta("tmux_socket") == "/tmp/kept.sock"
        assert store.argv("old-id") == ["demo"]
        elsewhere = replace(old, id="new-id", name="new", host="build-box")
        store.insert_session(elsewhere, ["demo"], None)
        assert store.session("new-id").host == "build-box"
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
        columns = {row[1]: row for row in conn.execute("PRAGMA table_info(sessions)")}
        assert columns["host"][2] == "TEXT" and columns["host"][3] == 1  # NOT NULL
    conn.close()
    StateStore(path).close()  # opening it again migrates nothing twice


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_host_and_tmux_import_the_tmux_server() -> None:
    allowed = (PACKAGE / "core" / "host", PACKAGE / "core" / "tmux")
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in PACKAGE.rglob("*.py")
        if not any(root in path.parents for root in allowed)
        and "agentmux.core.tmux.server" in imports_of(path)
    ]
    assert offenders == []


def test_the_sessions_reach_tmux_only_through_the_host() -> None:
    # The manager's `tmux` property is for tests and the TUI's mirror: the core never uses it.
    uses = re.compile(r"\b(?:m|manager|self\.manager)\.tmux\b")
    offenders = [
        str(path.relative_to(PACKAGE.parent))
        for path in (PACKAGE / "core").rglob("*.py")
        if PACKAGE / "core" / "host" not in path.parents and uses.search(path.read_text())
    ]
    assert offenders == []


def test_the_import_contracts_place_the_host_between_the_rooms() -> None:
    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c["type"] == "layers")
    assert layers["layers"] == ["sessions", "metrics", "agents", "host", "tmux | git", "config"]
    only_host = next(
        c for c in contracts if c["name"].startswith("only the host acts on a session's machine")
    )
    forbidden = set(only_host["forbidden_modules"])
    assert {"agentmux.core.git.snapshots", "agentmux.core.tmux.mirror"} <= forbidden
    sources = set(only_host["source_modules"])
    assert "agentmux.core.sessions" in sources and "agentmux.ui" in sources
    assert not any(s.startswith(("agentmux.core.host", "agentmux.core.tmux")) for s in sources)
