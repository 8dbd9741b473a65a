"""Sessions on another host: the real CLI here, a real sshd, agentmux installed for a second user
there (its own tmux server, state and worktrees), code moving with git over the ssh master.

What the remote did is read independently: files in its worktrees as root, its git refs with
``git`` run as the second user (``runuser``), never through agentmux.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agentmux.core.git.conflicts import ConflictReport, Verdict
from agentmux.core.git.snapshots import Snapshot
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import CliResult, git, run_cli, wait_for
from tests.core.host.ssh.conftest import as_remote_user
from tests.core.host.ssh.sshd import Sshd

pytestmark = pytest.mark.slow


def ls(repo: Path) -> dict[str, dict[str, Any]]:
    done = run_cli(repo, "ls", "--json")
    assert done.code == 0, done.err
    return {row["name"]: row for row in json.loads(done.out)}


def ok(done: CliResult) -> CliResult:
    assert done.code == 0, done.err
    return done


def assert_fetches_only_moved_branches(repo: Path, tip: str) -> None:
    """A branch whose tip is already here is not fetched: fetching from a clone that is not
    there fails, and only the moved branch's listing tries (and says so)."""
    manager = SessionManager.open(repo)
    try:
        remote = manager.remote
        row = {"branch": "agentmux/r1", "branch_head": tip}
        remote._fetch_moved("build1", "/no/such/clone", [row])
        assert "build1" not in remote.problems
        remote._fetch_moved("build1", "/no/such/clone", [{**row, "branch_head": "0" * 40}])
        assert "build1" in remote.problems
    finally:
        manager.close()


def test_a_session_on_another_host_from_start_to_removal(repo: Path, build1: str) -> None:
    made = ok(
        run_cli(
            repo,
            "new",
            "--host",
            build1,
            "--agent",
            "demo",
            "--name",
            "r1",
            "write remote.txt hello",
        )
    )
    assert made.out.startswith("r1: ")
    assert "on host build1" in made.out
    row = ls(repo)["r1"]
    assert row["host"] == "build1"
    worktree = Path(row["worktree"])
    # The worktree is the second user's, in its own home: not this user's files.
    assert worktree.is_relative_to(Path(as_remote_user("sh", "-c", "echo $HOME")))
    wait_for(lambda: (worktree / "remote.txt").exists(), timeout=30, what="the prompt's work")
    assert (worktree / "remote.txt").read_text() == "hello"
    assert ls(repo)["r1"]["status"] == "running"

    # Its branch came back by git: the local ref is the host's branch tip.
    clone = as_remote_user(
        "git", "-C", str(worktree), "rev-parse", "--path-format=absolute", "--git-common-dir"
    )
    there = as_remote_user("git", "-C", clone, "rev-parse", "refs/heads/agentmux/r1")
    here = git(repo, "rev-parse", "refs/agentmux/hosts/build1/heads/agentmux/r1").strip()
    assert here == there == git(repo, "rev-parse", "main").strip()

    # One namespace: a local session cannot take its name.
    taken = run_cli(repo, "new", "--agent", "demo", "--name", "r1")
    assert taken.code != 0
    assert "a session named 'r1' already exists" in taken.err

    ok(run_cli(repo, "send", "r1", "commit remote work"))
    wait_for(
        lambda: as_remote_user("git", "-C", clone, "rev-parse", "refs/heads/agentmux/r1") != here,
        timeout=30,
        what="the agent's commit on the host",
    )
    ok(run_cli(repo, "send", "r1", "write wip.txt unsaved"))
    wait_for(lambda: (worktree / "wip.txt").exists(), timeout=30, what="more work")
    committed = as_remote_user("git", "-C", clone, "rev-parse", "refs/heads/agentmux/r1")
    listed = ls(repo)  # a listing fetches the branches that moved
    assert listed["r1"]["branch_head"] == committed
    fetched = git(repo, "rev-parse", "refs/agentmux/hosts/build1/heads/agentmux/r1").strip()
    assert fetched == committed
    assert git(repo, "show", f"{fetched}:remote.txt") == "hello"
    assert_fetches_only_moved_branches(repo, committed)

    ok(run_cli(repo, "stop", "r1"))
    assert ls(repo)["r1"]["status"] in ("stopped", "exited")
    resumed = json.loads(ok(run_cli(repo, "resume", "r1", "--json")).out)
    assert [(r["name"], r["host"], r["outcome"]) for r in resumed] == [("r1", "build1", "resumed")]
    assert ls(repo)["r1"]["status"] == "running"
    ok(run_cli(repo, "stop", "r1"))

    # The host's safety rules hold: uncommitted work keeps the session.
    refused = run_cli(repo, "rm", "r1")
    assert refused.code != 0
    assert refused.err.startswith("agentmux: on host build1: ")
    assert len(refused.err.strip().splitlines()) == 1
    assert worktree.exists()
    # The host cannot be forgotten while this repository has a session there.
    held = run_cli(repo, "host", "rm", build1)
    assert held.code != 0
    assert held.err.strip() == (
        "agentmux: host build1 still has sessions of this repository (r1); remove them first "
        "(agentmux rm NAME), or forget the host anyway with --force."
    )
    removed = ok(run_cli(repo, "rm", "r1", "--force"))
    kept = removed.out.strip().rsplit(" ", 1)[-1]
    assert kept.startswith("refs/agentmux/hosts/build1/")
    assert git(repo, "show", f"{kept}:wip.txt") == "unsaved"
    assert not worktree.exists()
    assert "r1" not in ls(repo)
    assert ls_all(repo)["r1"]["status"] == "removed"


