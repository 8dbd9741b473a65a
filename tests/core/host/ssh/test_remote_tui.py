"""A session on another host in the cockpit: its pane live over ssh beside a local one, typed
into in insert mode, and the host going away and coming back under a running TUI."""

from __future__ import annotations

import json
import pwd
from decimal import Decimal
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Select

from agentmux.core.metrics.cost_report import count_text, total_row_of_rows, usd_text
from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.ui.cost_screen import REMOTE_KEY, TOTAL_KEY, CostScreen, CostTable
from agentmux.ui.modals import NewSessionScreen
from agentmux.ui.review_screen import ReviewScreen
from tests.conftest import run_cli, screen, wait_for
from tests.core.host.ssh.conftest import as_remote_user
from tests.core.host.ssh.sshd import REMOTE_USER, Sshd
from tests.ui.test_tui import SIZE, RecordingApp, until
from tests.ui.test_tui_resume import OfferCountingApp

pytestmark = pytest.mark.slow


async def test_a_remote_pane_is_live_typed_into_and_survives_its_host_going_away(
    repo: Path, build1: str, server: Sshd, remote_agentmux: Path
) -> None:
    manager = SessionManager.open(repo)
    try:
        manager.create(agent="demo", name="near")
        wait_for(lambda: "demo ❯" in screen(manager, "near"), what="near ready")
        app = RecordingApp(manager)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: len(app.grid.panes) == 1, what="the local pane")
            # The new-session form offers the host, and starts the session there.
            await pilot.press("n")
            assert isinstance(app.screen, NewSessionScreen)
            app.screen.query_one("#agent", Select).value = "demo"
            app.screen.query_one("#name", Input).value = "far"
            app.screen.query_one("#host", Select).value = build1
            await pilot.press("ctrl+s")
            await until(lambda: len(app.grid.panes) == 2, timeout=30, what="both panes")
            far = manager.remote.records()[0]
            assert (far.name, far.host) == ("far", "build1")
            panes = {p.record.name: p for p in app.grid.panes.values()}
            assert panes["far"].record.host == "build1"
            await until(
                lambda: any("demo ❯" in row for row in panes["far"].rows),
                timeout=20,
                what="the remote pane mirrored over ssh",
            )
            # Insert mode types into the agent on the host, key by key, over the one client.
            number = list(app.grid.panes).index(far.id) + 1
            await pilot.press(str(number), "i")
            await pilot.press(*"write typed.txt over ssh", "enter")
            typed = Path(far.worktree) / "typed.txt"
            await until(typed.exists, timeout=20, what="the keys reaching the remote agent")
            assert typed.read_text() == "over ssh"
            await until(
                lambda: any("Wrote typed.txt" in row for row in panes["far"].rows),
                what="the agent's answer on screen",
            )
            await pilot.press("ctrl+right_square_bracket")
            # The review screen reads this machine's worktrees: for a remote session it says
            # where to look instead of showing an empty review.
            await pilot.press("v")
            assert not isinstance(app.screen, ReviewScreen)
            assert any("runs on host build1" in str(n.message) for n in app._notifications)

            await assert_the_cost_panel_counts_the_host(pilot, app, far.worktree, remote_agentmux)

            server.stop()
            try:
                await until(
                    lambda: "ConnectionChanged disconnected" in app.seen,
                    timeout=20,
                    what="the host's connection seen lost",
                )
                await until(
                    lambda: app.grid.views[far.id].record.status is Status.UNREACHABLE,
                    timeout=20,
                    what="the remote session shown unreachable",
                )
                # The local pane goes on.
                manager.send("near", b"write still.txt here")
                near = Path(manager.get("near").worktree) / "still.txt"
                await until(near.exists, what="the local agent working meanwhile")
            finally:
                server.start()
            await until(
                lambda: app.grid.hosts.states.get("build1") == "connected",
                timeout=30,
                what="the TUI reconnecting by itself",
            )
            await until(
                lambda: app.grid.views[far.id].record.status is Status.RUNNING,
                timeout=20,
                what="the remote session running again",
            )
            await pilot.press("q")
    finally:
        manager.close()


