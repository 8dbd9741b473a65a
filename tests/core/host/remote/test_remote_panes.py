"""Live panes of another machine's agents (issue 14): tmux control mode through the host's ssh
master, against a real sshd and a real tmux server of another local user.

Every pane is acted on only as the pane tagged with the session's id: a pane tagged otherwise is
never shown, typed into, sized or attached to, and a restarted server's pane ids (handed out
again) never carry an old session's screen or keys.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmux.core.host.remote.panes import NEEDS_LOGIN, REMOTE_VIEW, RemoteMirror
from agentmux.core.tmux.mirror import Mirror, PaneMirror
from agentmux.core.tmux.server import GONE_TEXT
from tests.conftest import wait_for
from tests.core.host.remote.conftest import RemoteTmux, Screens, record
from tests.core.host.ssh.conftest import Connect
from tests.core.host.ssh.sshd import Sshd

A = "0a0a0a0a-agent-a"
B = "0b0b0b0b-agent-b"


def _both_are_pane_mirrors(local: Mirror, remote: RemoteMirror) -> list[PaneMirror]:
    """mypy checks that the UI can hold either."""
    return [local, remote]


class Spawns:
    """Counts processes this test process starts (Python's audit hook, an observation: nothing
    is replaced), to tell commands over the control connection from a channel per command."""

    _active: Spawns | None = None
    _installed = False

    def __init__(self) -> None:
        self.argvs: list[list[str]] = []

    @classmethod
    def _hook(cls, event: str, args: tuple[object, ...]) -> None:
        if event == "subprocess.Popen" and cls._active is not None:
            argv = args[1]
            cls._active.argvs.append([str(a) for a in argv] if isinstance(argv, list) else [])

    def __enter__(self) -> Spawns:
        if not Spawns._installed:
            sys.addaudithook(Spawns._hook)
            Spawns._installed = True
        Spawns._active = self
        return self

    def __exit__(self, *_exc: object) -> None:
        Spawns._active = None


@pytest.fixture
def screens() -> Screens:
    return Screens()


@pytest.fixture
def mirror(host: RemoteTmux, screens: Screens) -> Iterator[RemoteMirror]:
    """A mirror of the host's tmux (not started)."""
    made = RemoteMirror(host.connection, host.socket, screens.on_screen, screens.on_state)
    yield made
    made.stop()


def _connected(mirror: RemoteMirror) -> None:
    assert mirror.client.connected.wait(10), f"never connected: {mirror.problem}"


def test_a_remote_panes_screen_arrives_over_one_login(
    server: Sshd, host: RemoteTmux, mirror: RemoteMirror, screens: Screens
) -> None:
    logins = server.logins()
    pane = host.new_agent("a", A)
    mirror.start()
    _connected(mirror)
    host.type(pane, "echo HELLO-$((6*7))")
    with Spawns() as spawned:
        panes = mirror.refresh_panes()
        assert panes is not None and set(panes) == {A}, panes
        assert panes[A].pane_id == pane
        mirror.focus(record(A))
        screens.wait(A, "HELLO-42")
        mirror.resize(record(A), 50, 12)
        assert mirror.send_key(record(A), "x", "X")
        screens.wait(A, "$ X")
    # Listing, linking, sizing and typing went over the control connection: no process (no ssh
    # channel) was started for any of them.
    assert spawned.argvs == []
    assert host.screen(pane).splitlines()[-1] == "$ X"
    size = host.tmux("display-message", "-p", "-t", pane, "#{pane_width}x#{pane_height}")
    assert size == "50x12"
    wait_for(lambda: any(s.width == 50 and s.height == 12 for s in screens.screens), timeout=5)
    # Linked into the viewers' own hidden session, once.
    view = host.tmux("list-panes", "-s", "-t", f"={REMOTE_VIEW}", "-F", "#D").split()
    assert view.count(pane) == 1
    mirror.show(panes)
    mirror.stop()
    mirror.start()
    _connected(mirror)
    mirror.refresh_panes()
    view = host.tmux("list-panes", "-s", "-t", f"={REMOTE_VIEW}", "-F", "#D").split()
    assert view.count(pane) == 1, "a second viewer linked the window again"
    assert mirror.last_output(record(A)) is not None
    assert server.logins() - logins == 1


