"""One persistent tmux control-mode connection that mirrors the agents' screens.

tmux tells a control-mode client (``tmux -C``) about every change in the windows of the session it
is attached to (``%output %PANE ...``). agentmux attaches to a hidden view session into which
every agent's window is linked, so one connection sees them all. Output notifications only mark a
pane dirty (and pause its output to this client: one notification per capture is all it needs);
its screen is then fetched with ``capture-pane`` over the same connection, at most
``focus_fps`` times a second for the focused pane and ``background_fps`` for the others. An idle
screen costs nothing. tmux's ``pause-after`` flow control keeps a slow reader from stalling an
agent: a paused pane is continued and captured. If the connection drops it is re-made.

``pause-after`` alone is not enough. tmux stops reading a pane when every client attached to the
server is a control client that is behind, and it only checks a pane's age (the pause) when it
writes more of that pane's output, which it no longer reads: a reader that stops (the process
stopped by Ctrl-Z or a debugger) could stall an agent for good. So a second control client, the
*keeper*, stays attached with ``no-output``: tmux never counts it as behind, so it never stops
reading a pane, and ``pause-after`` then drops what the stopped reader misses. The keeper reads
nothing and costs nothing; tmux writes its few notifications to ``/dev/null``.

Every pane is watched as the pane of one agent, by the ``@agentmux_id`` tag agentmux gives it.
Each capture reads the tag along with the screen, over the same connection, and a screen whose
tag is not the one expected is dropped: a restarted tmux server hands out the same pane ids
again, so an id alone never says whose screen it is. A pane whose tag this connection has read
takes keys over it (one server never reuses an id); any other must be checked by tmux itself.

The server may be on another machine: the client reaches it through a
:class:`~agentmux.core.tmux.control_endpoint.TmuxEndpoint` (by default the local socket), so the
same reader, scheduler and flow control serve a host's panes over one ssh channel. Besides the
screens, the connection carries the few commands a viewer sends (:meth:`ControlClient.request`,
:meth:`ControlClient.run_tagged`): nothing needs a process, or an ssh channel, per command.

Everything here runs on two background threads (reader and scheduler); results reach the caller
through the ``on_screen`` and ``on_state`` callbacks, from those threads.
"""

from __future__ import annotations

import contextlib
import math
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path, PurePath

from agentmux.core.tmux.control_endpoint import (
    TmuxEndpoint,
    UnreachableError,
    close_client,
    local_endpoint,
    spawn_keeper,
    spawn_view_client,
)
from agentmux.core.tmux.server import tmux_string

VIEW_SESSION = "_agentmux_view"
PAUSE_AFTER_SECONDS = 1


@dataclass(frozen=True)
class Screen:
    """One pane's visible screen: rows with their SGR escapes, and the cursor; and the
    ``@agentmux_id`` tag the pane had when it was captured (the agent's session id)."""

    pane_id: str
    rows: tuple[str, ...]
    cursor: tuple[int, int]
    width: int
    height: int
    captured_at: float
    agentmux_id: str = ""


@dataclass
class _PaneState:
    tag: str
    dirty: bool = True
    last_capture: float = 0.0
    in_flight: bool = False
    paused: bool = False
    output_at: float | None = None


