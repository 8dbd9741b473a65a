"""Fixtures of the ssh tests: a real sshd per test process, agentmux installed for its user.

See :mod:`tests.core.host.ssh.sshd` (the server and the second user) and
:mod:`tests.core.host.ssh.remote_install` (agentmux for that user).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from agentmux.core.host.ssh import SshConnection, SshPool, SshSettings
from agentmux.core.sessions.manager import SessionManager
from tests.conftest import run_cli
from tests.core.host.ssh.remote_install import install_agentmux
from tests.core.host.ssh.sshd import REMOTE_USER, Sshd, chown_tree, running_sshd


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """This test process's sshd (one per xdist worker), up at the start of every test."""
    with running_sshd(tmp_path_factory.mktemp(f"amx-sshd-{os.getpid()}-")) as server:
        yield server


@pytest.fixture
def server(sshd: Sshd) -> Iterator[Sshd]:
    """The sshd, running (a test that stopped or froze it gets it back afterwards), with an
    empty :attr:`Sshd.bare_bin`."""
    for entry in sshd.bare_bin.iterdir():
        entry.unlink()
    yield sshd
    if not sshd.running():
        sshd.start()
    sshd.thaw()


@pytest.fixture(scope="session")
def remote_agentmux(sshd: Sshd) -> Path:
    """``agentmux`` installed for the second user (a venv in its home): the program's path."""
    program = install_agentmux(sshd.remote_dir / "venv", sshd.user)
    chown_tree(sshd.remote_dir / "venv", sshd.user)
    return program


def link_into(directory: Path, *programs: str) -> None:
    """Put ``programs`` (found on this PATH) into ``directory``, a bare host's PATH."""
    for program in programs:
        found = shutil.which(program)
        assert found, f"{program} is not installed here"
        os.symlink(found, directory / program)


FAST = SshSettings(connect_timeout=3, alive_interval=1, alive_count=2, run_timeout=20)


@pytest.fixture
def pool() -> Iterator[SshPool]:
    """A pool with short timeouts; its masters stopped after the test."""
    with SshPool(FAST) as made:
        yield made


class Connect(Protocol):
    """Makes a connection through the test sshd's client config."""

    def __call__(
        self, name: str = "build1", target: str = "amx-sshd", settings: SshSettings = ...
    ) -> SshConnection: ...


@pytest.fixture
def connect(server: Sshd) -> Iterator[Connect]:
    """``connect(name, target)``: a connection through the test sshd's client config (short
    timeouts); every one made is closed after the test."""
    made: list[SshConnection] = []

    def make(
        name: str = "build1", target: str = "amx-sshd", settings: SshSettings = FAST
    ) -> SshConnection:
        connection = SshConnection(name, target, server.ssh_argv(), settings=settings)
        made.append(connection)
        return connection

    yield make
    for connection in made:
        connection.close()


def as_remote_user(*argv: str) -> str:
    """What ``argv`` prints run directly as the second user: an independent look."""
    return subprocess.run(
        ["runuser", "-u", REMOTE_USER, "--", *argv], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def build1(repo: Path, server: Sshd, remote_agentmux: Path) -> Iterator[str]:
    """Host ``build1``: the test sshd, its agentmux running demo agents at full speed. Every
    session made on it is removed afterwards, and its clone deleted."""
    fast = remote_agentmux.with_name("agentmux-fast")
    if not fast.exists():
        fast.write_text(
            f'#!/bin/sh\nAGENTMUX_DEMO_FAST=1 exec {shlex.quote(str(remote_agentmux))} "$@"\n'
        )
        fast.chmod(0o755)
    added = run_cli(
        repo,
        "host",
        "add",
        "build1",
        "amx-sshd",
        "--ssh-command",
        server.ssh_command,
        "--agentmux",
        str(fast),
    )
    assert added.code == 0, added.err
    yield "build1"
    manager = SessionManager.open(repo)
    rows = manager.store.remote_sessions(include_removed=True)
    manager.close()
    # As the user logs in: none of this process's XDG dirs or socket dir.
    as_user = [
        "runuser",
        "-u",
        REMOTE_USER,
        "--",
        "env",
        "-i",
        f"HOME={server.user.pw_dir}",
        "PATH=/usr/local/bin:/usr/bin:/bin",
    ]
    for clone in {row.clone for row in rows}:
        found = subprocess.run(
            [*as_user, str(fast), "-C", clone, "_socket"],
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode == 0:  # its tmux server, and every agent on it, end
            socket = json.loads(found.stdout)["socket"]
            subprocess.run(
                [*as_user, "tmux", "-S", socket, "kill-server"], check=False, capture_output=True
            )
        shutil.rmtree(clone, ignore_errors=True)
    home = Path(server.user.pw_dir)
    for row in rows:
        # The host's worktree root for this repository: only ever one inside the user's home.
        root = Path(str(row.row.get("worktree", ""))).parent
        if root.is_absolute() and root.is_relative_to(home / ".local" / "share" / "agentmux"):
            shutil.rmtree(root, ignore_errors=True)