def test_send_key_types_into_the_remote_agent(
    server: Sshd, host: RemoteTmux, mirror: RemoteMirror
) -> None:
    typed = server.remote_dir / "typed.txt"
    host.new_agent("a", A, f"cat > {typed}")
    mirror.start()
    _connected(mirror)
    panes = mirror.refresh_panes()
    assert panes is not None
    for key, character in (("h", "h"), ("i", "i"), ("space", " "), ("quotation_mark", '"')):
        assert mirror.send_key(record(A), key, character)
    assert mirror.send_key(record(A), "enter", "\r")
    wait_for(lambda: host.connection.run(["cat", str(typed)]).stdout == b'hi "\n')


def test_a_pane_with_another_tag_is_never_shown_or_touched(
    server: Sshd, host: RemoteTmux, mirror: RemoteMirror, screens: Screens
) -> None:
    typed = server.remote_dir / "b-typed.txt"
    pane_b = host.new_agent("b", B, f"echo SECRET-B; cat > {typed}")
    mirror.start()
    _connected(mirror)
    size_before = host.tmux("display-message", "-p", "-t", pane_b, "#{pane_width}x#{pane_height}")
    listed = mirror.list_panes()
    assert listed is not None and set(listed) == {B}
    # A stale listing says session A has that pane: it is B's.
    mirror.show({A: listed[B]})
    mirror.focus(record(A))
    assert not mirror.send_key(record(A), "z", "z")
    mirror.resize(record(A), 40, 10)
    assert mirror.attach(record(A)) is None
    time.sleep(1.0)  # captures are due at once: time for a wrong screen to arrive
    assert screens.texts(A) == []
    assert host.connection.run(["cat", str(typed)]).stdout == b""
    size_after = host.tmux("display-message", "-p", "-t", pane_b, "#{pane_width}x#{pane_height}")
    assert size_after == size_before
    assert pane_b not in host.tmux("list-panes", "-s", "-t", f"={REMOTE_VIEW}", "-F", "#D")
    # The same pane shown as its own session's is mirrored (the path above was live).
    mirror.show(listed)
    screens.wait(B, "SECRET-B")


def test_a_restarted_servers_pane_ids_never_carry_the_old_session(
    host: RemoteTmux, mirror: RemoteMirror, screens: Screens
) -> None:
    pane_a = host.new_agent("a", A, "echo OLD-A; exec cat")
    mirror.start()
    _connected(mirror)
    panes = mirror.refresh_panes()
    assert panes is not None
    mirror.focus(record(A))
    screens.wait(A, "OLD-A")
    connects = screens.states.count("connected")
    host.kill_server()
    wait_for(lambda: not mirror.client.connected.is_set(), what="the mirror to see it go")
    pane_b = host.new_agent("b", B, "echo NEW-B; exec cat")
    assert pane_b == pane_a, "the new server was expected to reuse the pane id"
    wait_for(lambda: screens.states.count("connected") > connects, what="a reconnect")
    # The mirror still takes the pane for A's, as the last listing said.
    assert not mirror.send_key(record(A), "q", "q")
    time.sleep(1.0)  # the reconnect captures every watched pane at once
    assert not screens.shows(A, "NEW-B")
    assert "q" not in host.screen(pane_b).replace("NEW-B", "")
    # A listing of the new server shows B's pane as B's.
    panes = mirror.refresh_panes()
    assert panes is not None and set(panes) == {B}
    screens.wait(B, "NEW-B")


