"""The control connection: a reader that stops reading must never stall an agent."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from agentmux.core.tmux.control import VIEW_SESSION, ControlClient, Screen
from agentmux.core.tmux.server import clean_env

AGENT_TAG = "0c9e5a52-agent"
# Prints about 2 MB as fast as it can (far more than tmux buffers for a client), then says so.
PRINTER = (
    "import sys\n"
    "for _ in range(14000): sys.stdout.write('x' * 150 + '\\n')\n"
    "sys.stdout.flush()\n"
    "open(sys.argv[1], 'w').write('done')\n"
)


class FrozenReader(ControlClient):
    """A control client whose reader stops at the first output, as a stopped process's would."""

    def __init__(self, socket_path: Path) -> None:
        super().__init__(socket_path, self._screen)
        self.frozen = threading.Event()

    def _screen(self, screen: Screen) -> None:
        pass

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if raw.startswith((b"%output ", b"%extended-output ")):
                self.frozen.set()
                self._stop.wait()
                return


def _tmux(socket: Path, *args: str) -> str:
    done = subprocess.run(
        ["tmux", "-S", str(socket), *args],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(),
    )
    return done.stdout.strip()


def _mirror_agent(socket: Path, client: ControlClient) -> str:
    """Tag the "agent" session's pane and link its window into the view session, as agentmux
    does; its pane id."""
    assert client.connected.wait(10)
    window = _tmux(socket, "display-message", "-p", "-t", "agent", "#{window_id}")
    pane = _tmux(socket, "display-message", "-p", "-t", "agent", "#{pane_id}")
    _tmux(socket, "set-option", "-p", "-t", pane, "@agentmux_id", AGENT_TAG)
    _tmux(socket, "link-window", "-d", "-s", window, "-t", f"{VIEW_SESSION}:")
    client.watch({pane: AGENT_TAG})
    return pane


def test_an_agent_prints_on_while_the_reader_is_stopped(home: object, tmp_path: Path) -> None:
    # tmux used to stall such an agent in about half the runs, so three rounds make a regression
    # all but certain to show.
    for round_ in range(3):
        socket = tmp_path / f"s{round_}.sock"
        marker = tmp_path / f"done{round_}"
        _tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", "agent", "sleep 3600")
        client = FrozenReader(socket)
        client.start()
        try:
            pane = _mirror_agent(socket, client)
            time.sleep(0.3)  # pause-after is set before the agent prints
            printer = f'{sys.executable} -c "$PRINTER" {marker}; sleep 3600'
            _tmux(socket, "set-environment", "-g", "PRINTER", PRINTER)
            _tmux(socket, "respawn-pane", "-k", "-t", pane, printer)
            deadline = time.monotonic() + 15
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert client.frozen.is_set(), "the reader never saw output"
            assert marker.exists(), f"round {round_}: the agent stalled behind a stopped reader"
        finally:
            subprocess.run(
                ["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False
            )
            client.stop()


def test_the_last_line_of_a_burst_is_always_mirrored(home: object, tmp_path: Path) -> None:
    # A pane is paused after its first notification and continued just before each capture: a
    # final line printed around a capture must still reach the mirror, whatever the timing.
    socket = tmp_path / "burst.sock"
    _tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", "agent", "-x", "80", "-y", "20")
    screens: dict[str, Screen] = {}
    client = ControlClient(socket, lambda screen: screens.__setitem__(screen.pane_id, screen))
    client.start()
    try:
        pane = _mirror_agent(socket, client)
        client.focus(pane)  # captured every 33 ms: many chances for a line to land mid-capture
        for burst in range(12):
            script = (
                f"import time\nfor i in range({20 + 5 * burst}):\n"
                "    print('line', i, flush=True)\n    time.sleep(0.007)\n"
                f"print('END {burst}', flush=True)\ntime.sleep(3600)"
            )
            _tmux(socket, "respawn-pane", "-k", "-t", pane, sys.executable, "-c", script)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                shown = screens.get(pane)
                if shown is not None and any(f"END {burst}" in row for row in shown.rows):
                    break
                time.sleep(0.02)
            else:
                raise AssertionError(f"burst {burst}: the final line never reached the mirror")
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False)
        client.stop()


class CaptureInsidePause(ControlClient):
    """A control client whose scheduler captures a pane at the worst moment: while the reader
    is pausing it, between marking it paused and sending tmux the pause."""

    def __init__(self, socket_path: Path, on_screen: Callable[[Screen], None]) -> None:
        super().__init__(socket_path, on_screen)
        self.raced = threading.Event()

    def send(self, command: str) -> Future[list[str]]:
        if command.endswith(":pause'") and not self.raced.is_set():
            self.raced.set()
            pane_id = command.split("'")[1].rsplit(":", 1)[0]
            capture = threading.Thread(target=self._capture, args=(pane_id,), daemon=True)
            capture.start()
            capture.join(0.5)  # done at once, unless the pause is sent under the pane's lock
        return super().send(command)


def test_a_capture_during_a_pause_never_freezes_the_pane(home: object, tmp_path: Path) -> None:
    # Seen in CI: the agent answered, but its pane stayed frozen on the screen before. A capture
    # had continued the pane just before the reader's pause reached tmux, so the pane stayed
    # paused and no output of it was ever notified again.
    socket = tmp_path / "race.sock"
    _tmux(socket, "-f", "/dev/null", "new-session", "-d", "-s", "agent", "-x", "80", "-y", "20")
    screens: dict[str, Screen] = {}
    client = CaptureInsidePause(socket, lambda screen: screens.__setitem__(screen.pane_id, screen))
    client.start()
    try:
        pane = _mirror_agent(socket, client)
        script = (
            "import time\nprint('FIRST', flush=True)\ntime.sleep(1.5)\n"
            "print('SECOND', flush=True)\ntime.sleep(3600)"
        )
        _tmux(socket, "respawn-pane", "-k", "-t", pane, sys.executable, "-c", script)
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            shown = screens.get(pane)
            if shown is not None and any("SECOND" in row for row in shown.rows):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("output after the raced pause never reached the mirror")
        assert client.raced.is_set()
    finally:
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False)
        client.stop()