class ControlClient:
    """Mirror the screens of panes on a private tmux server through one control connection.

    ``socket_path`` is the server's socket: on this machine unless an ``endpoint`` says how to
    reach it elsewhere. ``view`` is the hidden session the agents' windows are linked into.
    """

    def __init__(
        self,
        socket_path: PurePath,
        on_screen: Callable[[Screen], None],
        on_state: Callable[[str], None] = lambda _state: None,
        *,
        focus_fps: float = 30.0,
        background_fps: float = 4.0,
        endpoint: TmuxEndpoint | None = None,
        view: str = VIEW_SESSION,
    ) -> None:
        self.socket_path = socket_path
        if endpoint is None:
            if not isinstance(socket_path, Path):
                raise TypeError("a socket on another machine needs an endpoint to reach it")
            endpoint = local_endpoint(socket_path)
        self.endpoint = endpoint
        self.view = view
        self.on_screen = on_screen
        self.on_state = on_state
        self.focus_interval = 1.0 / focus_fps
        self.background_interval = 1.0 / background_fps
        self.focused: str | None = None
        self._panes: dict[str, _PaneState] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._replies: queue.SimpleQueue[Future[list[str]]] = queue.SimpleQueue()
        self._write_lock = threading.Lock()
        # Pane id -> its tag, as read over the current connection (so from the current server).
        self._verified: dict[str, str] = {}
        self._generation = 0
        self._threads: list[threading.Thread] = []
        self.connected = threading.Event()
        self._retry = threading.Event()

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (creating the view session if needed) and start the background threads."""
        self._stop.clear()
        self._retry.clear()  # set by a stop(): a held attempt must wait for a retry() again
        for target in (self._run_connection, self._run_scheduler):
            thread = threading.Thread(
                target=target, name=f"agentmux-{target.__name__}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Disconnect; the agents and their windows are untouched."""
        self._stop.set()
        self._wake.set()
        self._retry.set()
        if self._proc is not None:
            close_client(self._proc)
        for thread in self._threads:
            thread.join(timeout=2)
        self._threads.clear()

    def retry(self) -> None:
        """Try to connect again now, after an endpoint said to wait (a login was fixed)."""
        self._retry.set()

    def _attempt(self) -> subprocess.Popen[bytes]:
        self.endpoint.ready()
        proc = spawn_view_client(self.endpoint, self.view, f"pause-after={PAUSE_AFTER_SECONDS}")
        if proc is None:
            raise UnreachableError("disconnected")
        return proc

    def _run_connection(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                proc = self._attempt()
            except UnreachableError as exc:
                self.on_state(exc.state)
                if exc.hold:
                    # Trying again would fail the same way (or lock the user out): wait to be
                    # told, however long.
                    self._retry.wait()
                    self._retry.clear()
                    backoff = 0.2
                else:
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 2.0)
                continue
            keeper = spawn_keeper(self.endpoint, self.view)
            with self._write_lock:
                self._proc, self._replies = proc, queue.SimpleQueue()
                self._verified, self._generation = {}, self._generation + 1
            self.connected.set()
            self.on_state("connected")
            with self._lock:
                for state in self._panes.values():
                    state.dirty = True
                    state.in_flight = False
                    state.paused = False
            self._wake.set()
            backoff = 0.2
            try:
                self._read(proc)
            except Exception:  # a reader failure is a lost connection, not a crash
                with contextlib.suppress(OSError):
                    proc.kill()
            finally:
                self.connected.clear()
                self._fail_pending()
                close_client(keeper)
            if not self._stop.is_set():
                self.on_state("disconnected")
                self._stop.wait(backoff)

    # --- protocol -------------------------------------------------------------------------------

    def send(self, command: str) -> Future[list[str]]:
        """Send one tmux command; the future resolves to its output lines (or an error)."""
        with self._write_lock:
            return self._write(command)

    def _write(self, command: str) -> Future[list[str]]:
        """Send one command (the write lock held)."""
        future: Future[list[str]] = Future()
        proc, replies = self._proc, self._replies
        if proc is None or proc.stdin is None or proc.poll() is not None:
            future.set_exception(ConnectionError("not connected to tmux"))
            return future
        try:
            # Replies come back in order: the future joins this connection's queue with its
            # command (a new connection gets a new queue, so nothing stale is ever matched).
            replies.put(future)
            proc.stdin.write(command.encode() + b"\n")
            proc.stdin.flush()
        except (OSError, ValueError) as exc:  # ValueError: stdin closed by stop()
            # The reader may have failed it already, draining the queue as the pipe closed.
            if not future.done():
                future.set_exception(ConnectionError(str(exc)))
        return future

    def _fail_pending(self) -> None:
        while True:
            try:
                future = self._replies.get_nowait()
            except queue.Empty:
                return
            if not future.done():
                future.set_exception(ConnectionError("tmux connection lost"))

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        replies = self._replies
        block: list[str] | None = None
        guard = b""
        for raw in proc.stdout:
            if block is None and raw.startswith((b"%output ", b"%extended-output ")):
                # The hot path (thousands a second under load): the pane id is all that matters;
                # the output itself is never decoded. (With pause-after on, tmux sends
                # %extended-output.)
                start = raw.index(b" ") + 1
                self._output(raw[start : raw.index(b" ", start)].decode())
                continue
            if block is not None:
                # A captured row could look like "%end ...": only the exact guard closes a block.
                if raw.startswith((b"%end ", b"%error ")) and raw.split(b" ", 1)[1] == guard:
                    # Flag 1: the reply to a command this client sent (0: tmux's own, e.g. attach).
                    if guard.rstrip().endswith(b" 1"):
                        future = replies.get()
                        if future.done():
                            pass  # failed when its write failed; nothing to deliver
                        elif raw.startswith(b"%end"):
                            future.set_result(block)
                        else:
                            future.set_exception(RuntimeError("\n".join(block)))
                    block = None
                else:
                    block.append(raw.decode(errors="replace").rstrip("\n"))
                continue
            if raw.startswith(b"%begin "):
                block, guard = [], raw.split(b" ", 1)[1]
                continue
            self._notification(raw.decode(errors="replace").rstrip("\n"))
        proc.wait()

    def _output(self, pane_id: str) -> None:
        now = time.monotonic()
        with self._lock:
            state = self._panes.get(pane_id)
            if state is None:
                return  # not a pane being mirrored
            state.output_at = now
            if state.paused:
                return  # sent before the pause took: the coming capture covers it
            state.paused = True
            state.dirty = True
            # One notification says all there is to know (the pane changed), so the pane is
            # paused until its capture: tmux then neither formats nor sends the rest of its
            # output, which for a busy agent is most of the connection's traffic and of this
            # thread's work. Sent under the lock: a capture slipping in between the flag and the
            # command would continue the pane before this pause, leaving it paused for good.
            self.send(f"refresh-client -A '{pane_id}:pause'")
        self._wake.set()

    def _notification(self, line: str) -> None:
        if line.startswith("%pause "):
            # pause-after: this client fell behind on the pane.
            pane_id = line.split(" ", 2)[1]
            with self._lock:
                state = self._panes.get(pane_id)
                if state is not None:
                    state.paused = True
                    state.dirty = True
            if state is None:
                # Not mirrored: let it run on rather than leave it paused.
                self.send(f"refresh-client -A '{pane_id}:continue'")
            else:
                self._wake.set()

    # --- scheduling -----------------------------------------------------------------------------

    def watch(self, panes: Mapping[str, str]) -> None:
        """Mirror exactly these panes, each the pane tagged with the ``@agentmux_id`` given for
        it (pane id -> tag); each gets a fresh capture."""
        with self._lock:
            for pane_id, state in list(self._panes.items()):
                if panes.get(pane_id) != state.tag:
                    del self._panes[pane_id]
            for pane_id, tag in panes.items():
                # Taken as paused: it may have been paused when last watched, and continuing a
                # pane that runs is harmless, so its first capture continues it.
                self._panes.setdefault(pane_id, _PaneState(tag, paused=True))
        self._wake.set()

    def send_keys(self, pane_id: str, tag: str, args: list[str]) -> bool:
        """``send-keys`` over this connection if it has read that ``pane_id`` is tagged ``tag``;
        False (nothing sent) when it has not."""
        words = " ".join(tmux_string(arg) for arg in args)
        with self._write_lock:
            if not tag or self._verified.get(pane_id) != tag:
                return False
            sent = self._write(f"send-keys -t {pane_id} {words}")
        return not sent.done() or sent.exception() is None

    def request(self, args: Sequence[str], timeout: float = 5.0) -> list[str] | None:
        """Run one tmux command (an argument list) over this connection and wait for its output
        lines; None when it failed or the connection is down."""
        command = " ".join(tmux_string(arg) for arg in args)
        try:
            return self.send(command).result(timeout)
        except Exception:  # an error reply, a lost connection or no answer: no output
            return None

    def verify(self, pane_id: str, tag: str, timeout: float = 5.0) -> bool:
        """Whether ``pane_id`` is the pane tagged ``tag`` on this connection's server (read over
        it now, unless it has been already)."""
        with self._write_lock:
            if not tag or self._verified.get(pane_id) == tag:
                return bool(tag)
            generation = self._generation
            said = self._write(f"display-message -p -t {tmux_string(pane_id)} '#{{@agentmux_id}}'")
        try:
            lines = said.result(timeout)
        except Exception:  # no such pane, a lost connection, no answer
            return False
        with self._write_lock:
            if lines != [tag] or generation != self._generation:
                return False
            self._verified[pane_id] = tag
        return True

    def run_tagged(
        self, pane_id: str, tag: str, commands: Sequence[Sequence[str]], timeout: float = 5.0
    ) -> bool:
        """Run tmux ``commands`` (argument lists) over this connection only if ``pane_id`` is the
        pane tagged ``tag``; whether they ran and all succeeded.

        The tag is read over the same connection the commands take, and one connection only ever
        reaches one server (it ends with it), which never hands a pane id out twice: so a pane id
        a restarted server gave another agent is never acted on. (tmux's ``if-shell`` would check
        inside the server too, but the commands it runs answer a control client with replies of
        their own, which no reader can match to what it sent.)
        """
        if not self.verify(pane_id, tag, timeout):
            return False
        with self._write_lock:
            if self._verified.get(pane_id) != tag:
                return False  # reconnected meanwhile: another server, read again
            sent = [self._write(" ".join(tmux_string(a) for a in cmd)) for cmd in commands]
        try:
            for future in sent:
                future.result(timeout)
        except Exception:  # an error reply, a lost connection or no answer
            return False
        return True

    def last_output(self, pane_id: str) -> float | None:
        """``time.monotonic()`` of the pane's last output seen on this connection, if any."""
        with self._lock:
            state = self._panes.get(pane_id)
            return state.output_at if state is not None else None

    def focus(self, pane_id: str | None) -> None:
        """Give ``pane_id`` the fast refresh rate."""
        self.focused = pane_id
        with self._lock:
            if pane_id in self._panes:
                self._panes[pane_id].dirty = True
        self._wake.set()

    def refresh(self, pane_id: str) -> None:
        """Capture a pane again soon, changed or not (after a resize, say)."""
        with self._lock:
            if pane_id in self._panes:
                self._panes[pane_id].dirty = True
        self._wake.set()

    def _run_scheduler(self) -> None:
        timeout = 1.0
        while not self._stop.is_set():
            # Woken by new output or a finished capture; otherwise exactly when the next dirty
            # pane falls due (an idle mirror sleeps a second at a time).
            self._wake.wait(timeout)
            self._wake.clear()
            if not self.connected.is_set():
                timeout = 0.05
                continue
            now = time.monotonic()
            due: list[str] = []
            next_due = now + 1.0
            with self._lock:
                for pane_id, state in self._panes.items():
                    if not state.dirty or state.in_flight:
                        continue
                    if pane_id == self.focused:
                        at = state.last_capture + self.focus_interval
                    else:
                        # Background panes fall due together, on one shared beat, so their new
                        # screens reach the UI in one batch and are drawn in one frame, not one
                        # frame each.
                        beat = self.background_interval
                        at = math.ceil((state.last_capture + beat / 2) / beat) * beat
                    if at <= now:
                        state.dirty = False
                        state.in_flight = True
                        state.last_capture = now
                        due.append(pane_id)
                    else:
                        next_due = min(next_due, at)
            for pane_id in due:
                self._capture(pane_id)
            timeout = max(0.0, next_due - time.monotonic())

    def _capture(self, pane_id: str) -> None:
        with self._lock:
            state = self._panes.get(pane_id)
            paused = state is not None and state.paused
            if state is not None:
                state.paused = False
            if paused:
                # Continued before the capture, never after: output landing in between is then
                # in the capture or notified afresh, so no change is ever missed. Under the lock,
                # so it always follows the pause it undoes.
                self.send(f"refresh-client -A '{pane_id}:continue'")
        # The tag comes with the screen, over one connection: both are of the same pane.
        with self._write_lock:
            generation = self._generation
            info = self._write(
                f"display-message -p -t {pane_id} '#{{cursor_x}} #{{cursor_y}} #{{pane_width}} "
                "#{pane_height} #{@agentmux_id}'"
            )
            rows = self._write(f"capture-pane -p -e -N -t {pane_id}")
        rows.add_done_callback(lambda done: self._captured(pane_id, generation, info, done))

    def _captured(
        self, pane_id: str, generation: int, info: Future[list[str]], rows: Future[list[str]]
    ) -> None:
        with self._lock:
            state = self._panes.get(pane_id)
            if state is not None:
                state.in_flight = False
        if rows.exception() is not None or info.exception() is not None or state is None:
            return
        try:
            cx, cy, width, height, *tag = info.result()[0].split()
            cursor, size = (int(cx), int(cy)), (int(width), int(height))
        except (IndexError, ValueError):
            return
        if tag != [state.tag]:
            return  # not the agent's pane (any more): never show another's screen as its
        with self._write_lock:
            if generation == self._generation:
                self._verified[pane_id] = state.tag
        lines = rows.result()[: size[1]]
        lines += [""] * (size[1] - len(lines))
        now = time.monotonic()
        self.on_screen(Screen(pane_id, tuple(lines), cursor, *size, now, state.tag))
        self._wake.set()
