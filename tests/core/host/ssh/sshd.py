"""A real, throw-away OpenSSH server on 127.0.0.1 for the ssh tests, logging in as a second user.

The "remote" is this machine seen through sshd as another local user, :data:`REMOTE_USER`
(created once with ``useradd -m``; ``usermod -p '*'`` unlocks key logins, which sshd refuses a
locked account under ``UsePAM no``). That user cannot read the tester's files, home or tmux
sockets, so a test cannot pass by reaching them by accident.

Each test process (each xdist worker) runs its own sshd on free ports, with its own host key,
``sshd_config``, ``PidFile`` and log (``-D -E``: foreground, logging to a file the tests read to
count logins). It listens on two ports: :attr:`Sshd.port` is a normal login; on
:attr:`Sshd.bare_port` sshd sets ``PATH`` to :attr:`Sshd.bare_bin` only, a directory a test
fills, so a host without tmux, git or agentmux needs no second machine.

The client side is a config file passed with ``ssh -F`` (the ssh client reads ``~/.ssh/config``
from the passwd home, never ``$HOME``, so nothing of the tester's own ssh set-up applies). Its
aliases: ``amx-sshd`` (a working login), ``amx-sshd-bare`` (the bare port), ``amx-sshd-locked``
(a key with a passphrase: a login that needs a person) and ``amx-sshd-stranger`` (no known host
key). Host keys are checked strictly against a ``known_hosts`` the fixture writes.

It needs root (to run sshd as a server for another user and to create that user), like CI: a
machine without root or without sshd fails the tests with one sentence saying what to do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

REMOTE_USER = "amx-remote"
#: Passphrase of the ``amx-sshd-locked`` key: only a person could type it.
LOCKED_PASSPHRASE = "a passphrase nobody types in a test"
_SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd")
_USER_LOCK = Path("/tmp/amx-remote-user.lock")


def find_sshd() -> Path:
    """The sshd program; the test fails with one sentence when it is not installed."""
    for candidate in (shutil.which("sshd"), *_SSHD_CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    pytest.fail(
        "sshd is not installed: the ssh tests run a real OpenSSH server; install it with "
        "`apt-get install -y openssh-server` (.ci/run does).",
        pytrace=False,
    )


def require_root() -> None:
    """Fail with one sentence unless the tests run as root."""
    if os.geteuid() != 0:
        pytest.fail(
            "the ssh tests start sshd and log in as a second local user, which needs root: "
            "run them as root (CI does), e.g. in a container.",
            pytrace=False,
        )


def ensure_remote_user() -> pwd.struct_passwd:
    """The second local user (made once, under a lock: several xdist workers start at once)."""
    _USER_LOCK.touch(exist_ok=True)
    with _USER_LOCK.open() as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            pwd.getpwnam(REMOTE_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--create-home", "--shell", "/bin/sh", REMOTE_USER],
                check=True,
                capture_output=True,
            )
        # A new account's password is locked ('!'); '*' unlocks key logins only.
        subprocess.run(["usermod", "-p", "*", REMOTE_USER], check=True, capture_output=True)
    return pwd.getpwnam(REMOTE_USER)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def keygen(path: Path, passphrase: str = "") -> str:
    """Make an ed25519 key pair at ``path``; its public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", path.name, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_name(f"{path.name}.pub").read_text().strip()


def chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    """Give ``path`` and everything under it to ``user``."""
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.lchown(os.path.join(root, name), user.pw_uid, user.pw_gid)
    os.lchown(path, user.pw_uid, user.pw_gid)