def ls_all(repo: Path) -> dict[str, dict[str, Any]]:
    done = ok(run_cli(repo, "ls", "--json", "--all"))
    return {row["name"]: row for row in json.loads(done.out)}


def test_a_host_that_goes_away_leaves_its_sessions_unreachable(
    repo: Path, build1: str, server: Sshd
) -> None:
    ok(run_cli(repo, "new", "--host", build1, "--agent", "demo", "--name", "far"))
    ok(run_cli(repo, "new", "--agent", "demo", "--name", "near"))
    rows = ls(repo)
    assert rows["far"]["status"] == "running"
    # One broadcast reaches both, each agent in its own worktree on its own machine.
    sent = json.loads(ok(run_cli(repo, "broadcast", "write all.txt both", "--json")).out)
    assert sorted(sent) == ["far", "near"]
    for name in ("far", "near"):
        path = Path(rows[name]["worktree"]) / "all.txt"
        wait_for(path.exists, timeout=30, what=f"the broadcast reaching {name}")
    server.stop()
    try:
        done = run_cli(repo, "ls", "--json")
        assert done.code == 0, done.err
        rows = {row["name"]: row for row in json.loads(done.out)}
        assert rows["far"]["status"] == "unreachable"
        assert rows["near"]["status"] == "running"  # local sessions go on as before
        assert done.err.startswith("agentmux: host build1 not reached: ")
        assert len(done.err.strip().splitlines()) == 1
        sent = run_cli(repo, "send", "far", "hello")
        assert sent.code != 0
        assert len(sent.err.strip().splitlines()) == 1
        table = run_cli(repo, "ls")
        assert "unreachable" in table.out
    finally:
        server.start()
    assert ls(repo)["far"]["status"] == "running"


def test_unknown_host_and_host_without_agentmux(repo: Path, server: Sshd) -> None:
    done = run_cli(repo, "new", "--host", "nope", "--agent", "demo")
    assert done.code != 0
    assert done.err.strip() == (
        "agentmux: there is no host named 'nope': add it with `agentmux host add nope TARGET`."
    )
    ok(
        run_cli(
            repo,
            "host",
            "add",
            "bare",
            "amx-sshd",
            "--ssh-command",
            server.ssh_command,
            "--agentmux",
            "/usr/local/bin/no-agentmux-here",
        )
    )
    done = run_cli(repo, "new", "--host", "bare", "--agent", "demo")
    assert done.code != 0
    assert done.err.startswith("agentmux: host bare has no agentmux")
    assert len(done.err.strip().splitlines()) == 1
    assert json.loads(ok(run_cli(repo, "ls", "--json")).out) == []


