"""Every control connection has tmux's ``pause-after`` flow control, from its first moment."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agentmux.core.tmux.control import PAUSE_AFTER_SECONDS, ControlClient
from agentmux.core.tmux.server import clean_env
from tests.conftest import wait_for


def _tmux(socket: Path, *args: str) -> str:
    done = subprocess.run(
        ["tmux", "-S", str(socket), *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
    )
    return done.stdout.strip()


def test_every_connection_is_attached_with_pause_after(home: object, tmp_path: Path) -> None:
    # The flag used to be set by a refresh-client sent right after the attach, which tmux
    # sometimes read before the client was attached ("no current client"): that connection then
    # had no flow control at all. Several connections make a regression all but certain to show.
    socket = tmp_path / "flags.sock"
    _tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", "agent")
    try:
        for _round in range(8):
            client = ControlClient(socket, lambda _screen: None)
            client.start()
            try:
                assert client.connected.wait(10)

                def flags() -> list[str]:
                    listed = _tmux(socket, "list-clients", "-F", "#{client_flags}").splitlines()
                    return [f for f in listed if "no-output" not in f]  # not the keeper

                wait_for(lambda: bool(flags()), timeout=5, what="the control client listed")
                assert all(f"pause-after={PAUSE_AFTER_SECONDS}" in f for f in flags()), flags()
            finally:
                client.stop()
    finally:
        _tmux(socket, "kill-server")