@pytest.mark.parametrize("how", ["exit", "kill"])
def test_screens_resume_after_the_ssh_master_dies(
    how: str, server: Sshd, host: RemoteTmux, mirror: RemoteMirror, screens: Screens
) -> None:
    pane = host.new_agent("a", A)
    mirror.start()
    _connected(mirror)
    assert mirror.refresh_panes() is not None
    mirror.focus(record(A))
    host.type(pane, "echo BEFORE-$((1+1))")
    screens.wait(A, "BEFORE-2")
    logins = server.logins()
    if how == "exit":
        assert host.connection.close()
    else:
        pid = host.connection.master_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: "disconnected" in screens.states, timeout=5, what="the drop reported")
    # Nobody else touches the connection: the mirror makes the master again by itself.
    wait_for(lambda: mirror.client.connected.is_set(), timeout=10, what="a reconnect")
    host.type(pane, "echo AFTER-$((2+2))")
    elapsed = screens.wait(A, "AFTER-4")
    assert elapsed < 5
    assert screens.states[-1] == "connected"
    assert server.logins() - logins == 1


def test_a_login_that_needs_a_person_is_reported_once_and_not_retried(
    server: Sshd, connect: Connect, screens: Screens
) -> None:
    connection = connect("locked", "amx-sshd-locked")
    marks = server.log_text().count("Connection closed by authenticating user")

    def refusals() -> int:
        return server.log_text().count("Connection closed by authenticating user") - marks

    mirror = RemoteMirror(connection, "/tmp/none.sock", screens.on_screen, screens.on_state)
    mirror.start()
    try:
        wait_for(lambda: screens.states == [NEEDS_LOGIN], timeout=10, what="needs-login")
        assert mirror.problem is not None and "needs a person" in mirror.problem
        time.sleep(1.5)  # a reconnect loop would have tried three or four times by now
        assert screens.states == [NEEDS_LOGIN]
        assert refusals() == 1
        mirror.retry()
        wait_for(lambda: screens.states == [NEEDS_LOGIN, NEEDS_LOGIN], timeout=10)
        wait_for(lambda: refusals() == 2, what="the second refused login")
    finally:
        mirror.stop()


def test_attach_is_checked_by_the_hosts_tmux(
    host: RemoteTmux, mirror: RemoteMirror, tmp_path: Path
) -> None:
    pane_b = host.new_agent("b", B)
    mirror.start()
    _connected(mirror)
    listed = mirror.list_panes()
    assert listed is not None
    typescript = tmp_path / "typescript"

    def in_terminal(argv: list[str]) -> subprocess.Popen[bytes]:
        # script runs a shell line, in a pseudo-terminal of its own.
        return subprocess.Popen(
            ["script", "-qfec", shlex.join(argv), str(typescript)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    # B's pane attached to as A's: the host's tmux refuses, and says so.
    refused = in_terminal(mirror.attach_argv(listed[B], A))
    refused.wait(15)
    assert GONE_TEXT in typescript.read_text(errors="replace")
    # As B's own: a real attach, until the host's tmux detaches it.
    attached = in_terminal(mirror.attach_argv(listed[B], B))
    try:
        wait_for(lambda: host.tmux("list-clients", "-t", "=b", "-F", "#{client_tty}") != "")
        host.tmux("detach-client", "-s", "=b")
        assert attached.wait(15) == 0
    finally:
        if attached.poll() is None:
            attached.kill()
    assert pane_b


def test_screens_resume_after_the_host_stops_answering_for_a_while(
    server: Sshd, host: RemoteTmux, mirror: RemoteMirror, screens: Screens
) -> None:
    # sshd and its connections frozen (a dead network, a laptop asleep): nothing is closed, so
    # only the master's keepalive (1 s x 2 here) tells; thawed, the mirror comes back by itself.
    pane = host.new_agent("a", A)
    mirror.start()
    _connected(mirror)
    assert mirror.refresh_panes() is not None
    mirror.focus(record(A))
    server.freeze()
    try:
        wait_for(lambda: "disconnected" in screens.states, timeout=15, what="the drop reported")
    finally:
        server.thaw()
    wait_for(lambda: mirror.client.connected.is_set(), timeout=20, what="a reconnect")
    host.type(pane, "echo THAWED-$((3*3))")
    screens.wait(A, "THAWED-9")