def test_a_remote_and_a_local_session_conflict_to_the_hunk(repo: Path, build1: str) -> None:
    ok(run_cli(repo, "new", "--agent", "demo", "--name", "near", "write README.md near"))
    ok(
        run_cli(
            repo,
            "new",
            "--host",
            build1,
            "--agent",
            "demo",
            "--name",
            "far",
            "write README.md far",
        )
    )
    near = Path(ls(repo)["near"]["worktree"])
    far = Path(ls(repo)["far"]["worktree"])
    wait_for(lambda: (near / "README.md").read_text() == "near", timeout=30, what="near's edit")
    wait_for(lambda: (far / "README.md").read_text() == "far", timeout=30, what="far's edit")
    done = run_cli(repo, "conflicts", "--json")
    assert done.code == 1, done.err
    report = json.loads(done.out)
    assert [s["name"] for s in report["sessions"]] == ["near", "far"]
    (pair,) = report["pairs"]
    assert (pair["a"], pair["b"], pair["verdict"]) == ("near", "far", "conflict")
    (conflict,) = pair["conflicts"]
    assert conflict["path"] == "README.md"
    assert conflict["hunks"] == [{"line": 1, "a": ["near"], "b": ["far"]}]
    # The host's uncommitted work came here by git, untouched there.
    (wip,) = [
        line
        for line in git(repo, "for-each-ref", "--format=%(refname)").split()
        if line.startswith("refs/agentmux/hosts/build1/agentmux/wip/")
    ]
    assert git(repo, "show", f"{wip}:README.md") == "far"
    assert as_remote_user("git", "-C", str(far), "status", "--porcelain") == "M README.md"
    assert_the_radar_compares_the_remote_session(repo, near)
    assert_a_quiet_host_costs_no_fetch_and_no_write(repo)


def assert_the_radar_compares_the_remote_session(repo: Path, near: Path) -> None:
    """The TUI's radar (the watcher the cockpit runs) sees the remote session's work too: its
    host's export arrives on the radar's own thread, and a save here is compared with it as
    it was fetched, without asking the host again."""
    manager = SessionManager.open(repo)
    reports: list[ConflictReport] = []
    asked: list[float] = []
    watcher = manager.radar_watcher(reports.append)
    fetch = watcher.remote_work
    assert fetch is not None

    def counted() -> Mapping[str, Snapshot]:
        asked.append(time.monotonic())
        return fetch()

    watcher.remote_work = counted
    watcher.remote_seconds = 3600  # asked once, when the session elsewhere first appears
    watcher.set_records([*manager.sessions(), *manager.remote.records()])
    watcher.start()
    try:

        def verdict() -> Verdict | None:
            pair = reports[-1].pair("near", "far") if reports else None
            return pair.verdict if pair else None

        wait_for(lambda: verdict() is Verdict.CONFLICT, timeout=30, what="the radar's conflict")
        (near / "README.md").write_text("far")  # the same change as the host's: no conflict
        wait_for(lambda: verdict() is Verdict.OVERLAP, timeout=10, what="the save compared")
        assert len(asked) == 1, "a save here asked the host again"
        assert not watcher.errors, watcher.errors
    finally:
        watcher.stop()
        manager.close()


def assert_a_quiet_host_costs_no_fetch_and_no_write(repo: Path) -> None:
    """Asked again about its quiet sessions (the cockpit asks every few seconds), a host's
    answer fetches nothing and writes nothing here (the state directory's watchers see no
    change), while the quiet time it reports stays fresh."""
    manager = SessionManager.open(repo)
    try:
        first = manager.remote.exported_work()
        fetched = repo / ".git" / "FETCH_HEAD"
        before = fetched.stat().st_mtime_ns
        assert manager.remote.exported_work() == first
        assert fetched.stat().st_mtime_ns == before, "quiet work was fetched again"
        manager.remote.refresh(fetch=False)
        checked = {r.id: r.checked_at for r in manager.remote.rows()}
        manager.remote.heard.clear()
        manager.remote.refresh(fetch=False)
        assert {r.id: r.checked_at for r in manager.remote.rows()} == checked
        assert {r.id for r in manager.remote.rows()} <= set(manager.remote.heard)
        assert all(row.get("idle_seconds") is not None for row in manager.remote.heard.values())
    finally:
        manager.close()