async def assert_the_cost_panel_counts_the_host(
    pilot: Pilot[None], app: RecordingApp, worktree: str, program: Path
) -> None:
    """The cost panel lists the remote session with the figures its host reports (read here
    independently: that host's own ``cost --json``, run as its user with no ssh, in the
    environment a login there has) and counts it in the total."""
    await pilot.press("dollar_sign")
    assert isinstance(app.screen, CostScreen)
    panel = app.screen
    await until(lambda: bool(panel.remote_rows), timeout=30, what="the host's spend")
    clone = as_remote_user(
        "git", "-C", worktree, "rev-parse", "--path-format=absolute", "--git-common-dir"
    )
    home = pwd.getpwnam(REMOTE_USER).pw_dir
    login = ["env", "-i", f"HOME={home}", "PATH=/usr/local/bin:/usr/bin:/bin"]
    there = json.loads(as_remote_user(*login, str(program), "-C", clone, "cost", "--json"))
    (far,) = [s for s in there["sessions"] if s["name"] == "far"]
    await until(
        lambda: any(r.get("tokens") == far["tokens"] for r in panel.remote_rows),
        timeout=40,
        what="the panel's figures to catch up with the host's",
    )
    table = panel.query_one(CostTable)
    cells = [str(c) for c in table.get_row(f"{REMOTE_KEY}{far['id']}")]
    assert cells[0] == "far @build1"
    tokens = far["tokens"]
    assert cells[3] == count_text(tokens["input"] if tokens else None)
    assert cells[4] == count_text(tokens["output"] if tokens else None)
    assert cells[7] == usd_text(None if far["cost_usd"] is None else Decimal(far["cost_usd"]))
    total = [str(c) for c in table.get_row(TOTAL_KEY)]
    every = [*(m.to_json() for m in panel.metrics or []), *panel.remote_rows]
    assert total == total_row_of_rows(every)
    await pilot.press("escape")


async def test_a_session_lost_on_its_host_is_offered_and_resumed_there(
    repo: Path, build1: str, server: Sshd, remote_agentmux: Path
) -> None:
    """The host rebooted (its tmux server gone): the TUI's one-time offer names its session
    too, and resuming it has the host's agentmux resume it there, in the same grid."""
    made = run_cli(
        repo, "new", "--host", build1, "--agent", "demo", "--name", "far", "write a.txt one"
    )
    assert made.code == 0, made.err
    manager = SessionManager.open(repo)
    try:
        far = manager.remote.records()[0]
        wait_for((Path(far.worktree) / "a.txt").exists, timeout=30, what="the first turn")
        clone = as_remote_user(
            "git", "-C", far.worktree, "rev-parse", "--path-format=absolute", "--git-common-dir"
        )
        home = pwd.getpwnam(REMOTE_USER).pw_dir
        login = ["env", "-i", f"HOME={home}", "PATH=/usr/local/bin:/usr/bin:/bin"]
        socket = json.loads(as_remote_user(*login, str(remote_agentmux), "-C", clone, "_socket"))[
            "socket"
        ]
        as_remote_user(*login, "tmux", "-S", socket, "kill-server")  # the host rebooted
        manager.remote.refresh(fetch=False)
        assert manager.remote.records()[0].status is Status.LOST

        app = OfferCountingApp(manager)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: bool(app.questions), timeout=30, what="the offer")
            assert "1 session was lost" in app.questions[0] and "far" in app.questions[0]
            await pilot.press("y")
            await until(
                lambda: any("(on host build1)" in str(n.message) for n in app._notifications),
                timeout=30,
                what="the host's outcome",
            )
            done = [str(n.message) for n in app._notifications if "on host build1" in n.message]
            assert any(m.startswith("resumed far") for m in done), done
            # Independently: the host's own listing says it runs again.
            listed = json.loads(
                as_remote_user(*login, str(remote_agentmux), "-C", clone, "ls", "--json")
            )
            assert [r["status"] for r in listed if r["name"] == "far"] == ["running"]
            await pilot.press("q")
    finally:
        manager.close()
