"""The ssh command lines (argument lists, agentmux's options first) and SshPool (one connection
per host, made again when the host's entry changes, masters stopped by close)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from agentmux.core.config.hosts import add_host, make_entry
from agentmux.core.errors import AgentmuxError
from agentmux.core.host.ssh import SshPool, SshSettings
from agentmux.core.host.ssh.command import MAX_CONTROL_PATH, SshCommand, control_path
from tests.conftest import Home
from tests.core.host.ssh.sshd import Sshd


def test_command_lines() -> None:
    command = SshCommand(
        ("my-ssh", "-F", "/c f"), "me@b1", Path("/run/a%b/ssh/0123"), SshSettings()
    )
    ours = [
        "-o", "ControlPath=/run/a%%b/ssh/0123",
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=10",
        "-o", "ServerAliveInterval=15",
        "-o", "ServerAliveCountMax=3",
    ]  # fmt: skip
    master = command.master()
    assert master[0] == "my-ssh"
    assert master[1:3] == ["-o", "ControlPath=/run/a%%b/ssh/0123"]
    assert "ControlMaster=yes" in master and "ControlPersist=600" in master
    assert master[-5:] == ["-F", "/c f", "-N", "--", "me@b1"]
    remote = command.remote(["printf", "%s", "a b", "$HOME"])
    assert remote[-6:] == ["-F", "/c f", "-T", "--", "me@b1", "printf %s 'a b' '$HOME'"]
    assert shlex.split(remote[-1]) == ["printf", "%s", "a b", "$HOME"]
    assert "ControlMaster=no" in remote
    assert all(option in remote[: remote.index("-F")] for option in ours)
    assert command.control_request("exit")[-5:] == ["/c f", "-O", "exit", "--", "me@b1"]
    assert command.by_hand() == "my-ssh -F '/c f' me@b1 true"
    with pytest.raises(ValueError):
        command.remote([])


def test_control_path_is_private_short_and_per_entry(home: Home) -> None:
    first = control_path("b1", "me@b1", ["ssh"])
    assert first.parent == home.sockets / "ssh"
    assert first == control_path("b1", "me@b1", ["ssh"])
    assert first != control_path("b1", "me@b2", ["ssh"])
    assert first != control_path("b1", "me@b1", ["ssh", "-F", "x"])
    assert first != control_path("b2", "me@b1", ["ssh"])


def test_control_path_too_long(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60)
    monkeypatch.setenv("AGENTMUX_SOCKET_DIR", str(deep))
    with pytest.raises(AgentmuxError) as caught:
        control_path("b1", "b1", ["ssh"])
    assert caught.value.message.endswith(
        f"longer than the {MAX_CONTROL_PATH} ssh can bind; set AGENTMUX_SOCKET_DIR to a short "
        "directory (e.g. /tmp/amx)."
    )


def test_pool_one_connection_per_host(home: Home) -> None:
    pool = SshPool()
    add_host("b1", make_entry("me@b1"))
    first = pool.connection("b1")
    assert pool.connection("b1") is first
    assert pool.connection("b1", make_entry("me@b1")) is first
    changed = pool.connection("b1", make_entry("me@b1", ssh_command="ssh -F /x"))
    assert changed is not first and changed.control != first.control
    with pytest.raises(AgentmuxError, match="there is no host named 'b2'"):
        pool.connection("b2")
    assert pool.close() == []  # nothing was opened


def test_pool_close_stops_its_masters(server: Sshd) -> None:
    pool = SshPool(SshSettings(connect_timeout=3))
    entry = make_entry("amx-sshd", ssh_command=server.ssh_command)
    connection = pool.connection("b1", entry)
    assert connection.run(["true"]).ok and connection.check()
    assert pool.close() == ["b1"]
    assert not connection.check()
