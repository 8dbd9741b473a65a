"""SshConnection against a real sshd: one login for many commands, argv passed exactly, the
master's life (check, close, made again), and every fault in one sentence, quickly."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from agentmux.core.host.ssh import SshError, SshFault, SshSettings
from agentmux.core.host.ssh.command import MAX_CONTROL_PATH
from tests.conftest import wait_for
from tests.core.host.ssh.conftest import Connect
from tests.core.host.ssh.sshd import REMOTE_USER, Sshd

AWKWARD = [
    "two words",
    "it's",
    '"double"',
    "$HOME",
    "`id`",
    "a;b && c | d",
    "*",
    "back\\slash",
    "new\nline",
    "",
    "-n",
    "ünïcødé",
]


def test_runs_as_the_second_user_in_its_home(server: Sshd, connect: Connect) -> None:
    result = connect().run(["sh", "-c", 'id -un; echo "$HOME"; pwd'])
    assert result.ok, result
    assert result.text.splitlines() == [REMOTE_USER, server.user.pw_dir, server.user.pw_dir]


def test_many_commands_one_login(server: Sshd, connect: Connect) -> None:
    before = server.logins()
    connection = connect()
    for n in range(12):
        assert connection.run(["echo", str(n)]).text == str(n)
    assert server.logins() - before == 1
    # A second connection object for the same host (another agentmux process, say) finds the
    # master by its socket and logs in no more either.
    again = connect()
    assert again.control == connection.control
    assert again.run(["true"]).ok
    assert server.logins() - before == 1


def test_concurrent_first_use_makes_one_master(server: Sshd, connect: Connect) -> None:
    before = server.logins()
    results: list[str] = []

    def work(n: int) -> None:
        results.append(connect().run(["echo", str(n)]).text)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [str(n) for n in range(6)]
    assert server.logins() - before == 1


def test_argv_reaches_the_remote_program_exactly(connect: Connect) -> None:
    result = connect().run(["printf", "%s\\0", *AWKWARD])
    assert result.ok, result
    assert result.stdout.decode().split("\0")[:-1] == AWKWARD


def test_input_output_and_status_pass_through(connect: Connect) -> None:
    connection = connect()
    data = bytes(range(256)) * 64
    echoed = connection.run(["cat"], input=data)
    assert echoed.ok and echoed.stdout == data
    failed = connection.run(["sh", "-c", "echo out; echo err >&2; exit 7"])
    assert (failed.returncode, failed.stdout, failed.stderr) == (7, b"out\n", b"err\n")
    # 255 from the command itself is not mistaken for ssh failing: the master is still up.
    assert connection.run(["sh", "-c", "exit 255"]).returncode == 255
    assert connection.run(["no-such-program-here"]).returncode == 127


def test_check_close_and_master_pid(server: Sshd, connect: Connect) -> None:
    connection = connect()
    assert not connection.check() and not connection.is_up()
    assert connection.master_pid() is None
    connection.open()
    pid = connection.master_pid()
    assert pid is not None and connection.check()
    assert "ssh" in Path(f"/proc/{pid}/comm").read_text()
    assert connection.close() is True
    assert not connection.check() and not connection.control.exists()
    assert connection.close() is False  # nothing to stop: still fine


def test_control_socket_is_private_and_short(connect: Connect) -> None:
    connection = connect()
    connection.open()
    directory = connection.control.parent
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(connection.control.stat().st_mode)
    assert len(os.fsencode(str(connection.control))) <= MAX_CONTROL_PATH


def test_a_master_that_died_is_made_again(server: Sshd, connect: Connect) -> None:
    before = server.logins()
    connection = connect()
    assert connection.run(["true"]).ok
    pid = connection.master_pid()
    assert pid is not None
    os.kill(pid, 9)  # killed hard: its socket is left behind, nobody answers on it
    deadline = time.monotonic() + 5
    while connection.is_up() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert connection.control.exists()
    assert connection.run(["echo", "back"]).text == "back"
    assert connection.master_pid() not in (None, pid)
    assert server.logins() - before == 2


def test_host_down_is_one_sentence_quickly(server: Sshd, connect: Connect) -> None:
    server.stop()
    connection = connect()
    started = time.monotonic()
    with pytest.raises(SshError) as caught:
        connection.run(["true"])
    assert time.monotonic() - started < 3
    assert caught.value.fault is SshFault.UNREACHABLE
    assert caught.value.message == (
        "host build1 (amx-sshd) is unreachable: connect to host 127.0.0.1 port "
        f"{server.port}: Connection refused."
    )


def test_host_going_away_under_a_master(server: Sshd, connect: Connect) -> None:
    connection = connect()
    assert connection.run(["true"]).ok
    server.stop()  # sshd and the connection it served end: the master sees EOF and exits
    with pytest.raises(SshError) as caught:
        connection.run(["true"])
    assert caught.value.fault is SshFault.UNREACHABLE
    assert "host build1 (amx-sshd)" in caught.value.message
    server.start()
    assert connection.run(["echo", "again"]).text == "again"


@pytest.mark.slow
def test_frozen_host_is_detected_by_keepalive_and_timeout(server: Sshd, connect: Connect) -> None:
    settings = SshSettings(connect_timeout=2, alive_interval=1, alive_count=2, run_timeout=20)
    connection = connect(settings=settings)
    assert connection.run(["true"]).ok
    server.freeze()  # nothing closes; nothing answers (a dead network, a laptop asleep)
    started = time.monotonic()
    with pytest.raises(SshError) as caught:
        connection.run(["true"])
    # The keepalive gives up after about interval * count seconds, not run_timeout.
    assert time.monotonic() - started < 8
    assert caught.value.fault is SshFault.UNREACHABLE
    # A new login waits no longer than ConnectTimeout for the banner.
    started = time.monotonic()
    with pytest.raises(SshError) as caught:
        connection.run(["true"])
    assert time.monotonic() - started < 6
    assert caught.value.fault in (SshFault.TIMEOUT, SshFault.UNREACHABLE)
    server.thaw()
    assert connection.run(["echo", "awake"]).text == "awake"


def test_login_that_needs_a_person_is_tried_once(server: Sshd, connect: Connect) -> None:
    connection = connect("locked", "amx-sshd-locked")
    logins = server.logins()
    marks = server.log_text().count("Connection closed by authenticating user")
    started = time.monotonic()
    with pytest.raises(SshError) as caught:
        connection.run(["true"])
    assert time.monotonic() - started < 5  # BatchMode: no prompt to hang on
    assert caught.value.fault is SshFault.NEEDS_PERSON
    expected_cmd = f"ssh -F {server.client_config} amx-sshd-locked true"
    assert caught.value.message == (
        "logging in to host locked (amx-sshd-locked) needs a person: a passphrase, a password "
        "or a key your ssh agent does not hold (amx-remote@127.0.0.1: Permission denied "
        f"(publickey)); agentmux never asks, so log in once with `{expected_cmd}` or add the "
        "key with `ssh-add`, then try again."
    )

    def refusals() -> int:
        return server.log_text().count("Connection closed by authenticating user") - marks

    wait_for(lambda: refusals() == 1, what="sshd to log the refused login")
    # Asked again, it does not try again (no loop of failed logins), until reset.
    for _ in range(3):
        with pytest.raises(SshError):
            connection.run(["true"])
    time.sleep(0.5)
    assert refusals() == 1
    connection.reset()
    with pytest.raises(SshError):
        connection.open()
    wait_for(lambda: refusals() == 2, what="sshd to log the second refused login")
    assert server.logins() == logins  # never logged in


def test_unknown_host_key_says_how_to_accept_it(connect: Connect, server: Sshd) -> None:
    with pytest.raises(SshError) as caught:
        connect("stranger", "amx-sshd-stranger").open()
    assert caught.value.fault is SshFault.HOST_KEY
    assert caught.value.message.startswith(
        "ssh does not trust the host key of stranger (amx-sshd-stranger): it is unknown or "
        "changed ("
    )
    assert caught.value.message.endswith(
        f"check it and accept it by logging in once with "
        f"`ssh -F {server.client_config} amx-sshd-stranger true`."
    )


def test_missing_ssh_program(connect: Connect, tmp_path: Path) -> None:
    from agentmux.core.host.ssh import SshConnection

    connection = SshConnection("build1", "amx-sshd", [str(tmp_path / "no-ssh")])
    with pytest.raises(SshError) as caught:
        connection.run(["true"])
    assert caught.value.fault is SshFault.NO_SSH
    assert "was not found; install OpenSSH's client or fix the host's --ssh-command." in str(
        caught.value
    )
    (tmp_path / "no-ssh").write_text("not a program\n")  # there, but not executable
    with pytest.raises(SshError) as caught:
        connection.run(["true"])
    assert caught.value.fault is SshFault.NO_SSH
    assert "cannot run (Permission denied); fix the host's --ssh-command." in str(caught.value)


def test_user_ssh_options_cannot_take_the_control_socket(server: Sshd, connect: Connect) -> None:
    """agentmux's options come first: ssh keeps the first value, so a user's ControlPath or
    ControlMaster cannot make every command log in on its own."""
    from agentmux.core.host.ssh import SshConnection

    argv = [*server.ssh_argv(), "-o", "ControlMaster=no", "-o", "ControlPath=none"]
    connection = SshConnection("build1", "amx-sshd", argv)
    before = server.logins()
    try:
        for _ in range(3):
            assert connection.run(["true"]).ok
        assert server.logins() - before == 1
    finally:
        connection.close()


def test_a_command_never_logs_in_by_itself(server: Sshd, connect: Connect) -> None:
    """Were the master gone between the check and the command (a race), ssh would fall back to
    a login of its own; agentmux's command line makes that fail instead."""
    connection = connect()
    before = server.logins()
    proc = subprocess.run(
        connection.command.remote(["echo", "direct"]), capture_output=True, timeout=20, check=False
    )
    assert (proc.returncode, proc.stdout) == (255, b"")
    time.sleep(0.3)
    assert server.logins() == before
    assert connection.run(["echo", "channel"]).text == "channel"
    assert server.logins() - before == 1


def test_an_ssh_command_that_is_not_ssh(connect: Connect, tmp_path: Path) -> None:
    """A wrapper that drops agentmux's options logs in (here: does nothing) but makes no master:
    one sentence, not a hang."""
    from agentmux.core.host.ssh import SshConnection

    wrapper = tmp_path / "not-ssh"
    wrapper.write_text("#!/bin/sh\nexit 0\n")
    wrapper.chmod(0o755)
    connection = SshConnection("build1", "amx-sshd", [str(wrapper)])
    with pytest.raises(SshError) as caught:
        connection.run(["true"])
    assert caught.value.message == (
        "the ssh command of host build1 logged in but left no master connection at "
        f"{connection.control}: it must be OpenSSH's ssh, or pass its options on to it."
    )
