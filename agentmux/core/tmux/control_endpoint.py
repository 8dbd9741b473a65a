"""Where a control client's tmux is, and how its processes are started there.

A :class:`~agentmux.core.tmux.control.ControlClient` talks to one tmux server through a
:class:`TmuxEndpoint`: the tmux command line for a list of tmux arguments (locally ``tmux -S
SOCKET ...``; on another machine the same wrapped in an ssh command through its master
connection), a check made before each connection attempt, and the global arguments of the command
that makes the hidden view session (locally agentmux's config, in case that command starts the
server; elsewhere ``-N``, so a viewer never starts a server the host's agentmux did not).

Every process here is an argument list, never a shell line built from input.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from agentmux.core.tmux.server import clean_env


class UnreachableError(Exception):
    """The tmux server cannot be reached now. ``state`` is what the client reports; ``hold``
    says not to try again until told (a login that needs a person)."""

    def __init__(self, state: str, *, hold: bool = False, reason: str = "") -> None:
        super().__init__(reason or state)
        self.state = state
        self.hold = hold
        self.reason = reason


def _always_ready() -> None:
    """Nothing to check first."""


@dataclass(frozen=True)
class TmuxEndpoint:
    """How to reach one tmux server.

    ``argv`` turns tmux arguments into the command line that runs them on that server;
    ``ready`` runs before each connection attempt and raises :class:`UnreachableError` when
    trying now is pointless (it may also make what the connection needs, an ssh master say);
    ``start_args`` are the global arguments of the ``new-session`` that makes the view session.
    """

    argv: Callable[[Sequence[str]], list[str]]
    ready: Callable[[], None] = _always_ready
    start_args: tuple[str, ...] = ("-N",)


def local_endpoint(socket_path: Path) -> TmuxEndpoint:
    """The tmux server on ``socket_path`` on this machine."""
    socket = str(socket_path)

    def argv(args: Sequence[str]) -> list[str]:
        return ["tmux", "-S", socket, *args]

    def ready() -> None:
        if not socket_path.exists():
            raise UnreachableError("disconnected")

    # With agentmux's config, in case this starts the server (after a crash, say).
    conf = str(resources.files("agentmux.core.tmux").joinpath("tmux.conf"))
    return TmuxEndpoint(argv, ready, ("-f", conf))


def spawn_view_client(
    endpoint: TmuxEndpoint, view: str, flags: str
) -> subprocess.Popen[bytes] | None:
    """Attach a control client with client ``flags`` to the ``view`` session (made first if
    missing); None when it cannot be made."""
    exists = subprocess.run(
        endpoint.argv(["has-session", "-t", f"={view}"]),
        capture_output=True,
        check=False,
        env=clean_env(),
    )
    if exists.returncode != 0:
        made = subprocess.run(
            endpoint.argv(
                [
                    *endpoint.start_args,
                    "new-session",
                    "-d",
                    "-s",
                    view,
                    "-x",
                    "200",
                    "-y",
                    "50",
                    "sh",
                    "-c",
                    "while :; do sleep 3600; done",
                ]
            ),
            capture_output=True,
            check=False,
            env=clean_env(),
        )
        if made.returncode != 0:
            return None
    return subprocess.Popen(
        # The flags are set by the attach itself: a refresh-client sent right after it can reach
        # tmux before the client is attached, and fail ("no current client").
        endpoint.argv(["-C", "attach-session", "-f", flags, "-t", f"={view}"]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )


def spawn_keeper(endpoint: TmuxEndpoint, view: str) -> subprocess.Popen[bytes]:
    """The keeper: a second control client on ``view`` that reads nothing (``no-output``), so
    tmux never stops reading a pane because the reader fell behind (see ``control``)."""
    # Its stdin is a pipe this process holds open: the keeper lives exactly as long as
    # agentmux (tmux reads a control client's stdin itself, so even a stopped keeper works).
    return subprocess.Popen(
        endpoint.argv(
            ["-C", "attach-session", "-f", "no-output,ignore-size,read-only", "-t", f"={view}"]
        ),
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean_env(),
    )


def close_client(proc: subprocess.Popen[bytes]) -> None:
    """End a control client: closing its stdin detaches it; kill it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(OSError):
        assert proc.stdin is not None
        proc.stdin.close()
    try:
        proc.wait(timeout=2)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
