"""``agentmux host add|ls|rm|check``: the real CLI, a real sshd, a second user as the remote.

``host check`` answers one line each for the connection, agentmux, tmux and git, with versions
checked against the programs run directly as the remote user (``runuser``, no ssh); every
problem is one sentence and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from agentmux import __version__
from agentmux.core.host.ssh.command import control_dir
from tests.conftest import CliResult, run_cli
from tests.core.host.ssh.conftest import link_into
from tests.core.host.ssh.sshd import REMOTE_USER, Sshd


def host(tmp_path: Path, *args: str) -> CliResult:
    """``agentmux host ARGS`` outside any repository (hosts need none)."""
    return run_cli(tmp_path, "host", *args)


def as_remote_user(*argv: str) -> str:
    """What ``argv`` prints run directly as the second user: an independent look."""
    return subprocess.run(
        ["runuser", "-u", REMOTE_USER, "--", *argv], capture_output=True, text=True, check=True
    ).stdout.strip()


def add(tmp_path: Path, server: Sshd, name: str, target: str, *extra: str) -> None:
    done = host(tmp_path, "add", name, target, "--ssh-command", server.ssh_command, *extra)
    assert done.code == 0, done.err


def test_add_ls_rm(tmp_path: Path) -> None:
    assert host(tmp_path, "ls").out.strip() == (
        "no hosts yet: add one with `agentmux host add NAME TARGET`"
    )
    done = host(tmp_path, "add", "build1", "me@build1", "--ssh-command", "ssh -F /x y")
    assert done.code == 0, done.err
    assert done.out.startswith("added host build1 (me@build1) to ")
    assert "check it with `agentmux host check build1`" in done.out
    assert (
        host(tmp_path, "add", "gpu", "gpu.lan", "--agentmux", "/opt/a", "--path", "/srv").code == 0
    )
    rows = json.loads(host(tmp_path, "ls", "--json").out)
    assert rows == [
        {
            "name": "build1",
            "target": "me@build1",
            "agentmux": "agentmux",
            "ssh_command": "ssh -F /x y",
            "path": None,
        },
        {
            "name": "gpu",
            "target": "gpu.lan",
            "agentmux": "/opt/a",
            "ssh_command": None,
            "path": "/srv",
        },
    ]
    table = host(tmp_path, "ls").out.splitlines()
    assert table[0].split() == ["NAME", "TARGET", "AGENTMUX", "SSH", "COMMAND", "PATH"]
    assert table[1].split() == ["build1", "me@build1", "agentmux", "ssh", "-F", "/x", "y", "-"]
    assert table[2].split() == ["gpu", "gpu.lan", "/opt/a", "ssh", "/srv"]
    done = host(tmp_path, "rm", "build1")
    assert (done.code, done.out.strip()) == (0, "removed host build1 (me@build1)")
    assert [r["name"] for r in json.loads(host(tmp_path, "ls", "--json").out)] == ["gpu"]


NOT_ALLOWED = "is not allowed: use letters, digits, '-' and '_', starting with a letter or digit."
NO_NOPE = "agentmux: there is no host named 'nope': add it with `agentmux host add nope TARGET`."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "a b", "x"), f"agentmux: host name 'a b' {NOT_ALLOWED}"),
        (
            ("add", "local", "x"),
            "agentmux: host name 'local' is taken: it names this machine; choose another name.",
        ),
        (
            ("add", "b1", "--", "-oProxyCommand=x"),
            "agentmux: TARGET: '-oProxyCommand=x' is not an ssh destination agentmux accepts: "
            "give [user@]host or an alias from your ssh config (letters, digits, '.', '-', '_', "
            "':' and '[]' only).",
        ),
        (
            ("add", "b1", "x", "--ssh-command", "ssh 'a"),
            'agentmux: --ssh-command: "ssh \'a" cannot be split into words: No closing quotation.',
        ),
        (("rm", "nope"), NO_NOPE),
        (("check", "nope"), NO_NOPE),
        (("check", "bad/name"), f"agentmux: host name 'bad/name' {NOT_ALLOWED}"),
    ],
)
def test_bad_input_is_one_sentence(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = host(tmp_path, *args)
    assert (done.code, done.err.strip()) == (1, message)


def test_add_twice(tmp_path: Path) -> None:
    assert host(tmp_path, "add", "b1", "x").code == 0
    done = host(tmp_path, "add", "b1", "y")
    assert (done.code, done.err.strip()) == (
        1,
        "agentmux: there is already a host named 'b1' (x); remove it first with "
        "`agentmux host rm b1`.",
    )


def test_host_without_an_action(tmp_path: Path) -> None:
    done = host(tmp_path)
    assert done.code == 2
    assert "the following arguments are required: ACTION" in done.err


@pytest.mark.slow
def test_check_a_host_with_agentmux(tmp_path: Path, server: Sshd, remote_agentmux: Path) -> None:
    add(tmp_path, server, "build1", "amx-sshd", "--agentmux", str(remote_agentmux))
    before = server.logins()
    done = host(tmp_path, "check", "build1")
    assert done.code == 0, done.err
    assert done.err == ""
    lines = done.out.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("build1: reachable as amx-sshd (ssh master pid ")
    remote_version = as_remote_user(str(remote_agentmux), "--version")
    assert remote_version == f"agentmux {__version__}"
    assert lines[1] == f"{remote_version} (here {__version__}: compatible)"
    assert lines[2] == as_remote_user("tmux", "-V")
    assert lines[3] == as_remote_user("git", "--version").replace("git version", "git")
    # The master outlives the command: a second check logs in no more.
    again = host(tmp_path, "check", "build1")
    assert again.code == 0 and again.out.splitlines()[0] == lines[0]
    assert server.logins() - before == 1
    # `host rm` stops it.
    sockets = [p for p in control_dir().iterdir() if p.is_socket()]
    assert len(sockets) == 1
    assert host(tmp_path, "rm", "build1").code == 0
    assert not sockets[0].exists()


@pytest.mark.slow
def test_check_a_host_without_agentmux(tmp_path: Path, server: Sshd) -> None:
    link_into(server.bare_bin, "tmux", "git")
    add(tmp_path, server, "bare", "amx-sshd-bare")
    done = host(tmp_path, "check", "bare")
    assert done.code == 1
    assert done.out.splitlines()[1:] == [
        "agentmux: missing or unusable",
        as_remote_user("tmux", "-V"),
        as_remote_user("git", "--version").replace("git version", "git"),
    ]
    major_minor = ".".join(__version__.split(".")[:2])
    assert done.err.strip() == (
        "agentmux: host bare has no agentmux (`agentmux` is not found there): install agentmux "
        f"{major_minor} there (`pip install .` in a checkout of agentmux, Python 3.11 or later), "
        "or, if it is installed elsewhere, add the host again with `agentmux host rm bare` and "
        "`agentmux host add bare amx-sshd-bare --agentmux PATH --ssh-command "
        f"'ssh -F {server.client_config}'`."
    )


@pytest.mark.slow
@pytest.mark.parametrize(("present", "missing"), [("git", "tmux"), ("tmux", "git")])
def test_check_a_host_without_tmux_or_git(
    tmp_path: Path, server: Sshd, remote_agentmux: Path, present: str, missing: str
) -> None:
    link_into(server.bare_bin, present)
    add(tmp_path, server, "bare", "amx-sshd-bare", "--agentmux", str(remote_agentmux))
    done = host(tmp_path, "check", "bare")
    assert done.code == 1
    assert f"{missing}: missing or unusable" in done.out.splitlines()
    need = {"tmux": "3.2", "git": "2.38"}[missing]
    assert done.err.strip() == (
        f"agentmux: host bare has no {missing} (`{missing}` is not found there): install "
        f"{missing} {need} or later."
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prints", "message"),
    [
        (
            "agentmux 99.1.0",
            "host bare runs agentmux 99.1.0, which does not work with agentmux {here} here (the "
            "first two numbers must match): install agentmux {mm} there.",
        ),
        (
            "hello",
            "`{program} --version` on host bare printed 'hello', not an agentmux version: "
            "install agentmux {mm} there",
        ),
    ],
)
def test_check_an_incompatible_agentmux(
    tmp_path: Path, server: Sshd, prints: str, message: str
) -> None:
    link_into(server.bare_bin, "tmux", "git")
    program = server.bare_bin / "agentmux"
    program.write_text(f"#!/bin/sh\necho '{prints}'\n")
    program.chmod(0o755)
    add(tmp_path, server, "bare", "amx-sshd-bare", "--agentmux", str(program))
    done = host(tmp_path, "check", "bare")
    assert done.code == 1
    mm = ".".join(__version__.split(".")[:2])
    expected = "agentmux: " + message.format(here=__version__, mm=mm, program=program)
    assert done.err.strip().startswith(expected)


@pytest.mark.slow
def test_check_an_unreachable_host(tmp_path: Path, server: Sshd) -> None:
    add(tmp_path, server, "build1", "amx-sshd")
    server.stop()
    started = time.monotonic()
    done = host(tmp_path, "check", "build1")
    assert time.monotonic() - started < 10
    assert (done.code, done.out) == (1, "")
    assert done.err.strip() == (
        "agentmux: host build1 (amx-sshd) is unreachable: connect to host 127.0.0.1 port "
        f"{server.port}: Connection refused."
    )


@pytest.mark.slow
def test_check_a_login_that_needs_a_person(tmp_path: Path, server: Sshd) -> None:
    add(tmp_path, server, "locked", "amx-sshd-locked")
    done = host(tmp_path, "check", "locked")
    assert done.code == 1
    assert done.err.strip().startswith(
        "agentmux: logging in to host locked (amx-sshd-locked) needs a person:"
    )
    assert f"`ssh -F {server.client_config} amx-sshd-locked true`" in done.err


@pytest.mark.slow
def test_user_at_host_targets_and_ssh_options(tmp_path: Path, server: Sshd) -> None:
    """A ``user@host`` target with the port in ``--ssh-command``, as one would write them."""
    command = f"ssh -F {server.client_config} -p {server.bare_port}"
    link_into(server.bare_bin, "tmux", "git")
    done = host(tmp_path, "add", "b2", f"{REMOTE_USER}@127.0.0.1", "--ssh-command", command)
    assert done.code == 0, done.err
    done = host(tmp_path, "check", "b2")
    assert done.out.startswith(f"b2: reachable as {REMOTE_USER}@127.0.0.1")
    assert "host b2 has no agentmux" in done.err  # the bare port's PATH: it went where asked


@pytest.mark.slow
def test_the_ssh_command_never_goes_through_a_shell(tmp_path: Path, server: Sshd) -> None:
    marker = tmp_path / "touched"
    command = f"{server.ssh_command} -oSendEnv=$(touch${{IFS}}{marker}) -oSendEnv=`id>{marker}`"
    done = host(tmp_path, "add", "b1", "amx-sshd", "--ssh-command", command)
    assert done.code == 0, done.err
    done = host(tmp_path, "check", "b1")
    assert done.out.startswith("b1: reachable as amx-sshd")
    assert not marker.exists()