def test_a_remote_sessions_work_is_reviewed_committed_and_merged_here(
    repo: Path, build1: str
) -> None:
    ok(
        run_cli(
            repo,
            "new",
            "--host",
            build1,
            "--agent",
            "demo",
            "--name",
            "far",
            "write feature.txt from afar",
        )
    )
    far = Path(ls(repo)["far"]["worktree"])
    wait_for(lambda: (far / "feature.txt").exists(), timeout=30, what="the remote edit")
    # diff runs on the host, its output passed on as it is.
    diff = ok(run_cli(repo, "diff", "far", "--stat"))
    assert diff.out.splitlines()[0].split() == ["A", "feature.txt", "+1", "-0", "(uncommitted)"]
    # Uncommitted work on the host keeps it out of a merge, as it would a local session.
    refused = run_cli(repo, "merge", "far", "--keep")
    assert refused.code == 1
    assert "it has uncommitted work on host build1" in refused.out
    assert git(repo, "rev-parse", "main").strip() == ls(repo)["far"]["base_commit"]
    # merge --commit has the host commit it (as the host's git identity says), fetches it, and
    # lands it on main here.
    as_remote_user("git", "-C", str(far), "config", "user.name", "Far Away")
    as_remote_user("git", "-C", str(far), "config", "user.email", "far@example.com")
    done = ok(run_cli(repo, "merge", "far", "--commit", "--keep"))
    assert "merged far into main" in done.out
    assert git(repo, "show", "main:feature.txt") == "from afar"
    there = as_remote_user("git", "-C", str(far), "rev-parse", "HEAD")
    assert git(repo, "merge-base", "--is-ancestor", there, "main") == ""
    assert as_remote_user("git", "-C", str(far), "status", "--porcelain") == ""
    missing = run_cli(repo, "diff", "nope")
    assert missing.code != 0
    # Its host was told what landed here: removing it follows the usual rules, no --force.
    ok(run_cli(repo, "stop", "far"))
    ok(run_cli(repo, "rm", "far"))
    assert "far" not in ls(repo)


def test_spend_on_a_host_is_counted_here_and_unknown_while_it_is_away(
    repo: Path, build1: str, server: Sshd, remote_agentmux: Path
) -> None:
    ok(run_cli(repo, "new", "--agent", "demo", "--name", "near", "write a.txt 1"))
    ok(run_cli(repo, "new", "--host", build1, "--agent", "demo", "--name", "far", "write b.txt 2"))
    far = Path(ls(repo)["far"]["worktree"])
    wait_for(lambda: (far / "b.txt").exists(), timeout=30, what="the remote turn")

    def report() -> dict[str, Any]:
        found: dict[str, Any] = json.loads(ok(run_cli(repo, "cost", "--json")).out)
        return found

    wait_for(
        lambda: all(s["turns"] for s in report()["sessions"]), timeout=30, what="both turns counted"
    )
    here = {s["name"]: s for s in report()["sessions"]}
    assert (here["near"]["host"], here["far"]["host"]) == ("local", "build1")
    # The host's own report, read as its user with no ssh and no agentmux here in between.
    clone = as_remote_user(
        "git", "-C", str(far), "rev-parse", "--path-format=absolute", "--show-toplevel"
    )
    common = as_remote_user(
        "git", "-C", clone, "rev-parse", "--path-format=absolute", "--git-common-dir"
    )
    home = as_remote_user("sh", "-c", "echo $HOME")
    there = json.loads(
        as_remote_user(
            "env",
            "-i",
            f"HOME={home}",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            str(remote_agentmux),
            "-C",
            str(Path(common).parent),
            "cost",
            "--json",
        )
    )
    (theirs,) = [s for s in there["sessions"] if s["name"] == "far"]
    for key in ("tokens", "cost_usd", "turns", "failed_turns", "models"):
        assert here["far"][key] == theirs[key], key
    assert theirs["cost_usd"] is not None
    total = report()["totals"]
    assert Decimal(total["cost_usd"]) == Decimal(here["near"]["cost_usd"]) + Decimal(
        theirs["cost_usd"]
    )
    assert total["turns"] == here["near"]["turns"] + theirs["turns"]
    table = ok(run_cli(repo, "cost")).out
    assert "far @build1" in table

    server.stop()
    try:
        done = run_cli(repo, "cost", "--json")
        assert done.code == 0, done.err
        away = json.loads(done.out)
        far_row = next(s for s in away["sessions"] if s["name"] == "far")
        assert (far_row["cost_usd"], far_row["tokens"], far_row["turns"]) == (None, None, None)
        assert away["totals"]["cost_usd"] is None  # unknown, never the local part alone
        assert away["totals"]["cost_usd_known"] == here["near"]["cost_usd"]
        assert "not reached" in done.err
    finally:
        server.start()
