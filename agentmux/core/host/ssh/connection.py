"""One host's ssh connection: a long-lived multiplexed master, and commands run over it.

The master is made once (under a file lock, so two agentmux processes never race to make two),
authenticates once, and stays in the background for ``persist_seconds`` after its last command.
Every :meth:`SshConnection.run` is a channel on it: no new login, no new key exchange. A master
that died (the host went away, a keepalive failed) is made again on the next use; a login that
needs a person is tried once and then refused without trying again until :meth:`reset`.
"""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agentmux.core.host.ssh.command import SshCommand, SshSettings, control_path
from agentmux.core.host.ssh.faults import SshError, SshFault, explain, ssh_said
from agentmux.core.locking import repo_lock

_MASTER_PID = re.compile(rb"pid=(\d+)")


@dataclass(frozen=True)
class RunResult:
    """A command that ran on a host: its argv, exit status and output, as bytes."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        """Whether it exited 0."""
        return self.returncode == 0

    @property
    def text(self) -> str:
        """Its standard output as text, stripped."""
        return self.stdout.decode(errors="replace").strip()


def socket_answers(path: Path) -> bool:
    """Whether something accepts connections on the Unix socket ``path`` (no process started)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


class SshConnection:
    """The connection to one host, named ``name`` in the user's hosts, reached as ``target``
    with ``ssh_argv`` (the ssh program and the user's options)."""

    def __init__(
        self,
        name: str,
        target: str,
        ssh_argv: Sequence[str] = ("ssh",),
        *,
        settings: SshSettings | None = None,
        control: Path | None = None,
    ) -> None:
        if not ssh_argv:
            raise ValueError("an ssh command needs at least a program")
        self.name = name
        self.target = target
        self.settings = settings or SshSettings()
        path = control or control_path(name, target, ssh_argv)
        self.command = SshCommand(tuple(ssh_argv), target, path, self.settings)
        self._refused: SshError | None = None

    @property
    def control(self) -> Path:
        """The master's control socket."""
        return self.command.control

    def __repr__(self) -> str:
        return f"SshConnection({self.name!r}, {self.target!r})"

    # --- the master ------------------------------------------------------------------------

    def is_up(self) -> bool:
        """Whether a master answers on the control socket (checked without starting ssh)."""
        return socket_answers(self.control)

    def open(self) -> None:
        """Make sure the master is up: make it when it is not. One sentence (an
        :class:`SshError`) when the host cannot be reached or needs a person to log in."""
        if self._refused is not None:
            raise self._refused
        if self.is_up():
            return
        with repo_lock(self.control.with_name(f"{self.control.name}.lock")):
            if self.is_up():  # another process made it while this one waited
                return
            # A socket nobody answers on is left by a master that was killed: ssh would not
            # bind over it.
            self.control.unlink(missing_ok=True)
            self._start_master()

    def _start_master(self) -> None:
        argv = self.command.master()
        try:
            # The master goes to the background once logged in, its output on /dev/null: the
            # pipes close and run() returns.
            proc = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.settings.open_timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise SshError(
                f"the ssh program {argv[0]!r} of host {self.name} was not found; install "
                "OpenSSH's client or fix the host's --ssh-command.",
                SshFault.NO_SSH,
            ) from exc
        except OSError as exc:
            raise SshError(
                f"the ssh program {argv[0]!r} of host {self.name} cannot run ({exc.strerror}); "
                "fix the host's --ssh-command.",
                SshFault.NO_SSH,
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise SshError(
                f"host {self.name} ({self.target}) did not finish logging in within "
                f"{self.settings.open_timeout:g} s.",
                SshFault.TIMEOUT,
            ) from exc
        if proc.returncode == 0 and not self.is_up():
            raise SshError(
                f"the ssh command of host {self.name} logged in but left no master connection "
                f"at {self.control}: it must be OpenSSH's ssh, or pass its options on to it.",
                SshFault.OTHER,
            )
        if proc.returncode != 0:
            error = explain(self.name, self.target, self.command.by_hand(), proc.stderr)
            if error.fault in (SshFault.NEEDS_PERSON, SshFault.HOST_KEY):
                self._refused = error
            raise error

    def reset(self) -> None:
        """Forget a refused login, so that the next use tries again (after the user fixed it)."""
        self._refused = None

    def check(self) -> bool:
        """Whether the master is up, as ssh itself says (``ssh -O check``)."""
        return self._control_request("check").returncode == 0

    def master_pid(self) -> int | None:
        """The master's process id, or None when it is not up."""
        proc = self._control_request("check")
        found = _MASTER_PID.search(proc.stderr) if proc.returncode == 0 else None
        return int(found.group(1)) if found else None

    def close(self) -> bool:
        """Stop the master (``ssh -O exit``); True when one was running. The socket is gone
        afterwards either way."""
        stopped = self.is_up() and self._control_request("exit").returncode == 0
        self.control.unlink(missing_ok=True)
        return stopped

    def _control_request(self, request: str) -> subprocess.CompletedProcess[bytes]:
        argv = self.command.control_request(request)
        try:
            return subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False
            )
        except (FileNotFoundError, subprocess.TimeoutExpired):
            return subprocess.CompletedProcess(argv, 255, b"", b"")

    # --- commands --------------------------------------------------------------------------

    def run(
        self, argv: Sequence[str], *, input: bytes | None = None, timeout: float | None = None
    ) -> RunResult:
        """Run ``argv`` on the host over the master (made first if it is not up) and return how
        it ended. The remote command's own failures are in the result; a host that cannot be
        reached or that stops answering raises an :class:`SshError`."""
        self.open()
        wait = self.settings.run_timeout if timeout is None else timeout
        try:
            proc = subprocess.run(
                self.command.remote(argv),
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                capture_output=True,
                timeout=wait,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise SshError(
                f"host {self.name} did not finish `{' '.join(argv)}` within {wait:g} s.",
                SshFault.TIMEOUT,
            ) from exc
        # 255 is ssh's own failure, or the command's; the master being gone tells them apart.
        if proc.returncode == 255 and not self.is_up():
            raise SshError(
                f"the connection to host {self.name} ({self.target}) was lost: "
                f"{ssh_said(proc.stderr)}.",
                SshFault.UNREACHABLE,
            )
        return RunResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)

    def __enter__(self) -> SshConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        with contextlib.suppress(OSError):
            self.close()
