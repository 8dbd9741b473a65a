"""What went wrong reaching a host, in one sentence that says what to do.

ssh reports its own failures on stderr with exit status 255; :func:`fault_of` reads that text
into an :class:`SshFault`, and :class:`SshError` carries it with the sentence, so a caller can
tell "log in by hand once" (never to be retried in a loop) from "the host is down" (retried later).
"""

from __future__ import annotations

import enum
import re

from agentmux.core.errors import AgentmuxError


class SshFault(enum.Enum):
    """Why a host could not be used."""

    #: The host needs a person to log in: a passphrase, a password, a key nobody offered.
    NEEDS_PERSON = "needs-person"
    #: ssh does not know the host's key, or it changed.
    HOST_KEY = "host-key"
    #: No connection: the name does not resolve, nothing listens, the network or host is down.
    UNREACHABLE = "unreachable"
    #: The host did not answer in time.
    TIMEOUT = "timeout"
    #: The ssh program itself cannot run.
    NO_SSH = "no-ssh"
    #: Anything else ssh said.
    OTHER = "other"


class SshError(AgentmuxError):
    """A host could not be reached or used; ``fault`` says why, the message what to do."""

    def __init__(self, message: str, fault: SshFault) -> None:
        super().__init__(message)
        self.fault = fault


_NEEDS_PERSON = re.compile(
    r"Permission denied|Too many authentication failures|passphrase|password", re.IGNORECASE
)
_HOST_KEY = re.compile(
    r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|"
    r"No \S+ host key is known",
    re.IGNORECASE,
)
_TIMEOUT = re.compile(r"timed out", re.IGNORECASE)
_UNREACHABLE = re.compile(
    r"Connection refused|Could not resolve hostname|No route to host|Network is unreachable|"
    r"Connection closed by|Connection reset|kex_exchange_identification|Broken pipe|"
    r"Name or service not known|Temporary failure in name resolution",
    re.IGNORECASE,
)


def ssh_said(stderr: bytes) -> str:
    """ssh's last meaningful line of complaint, without its prefixes and trailing dots."""
    lines = [
        line.strip()
        for line in stderr.decode(errors="replace").splitlines()
        if line.strip() and not line.startswith(("Warning: Permanently added", "debug"))
    ]
    if not lines:
        return "ssh gave no reason"
    said = lines[-1].removeprefix("ssh: ")
    return said.rstrip(".")


def fault_of(stderr: bytes) -> SshFault:
    """Which fault ssh's ``stderr`` describes."""
    text = stderr.decode(errors="replace")
    if _HOST_KEY.search(text):
        return SshFault.HOST_KEY
    if _NEEDS_PERSON.search(text):
        return SshFault.NEEDS_PERSON
    if _TIMEOUT.search(text):
        return SshFault.TIMEOUT
    if _UNREACHABLE.search(text):
        return SshFault.UNREACHABLE
    return SshFault.OTHER


def explain(name: str, target: str, by_hand: str, stderr: bytes) -> SshError:
    """The error for a failed login to host ``name`` (ssh destination ``target``); ``by_hand``
    is the command a person runs to log in once."""
    fault = fault_of(stderr)
    said = ssh_said(stderr)
    if fault is SshFault.NEEDS_PERSON:
        message = (
            f"logging in to host {name} ({target}) needs a person: a passphrase, a password or "
            f"a key your ssh agent does not hold ({said}); agentmux never asks, so log in once "
            f"with `{by_hand}` or add the key with `ssh-add`, then try again."
        )
    elif fault is SshFault.HOST_KEY:
        message = (
            f"ssh does not trust the host key of {name} ({target}): it is unknown or changed "
            f"({said}); check it and accept it by logging in once with `{by_hand}`."
        )
    elif fault is SshFault.TIMEOUT:
        message = f"host {name} ({target}) did not answer in time: {said}."
    elif fault is SshFault.UNREACHABLE:
        message = f"host {name} ({target}) is unreachable: {said}."
    else:
        message = f"ssh to host {name} ({target}) failed: {said}."
    return SshError(message, fault)