@dataclass
class Sshd:
    """One running sshd and the client set-up to reach it (see the module's docstring)."""

    dir: Path
    user: pwd.struct_passwd
    remote_dir: Path
    port: int = 0
    bare_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    _started: list[int] = field(default_factory=list)

    @property
    def log(self) -> Path:
        """sshd's log (``-E``): one ``Accepted publickey`` line per login."""
        return self.dir / "sshd.log"

    @property
    def client_config(self) -> Path:
        """The ssh client's config (``ssh -F``)."""
        return self.dir / "ssh_config"

    @property
    def bare_bin(self) -> Path:
        """The only directory on PATH for logins on :attr:`bare_port` (the user can read it)."""
        return self.remote_dir / "bare-bin"

    @property
    def ssh_command(self) -> str:
        """The ``--ssh-command`` that reaches this sshd."""
        return shlex.join(["ssh", "-F", str(self.client_config)])

    def ssh_argv(self) -> list[str]:
        """:attr:`ssh_command` as an argument list."""
        return shlex.split(self.ssh_command)

    def logins(self) -> int:
        """How many logins sshd accepted so far (an independent count, from its own log)."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return 0
        return text.count(f"Accepted publickey for {REMOTE_USER} ")

    def log_text(self) -> str:
        """sshd's log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    # --- set-up -------------------------------------------------------------------------------

    def write_files(self) -> None:
        """Host key, client keys, authorized_keys, sshd_config, client config, known_hosts."""
        self.dir.mkdir(parents=True, exist_ok=True)
        keygen(self.dir / "host_ed25519")
        authorized = [
            keygen(self.dir / "id_ed25519"),
            keygen(self.dir / "id_locked", LOCKED_PASSPHRASE),
        ]
        self.remote_dir.mkdir(parents=True)
        self.bare_bin.mkdir()
        (self.remote_dir / "authorized_keys").write_text("\n".join(authorized) + "\n")
        chown_tree(self.remote_dir, self.user)
        os.chmod(self.remote_dir, 0o755)

    def _configure(self) -> None:
        host_key = self.dir / "host_ed25519"
        (self.dir / "sshd_config").write_text(
            f"""\
Port {self.port}
Port {self.bare_port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {self.dir / "sshd.pid"}
AuthorizedKeysFile {self.remote_dir / "authorized_keys"}
AllowUsers {REMOTE_USER}
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
LogLevel INFO
AcceptEnv XDG_* AGENTMUX_*
Match LocalPort {self.bare_port}
    SetEnv PATH={self.bare_bin}
"""
        )
        key = (self.dir / "host_ed25519.pub").read_text().split()
        (self.dir / "known_hosts").write_text(
            "".join(f"[127.0.0.1]:{p} {key[0]} {key[1]}\n" for p in (self.port, self.bare_port))
        )
        self.client_config.write_text(
            f"""\
Host amx-sshd-bare
    Port {self.bare_port}
Host amx-sshd-locked
    IdentityFile {self.dir / "id_locked"}
Host amx-sshd-stranger
    UserKnownHostsFile /dev/null
Host * !amx-sshd-locked
    IdentityFile {self.dir / "id_ed25519"}
Host *
    HostName 127.0.0.1
    Port {self.port}
    User {REMOTE_USER}
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile {self.dir / "known_hosts"}
    StrictHostKeyChecking yes
    CheckHostIP no
"""
        )

    def start(self) -> None:
        """Start sshd (on new free ports the first time, on the same ones after :meth:`stop`)."""
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege-separation directory
        for _attempt in range(5):
            if not self._started:
                self.port, self.bare_port = free_port(), free_port()
                self._configure()
            if self._launch():
                self._started = [self.port, self.bare_port]
                return
            if self._started:
                break
        pytest.fail(f"sshd did not start; its log:\n{self.log_text()}", pytrace=False)

    def _launch(self) -> bool:
        mark = len(self.log_text())
        stderr = (self.dir / "sshd.stderr").open("ab")
        with stderr:
            self.process = subprocess.Popen(
                [str(find_sshd()), "-D", "-E", str(self.log), "-f", str(self.dir / "sshd_config")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        wanted = [f"Server listening on 127.0.0.1 port {p}." for p in (self.port, self.bare_port)]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            fresh = self.log_text()[mark:]
            if all(line in fresh for line in wanted):
                return True
            if self.process.poll() is not None or "Bind to port" in fresh:
                break
            time.sleep(0.02)
        self._end_all()
        return False

    def _tree(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _end_all(self) -> None:
        procs = self._tree()
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGCONT)
                proc.kill()
        psutil.wait_procs(procs, timeout=5)
        if self.process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        self.process = None

    def stop(self) -> None:
        """The host goes away: sshd and every connection it serves end (clients see EOF)."""
        self._end_all()

    def freeze(self) -> None:
        """The host stops answering without closing anything (a dead network, a slept laptop):
        sshd and its connections are stopped with SIGSTOP."""
        for proc in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Undo :meth:`freeze`."""
        for proc in self._tree():
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGCONT)

    def running(self) -> bool:
        """Whether sshd is up."""
        return self.process is not None and self.process.poll() is None


def _dead(pid: int) -> bool:
    return not psutil.pid_exists(pid)


def _end_tree(proc: psutil.Process) -> None:
    """Kill ``proc`` and everything under it (woken first: a test may have frozen them)."""
    with contextlib.suppress(psutil.NoSuchProcess):
        for each in [*proc.children(recursive=True), proc]:
            with contextlib.suppress(psutil.NoSuchProcess):
                each.send_signal(signal.SIGCONT)
                each.kill()


def end_started_from(user: pwd.struct_passwd, remote_dir: Path) -> None:
    """End the second user's processes that run from ``remote_dir`` (its agentmux, the tmux
    servers and agents that agentmux started, a test's tmux there), or from a remote directory
    whose test process is gone: an sshd going away leaves them running, as a real host would."""
    stale = re.compile(rf"{re.escape(user.pw_dir)}/amx-(\d+)-[0-9a-f]{{8}}/")
    for proc in psutil.process_iter(["cmdline", "uids"]):
        uids = proc.info["uids"]
        if uids is None or uids.real != user.pw_uid:
            continue
        line = " ".join(proc.info["cmdline"] or [])
        found = stale.search(line)
        if f"{remote_dir}/" in line or (found and _dead(int(found.group(1)))):
            _end_tree(proc)


def sweep_stale(user: pwd.struct_passwd) -> None:
    """End what test runs killed before their teardown left: their sshds (named after the test
    process), the connections those served, and their remote directories."""
    for proc in psutil.process_iter(["cmdline", "ppid"]):
        cmdline = proc.info["cmdline"] or []
        config = cmdline[cmdline.index("-f") + 1] if "-f" in cmdline[:-1] else ""
        found = re.search(r"/amx-sshd-(\d+)-[^/]*/sshd_config$", config)
        orphan = proc.info["ppid"] == 1 and " ".join(cmdline).startswith(f"sshd: {user.pw_name}")
        if (found and _dead(int(found.group(1)))) or orphan:
            _end_tree(proc)
    for entry in Path(user.pw_dir).glob("amx-*-*"):
        found = re.fullmatch(r"amx-(\d+)-[0-9a-f]{8}", entry.name)
        if found and _dead(int(found.group(1))):
            shutil.rmtree(entry, ignore_errors=True)


@contextlib.contextmanager
def running_sshd(base: Path) -> Iterator[Sshd]:
    """An sshd for this test process; stopped and its remote directory removed afterwards.
    ``base`` is a new directory whose name holds ``amx-sshd-<this process's pid>-``."""
    require_root()
    find_sshd()
    user = ensure_remote_user()
    sweep_stale(user)
    remote_dir = Path(user.pw_dir) / f"amx-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    server = Sshd(base, user, remote_dir)
    try:
        server.write_files()
        server.start()
        yield server
    finally:
        server.stop()
        end_started_from(user, remote_dir)
        shutil.rmtree(remote_dir, ignore_errors=True)
