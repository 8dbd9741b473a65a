"""The ssh command lines agentmux runs: the master, a command over it, and its control requests.

Every line is an argument list: the host's ssh command (the user's words, split once with
:func:`shlex.split`, never through a shell), agentmux's options right after the program (ssh takes
the first value it reads for an option, so these win over the user's ``-o`` and config files),
``--``, the destination, and for a remote command one string quoted with :func:`shlex.join` for
the remote login shell.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agentmux.core.errors import AgentmuxError
from agentmux.core.paths import ensure_private_dir, socket_dir

#: ssh binds a master's socket as ``<ControlPath>.<16 hex digits>`` first, then renames it.
_BIND_SUFFIX = 17
#: The smallest ``sun_path`` of the systems agentmux runs on (macOS: 104 bytes with the NUL).
_SUN_PATH = 104
#: The longest ControlPath that still binds everywhere.
MAX_CONTROL_PATH = _SUN_PATH - 1 - _BIND_SUFFIX


@dataclass(frozen=True)
class SshSettings:
    """How long agentmux waits for a host, and how it keeps a connection alive.

    ``alive_interval`` and ``alive_count`` are ssh's ``ServerAliveInterval``/``CountMax``: a
    connection that stops answering (a laptop that slept, a dropped network) is declared dead
    after about ``alive_interval * alive_count`` seconds and made again on the next use.
    """

    connect_timeout: int = 10
    alive_interval: int = 15
    alive_count: int = 3
    persist_seconds: int = 600
    run_timeout: float = 60.0

    @property
    def open_timeout(self) -> float:
        """How long opening a master may take in all: connect, key exchange, authentication."""
        return float(self.connect_timeout * 2 + 10)


def control_dir() -> Path:
    """agentmux's private directory of ssh control sockets (``<socket dir>/ssh``, 0700)."""
    return ensure_private_dir(ensure_private_dir(socket_dir()) / "ssh")


def control_path(name: str, target: str, ssh_argv: Sequence[str]) -> Path:
    """The control socket of host ``name``: one per name, destination and ssh command, so a host
    added again differently never reuses a master made for the old entry."""
    key = "\0".join((name, target, *ssh_argv)).encode()
    path = control_dir() / hashlib.sha256(key).hexdigest()[:16]
    size = len(os.fsencode(str(path)))
    if size > MAX_CONTROL_PATH:
        raise AgentmuxError(
            f"the ssh control socket path {path} is {size} bytes, longer than the "
            f"{MAX_CONTROL_PATH} ssh can bind; set AGENTMUX_SOCKET_DIR to a short directory "
            "(e.g. /tmp/amx)."
        )
    return path


@dataclass(frozen=True)
class SshCommand:
    """The ssh command lines for one host: ``ssh_argv`` (the program and the user's options),
    ``target`` (the destination), its control socket and the settings."""

    ssh_argv: tuple[str, ...]
    target: str
    control: Path
    settings: SshSettings

    def _options(self, master: str) -> list[str]:
        # ssh expands %-tokens in ControlPath: a literal '%' is written '%%'.
        options = {
            "ControlPath": str(self.control).replace("%", "%%"),
            "ControlMaster": master,
            "BatchMode": "yes",
            "ConnectTimeout": str(self.settings.connect_timeout),
            "ServerAliveInterval": str(self.settings.alive_interval),
            "ServerAliveCountMax": str(self.settings.alive_count),
        }
        if master == "yes":
            options["ControlPersist"] = str(self.settings.persist_seconds)
        else:
            # A client whose master is gone would log in by itself (ssh falls back to a direct
            # connection); this makes that login fail at once instead, so a command is only
            # ever a channel on the master. A master is never reached through it.
            options["ProxyCommand"] = "false"
        argv: list[str] = []
        for key, value in options.items():
            argv += ["-o", f"{key}={value}"]
        return argv

    def master(self) -> list[str]:
        """Open the master connection: it authenticates, then waits in the background for
        commands (``ControlPersist``) until ``persist_seconds`` after its last one."""
        return [
            self.ssh_argv[0],
            *self._options("yes"),
            *self.ssh_argv[1:],
            "-N",
            "--",
            self.target,
        ]

    def remote(self, argv: Sequence[str]) -> list[str]:
        """Run ``argv`` on the host through the master, without a terminal: never a master of
        its own (``ControlMaster=no``), never a login of its own (``ProxyCommand=false``)."""
        if not argv:
            raise ValueError("a remote command needs at least a program")
        return [
            self.ssh_argv[0],
            *self._options("no"),
            *self.ssh_argv[1:],
            "-T",
            "--",
            self.target,
            shlex.join(argv),
        ]

    def interactive(self, argv: Sequence[str]) -> list[str]:
        """Run ``argv`` on the host through the master with a terminal (``-t``): a full-screen
        attach the user types into."""
        if not argv:
            raise ValueError("a remote command needs at least a program")
        return [
            self.ssh_argv[0],
            *self._options("no"),
            *self.ssh_argv[1:],
            "-t",
            "--",
            self.target,
            shlex.join(argv),
        ]

    def for_git(self) -> str:
        """``GIT_SSH_COMMAND`` for git to reach the host through the master: the ssh program,
        the channel options and the user's options, each quoted (git runs it with a shell; git
        itself appends the target and its ``git-upload-pack``/``git-receive-pack`` command)."""
        return shlex.join([self.ssh_argv[0], *self._options("no"), *self.ssh_argv[1:]])

    def control_request(self, request: str) -> list[str]:
        """Ask the master something (``check``, ``exit``): ssh's ``-O``."""
        return [
            self.ssh_argv[0],
            *self._options("no"),
            *self.ssh_argv[1:],
            "-O",
            request,
            "--",
            self.target,
        ]

    def by_hand(self) -> str:
        """What a person runs to log in once (to type a passphrase, accept a host key)."""
        return shlex.join([*self.ssh_argv, self.target, "true"])
