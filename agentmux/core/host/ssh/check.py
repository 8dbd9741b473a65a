"""``host check``: is a host reachable, and does it have agentmux, tmux and git that will do?

Three commands run on the host over its one master connection: ``<agentmux> --version``,
``tmux -V`` and ``git --version``. agentmux versions are compatible when their first two numbers
match (``0.1.0`` and ``0.1.4`` are; ``0.1`` and ``0.2`` are not).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from agentmux.core.config.hosts import HostEntry
from agentmux.core.git.repo import MIN_GIT
from agentmux.core.host.ssh.connection import RunResult, SshConnection
from agentmux.core.tmux.server import MIN_TMUX

#: The exit status a POSIX shell gives a command it cannot find, and one it cannot run.
NOT_FOUND = 127
NOT_RUNNABLE = 126
_AGENTMUX_VERSION = re.compile(r"^agentmux (\d+)\.(\d+)(?:\.\S+)?$")
_NUMBERS = re.compile(r"(\d+)\.(\d+)")


@dataclass(frozen=True)
class ProgramCheck:
    """One program on the host: the version it printed, or the problem with it."""

    program: str
    version: str | None
    problem: str | None = None

    @property
    def line(self) -> str:
        """Its line in ``host check``'s output."""
        if self.version is None:
            return f"{self.program}: missing or unusable"
        return f"{self.program} {self.version}"


@dataclass(frozen=True)
class HostReport:
    """What ``host check`` found on host ``name``."""

    name: str
    target: str
    master_pid: int | None
    local_version: str
    programs: tuple[ProgramCheck, ...]

    @property
    def problem(self) -> str | None:
        """The first thing that keeps agentmux from using the host, as one sentence; or None."""
        return next((p.problem for p in self.programs if p.problem), None)

    def lines(self) -> list[str]:
        """One line for the connection, then one per program."""
        master = f"ssh master pid {self.master_pid}" if self.master_pid else "ssh master"
        lines = [f"{self.name}: reachable as {self.target} ({master})"]
        for program in self.programs:
            line = program.line
            if program.program == "agentmux" and program.version is not None:
                verdict = "incompatible" if program.problem else "compatible"
                line += f" (here {self.local_version}: {verdict})"
            lines.append(line)
        return lines


def major_minor(version: str) -> tuple[int, int] | None:
    """The first two numbers of a version string, or None."""
    found = _NUMBERS.search(version)
    return (int(found.group(1)), int(found.group(2))) if found else None


def _missing(name: str, what: str, program: str, result: RunResult, advice: str) -> str:
    """The sentence for ``program`` (which is ``what``) failing to run on host ``name``."""
    said = result.stderr.decode(errors="replace").strip().splitlines()
    why = said[-1] if said else f"status {result.returncode}"
    if result.returncode == NOT_FOUND:
        return f"host {name} has no {what} (`{program}` is not found there): {advice}."
    if result.returncode == NOT_RUNNABLE:
        return f"host {name} cannot run {what} (`{program}`: {why}): {advice}."
    return f"{what} failed on host {name} (`{program}`: {why}): {advice}."


def add_again(name: str, entry: HostEntry, agentmux: str) -> str:
    """The ``host add`` command line that records ``entry`` again with another agentmux."""
    argv = ["agentmux", "host", "add", name, entry.target, "--agentmux", agentmux]
    if entry.ssh_command is not None:
        argv += ["--ssh-command", entry.ssh_command]
    if entry.path is not None:
        argv += ["--path", entry.path]
    return shlex.join(argv)


def check_agentmux(
    name: str, entry: HostEntry, result: RunResult, local_version: str
) -> ProgramCheck:
    """Read ``<agentmux> --version``'s result; compare it with this agentmux's version."""
    program = entry.agentmux
    local = major_minor(local_version) or (0, 0)
    wanted = f"{local[0]}.{local[1]}"
    install = (
        f"install agentmux {wanted} there (`pip install .` in a checkout of agentmux, Python 3.11 "
        f"or later), or, if it is installed elsewhere, add the host again with `agentmux host rm "
        f"{name}` and `{add_again(name, entry, 'PATH')}`"
    )
    if not result.ok:
        return ProgramCheck("agentmux", None, _missing(name, "agentmux", program, result, install))
    found = _AGENTMUX_VERSION.fullmatch(result.text)
    if found is None:
        shown = result.text.splitlines()[0][:80] if result.text else ""
        return ProgramCheck(
            "agentmux",
            None,
            f"`{program} --version` on host {name} printed {shown!r}, not an agentmux version: "
            f"{install}.",
        )
    version = result.text.removeprefix("agentmux ")
    if major_minor(version) != local:
        return ProgramCheck(
            "agentmux",
            version,
            f"host {name} runs agentmux {version}, which does not work with agentmux "
            f"{local_version} here (the first two numbers must match): install agentmux "
            f"{wanted} there.",
        )
    return ProgramCheck("agentmux", version)


def check_tool(
    name: str, program: str, result: RunResult, minimum: tuple[int, int]
) -> ProgramCheck:
    """Read ``tmux -V`` or ``git --version``'s result against the version agentmux needs."""
    need = f"{minimum[0]}.{minimum[1]}"
    if not result.ok:
        return ProgramCheck(
            program,
            None,
            _missing(name, program, program, result, f"install {program} {need} or later"),
        )
    text = result.text.splitlines()[0] if result.text else ""
    version = text.removeprefix("git version ").removeprefix("tmux ").strip()
    numbers = major_minor(version)
    if numbers is None:
        return ProgramCheck(
            program, None, f"cannot tell the {program} version on host {name} from {text!r}."
        )
    if numbers < minimum:
        return ProgramCheck(
            program,
            version,
            f"host {name} has {program} {version}, older than the {need} agentmux needs: "
            f"upgrade {program} there.",
        )
    return ProgramCheck(program, version)


def check_host(connection: SshConnection, entry: HostEntry, local_version: str) -> HostReport:
    """Reach the host (one sentence, an :class:`SshError`, when it cannot be) and check its
    agentmux (``entry.agentmux``), tmux and git."""
    name = connection.name
    connection.open()
    programs = (
        check_agentmux(name, entry, connection.run([entry.agentmux, "--version"]), local_version),
        check_tool(name, "tmux", connection.run(["tmux", "-V"]), MIN_TMUX),
        check_tool(name, "git", connection.run(["git", "--version"]), MIN_GIT),
    )
    return HostReport(name, connection.target, connection.master_pid(), local_version, programs)
