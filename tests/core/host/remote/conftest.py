"""Fixtures of the remote-host tests: the ssh tests' real sshd (logging in as a second local
user), and a real tmux server started as that user over the ssh connection."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentmux.core.host.ssh import SshConnection
from agentmux.core.records import SessionRecord, Status
from agentmux.core.tmux.control import Screen
from tests.core.host.ssh.conftest import Connect, connect, server, sshd
from tests.core.host.ssh.sshd import Sshd

__all__ = ["connect", "server", "sshd"]


class RemoteTmux:
    """A tmux server of the second user, driven over ssh (by pane id: this is the test's own
    hand on the host, not agentmux's)."""

    def __init__(self, connection: SshConnection, socket: str) -> None:
        self.connection = connection
        self.socket = socket

    def tmux(self, *args: str) -> str:
        """Run tmux on the host's server; its output (the test fails if tmux does)."""
        result = self.connection.run(["tmux", "-S", self.socket, *args])
        assert result.ok, result
        return result.text

    def new_agent(self, name: str, tag: str, command: str = "sh") -> str:
        """A session ``name`` whose pane runs ``command`` (a shell line), tagged ``tag`` by the
        command that makes it, as agentmux does; its pane id."""
        return self.tmux(
            "-f", "/dev/null",
            "new-session", "-d", "-P", "-F", "#{pane_id}", "-s", name, "-x", "80", "-y", "20",
            command,
            ";", "set-option", "-p", "-t", f"={name}:", "@agentmux_id", tag,
        )  # fmt: skip

    def type(self, pane_id: str, line: str) -> None:
        """Type ``line`` and Enter into a pane."""
        self.tmux("send-keys", "-t", pane_id, "-l", line)
        self.tmux("send-keys", "-t", pane_id, "Enter")

    def screen(self, pane_id: str) -> str:
        """The pane's visible text."""
        return self.tmux("capture-pane", "-p", "-t", pane_id)

    def kill_server(self) -> None:
        """End the server (a reboot of the host's tmux)."""
        self.connection.run(["tmux", "-S", self.socket, "kill-server"])


@pytest.fixture
def host(server: Sshd, connect: Connect) -> Iterator[RemoteTmux]:
    """A connection to the test sshd and a tmux socket in a directory of the second user's;
    its server killed afterwards."""
    connection = connect()
    socket = str(server.remote_dir / f"t-{uuid.uuid4().hex[:8]}.sock")
    remote = RemoteTmux(connection, socket)
    yield remote
    remote.connection.reset()
    remote.kill_server()


class Screens:
    """What a mirror delivered: every screen, and every state, in order."""

    def __init__(self) -> None:
        self.screens: list[Screen] = []
        self.states: list[str] = []
        self._lock = threading.Lock()

    def on_screen(self, screen: Screen) -> None:
        with self._lock:
            self.screens.append(screen)

    def on_state(self, state: str) -> None:
        with self._lock:
            self.states.append(state)

    def texts(self, session_id: str) -> list[str]:
        """The text of each screen delivered as that session's."""
        with self._lock:
            return ["\n".join(s.rows) for s in self.screens if s.agentmux_id == session_id]

    def shows(self, session_id: str, text: str) -> bool:
        """Whether a screen delivered as that session's holds ``text``."""
        return any(text in each for each in self.texts(session_id))

    def wait(self, session_id: str, text: str, timeout: float = 5.0) -> float:
        """Seconds until a screen of that session holds ``text``; fails after ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.shows(session_id, text):
                return time.monotonic() - started
            time.sleep(0.02)
        pytest.fail(f"{text!r} never reached the mirror as {session_id}'s screen")


def record(session_id: str, name: str = "agent") -> SessionRecord:
    """A session record with this id (all the mirror reads of it)."""
    return SessionRecord(
        id=session_id,
        name=name,
        agent="demo",
        agent_kind="demo",
        agent_session_id="",
        branch=f"agentmux/{name}",
        worktree=str(Path("/nowhere") / name),
        base_ref="main",
        base_commit="0" * 40,
        status=Status.RUNNING,
        created_at=time.time(),
        host="build1",
    )
