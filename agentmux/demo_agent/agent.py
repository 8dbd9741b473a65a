"""A small offline agent for demos and tests: prompts, colored streaming, file edits, transcripts.

Each prompt line is one directive (see docs/demo-agent.md); any other text gets a short streamed
reply. It behaves like an interactive agent CLI in a terminal: a prompt, bracketed paste for
multi-line input, Ctrl-C to interrupt, a permission question for ``ask``. Standard library only,
so it starts fast and runs anywhere agentmux does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import termios
import time
import tty
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from agentmux.demo_agent.hooks import Hooks
from agentmux.demo_agent.transcript import Transcript, transcript_path, usage_for

PROMPT = "\x1b[1;35mdemo ❯\x1b[0m "
PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
CHAR_DELAY = 0.002
REPLIES = (
    "I looked through the worktree; nothing there needs changing for that yet.",
    "Sounds good. I would start by reading the tests, then make the smallest change.",
    "Done thinking: the cleanest fix is local to one module, with a test next to it.",
    "I can do that. Tell me which files to touch with `write PATH TEXT`.",
)


class TurnInterruptedError(Exception):
    """The user pressed Ctrl-C while the agent was working."""


class DemoAgent:
    """One interactive demo agent session."""

    def __init__(
        self, transcript: Transcript, cwd: Path, fast: bool, hooks: Hooks | None = None
    ) -> None:
        self.transcript = transcript
        self.hooks = hooks or Hooks(None, "", str(transcript.path), str(cwd))
        self.cwd = cwd
        self.turn = 0
        self.working = False
        self.char_delay = 0.0 if fast else CHAR_DELAY
        self.fd = sys.stdin.fileno()
        self.out = sys.stdout
        self.last_sigint = 0.0

    # --- output -----------------------------------------------------------------------------

    def emit(self, text: str) -> None:
        """Write text to the terminal now."""
        self.out.write(text)
        self.out.flush()

    def stream(self, text: str, color: str = "0") -> None:
        """Print text a few characters at a time, as a model streams tokens."""
        self.emit(f"\x1b[{color}m")
        for start in range(0, len(text), 4):
            self.emit(text[start : start + 4])
            if self.char_delay:
                time.sleep(self.char_delay)
        self.emit("\x1b[0m\n")

    # --- input ------------------------------------------------------------------------------

    def read_prompt(self) -> str | None:
        """Read one prompt; Enter submits, a bracketed paste may hold newlines. None on EOF."""
        self.emit(PROMPT)
        buffer = bytearray()
        pending = b""
        in_paste = False
        while True:
            chunk = os.read(self.fd, 4096)
            if not chunk:
                return None
            data = pending + chunk
            pending = b""
            i = 0
            while i < len(data):
                if data.startswith(PASTE_START, i):
                    in_paste, i = True, i + len(PASTE_START)
                    continue
                if data.startswith(PASTE_END, i):
                    in_paste, i = False, i + len(PASTE_END)
                    continue
                if data[i] == 0x1B and len(data) - i < len(PASTE_START):
                    pending = data[i:]  # an escape sequence split across reads
                    break
                byte = data[i]
                i += 1
                if byte in (0x0A, 0x0D):
                    if in_paste:
                        buffer.append(0x0A)
                        self.emit("\n\x1b[2m  … \x1b[0m")
                        continue
                    self.emit("\n")
                    return buffer.decode(errors="replace")
                if byte in (0x7F, 0x08):
                    if buffer:
                        buffer.pop()
                        self.emit("\b \b")
                    continue
                if byte == 0x04 and not buffer:
                    return None
                if byte == 0x1B or (byte < 0x20 and byte != 0x09):
                    continue
                buffer.append(byte)
                self.out.flush()
                os.write(self.out.fileno(), bytes([byte]))  # the terminal assembles UTF-8

    def read_key(self, allowed: str) -> str:
        """Wait for one of ``allowed`` (a permission answer)."""
        while True:
            data = os.read(self.fd, 64)
            if not data:
                return allowed[-1]
            for ch in data.decode(errors="ignore").lower():
                if ch in allowed:
                    return ch

    # --- turns ------------------------------------------------------------------------------

    def run_turn(self, prompt: str) -> int | None:
        """Carry out one prompt; return an exit code when the agent should exit."""
        self.turn += 1
        started = time.monotonic()
        self.hooks.fire("UserPromptSubmit", prompt=prompt)
        self.transcript.user(prompt)
        self.working = True
        message_id = f"msg_demo_{uuid.uuid4().hex[:20]}"
        said: list[str] = []
        content: list[dict[str, Any]] = []
        exit_code: int | None = None
        failed = False
        interrupted = False
        try:
            self.emit("\x1b[33m⏺ Working…\x1b[0m\n")
            for line in prompt.splitlines() or [""]:
                word, _, rest = line.strip().partition(" ")
                handler = getattr(self, f"do_{word.lower()}", None) if word else None
                if word.lower() == "fail":
                    failed = True
                    self.do_fail(rest)
                    break
                if word.lower() == "exit":
                    exit_code = _int(rest, 0)
                    said.append(f"Exiting with status {exit_code}.")
                    break
                if handler is None:
                    text = REPLIES[sum(map(ord, line)) % len(REPLIES)] if line.strip() else "…"
                    self.stream(text)
                    said.append(text)
                    continue
                tool = word.capitalize()
                tool_input: dict[str, Any] = {"directive": line}
                if word.lower() in ("write", "append"):
                    target = self._inside(rest.partition(" ")[0])
                    if target is not None:
                        tool_input["file_path"] = str(target)
                answers = self.hooks.fire("PreToolUse", tool_name=tool, tool_input=tool_input)
                reason = self.hooks.denied(answers)
                if reason is not None:
                    self.stream(f"⎿ {tool} blocked by a hook: {reason}", "33")
                    said.append(f"{tool} was blocked: {reason}")
                    continue
                result = handler(rest)
                self.hooks.fire("PostToolUse", tool_name=tool, tool_input={"directive": line})
                said.append(result)
                tool_id = f"toolu_{uuid.uuid4().hex[:20]}"
                block = {
                    "type": "tool_use",
                    "id": tool_id,
                    "name": word.capitalize(),
                    "input": {"directive": line},
                }
                content.append(block)
                self.transcript.assistant(
                    message_id,
                    [block],
                    {**usage_for(prompt, "", self.turn), "output_tokens": 1},
                    None,
                )
                self.transcript.tool_result(tool_id, result)
        except TurnInterruptedError:
            self.emit("\x1b[31m⎿ Interrupted by user\x1b[0m\n")
            interrupted = True
        finally:
            self.working = False
        if not failed:
            reply = " ".join(said) or "…"
            content.append({"type": "text", "text": reply})
            self.transcript.assistant(
                message_id,
                [{"type": "text", "text": reply}],
                usage_for(prompt, reply, self.turn),
                "end_turn",
            )
        if interrupted:
            self.transcript.interrupted()
        duration = int((time.monotonic() - started) * 1000)
        self.transcript.turn_duration(duration, 2 * self.turn)
        # As in Claude Code: an API failure fires StopFailure, an interruption fires nothing.
        if failed:
            self.hooks.fire("StopFailure", error="server_error")
        elif not interrupted:
            self.hooks.fire("Stop", stop_hook_active=False)
        return exit_code

    def do_write(self, rest: str, mode: str = "w") -> str:
        """``write PATH TEXT``: create or replace a file (``\\n`` in TEXT is a newline)."""
        path_text, _, text = rest.partition(" ")
        target = self._inside(path_text)
        if target is None:
            self.stream(f"✗ refusing to touch {path_text!r}: outside the worktree", "31")
            return f"Refused to write {path_text}."
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open(mode, encoding="utf-8") as handle:
            handle.write(text.replace("\\n", "\n"))
        verb = "Wrote" if mode == "w" else "Appended to"
        self.stream(f"⎿ {verb} {path_text}", "32")
        return f"{verb} {path_text}."

    def do_append(self, rest: str) -> str:
        """``append PATH TEXT``: add to the end of a file."""
        return self.do_write(rest, mode="a")

    def do_commit(self, rest: str) -> str:
        """``commit MSG``: commit every change in the worktree."""
        message = rest.strip() or "demo agent commit"
        identity: list[str] = []
        probe = subprocess.run(
            ["git", "config", "user.email"], cwd=self.cwd, capture_output=True, check=False
        )
        if not probe.stdout.strip():
            identity = ["-c", "user.name=agentmux demo", "-c", "user.email=demo@agentmux.invalid"]
        subprocess.run(["git", "add", "--all"], cwd=self.cwd, capture_output=True, check=False)
        proc = subprocess.run(
            ["git", *identity, "commit", "--quiet", "-m", message],
            cwd=self.cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            self.stream("⎿ nothing to commit", "33")
            return "Nothing to commit."
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=self.cwd,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        self.stream(f"⎿ Committed {head}: {message}", "32")
        return f"Committed {head}."

    def do_fail(self, _rest: str) -> str:
        """``fail``: an API-error turn, recorded as Claude Code records a 529."""
        text = (
            "API Error: 529 Overloaded. This is a server-side issue, usually temporary — "
            "try again in a moment."
        )
        self.stream(f"⎿ {text}", "31")
        self.transcript.api_error(529, text)
        return text

    def do_sleep(self, rest: str) -> str:
        """``sleep SECONDS``: work that long (Ctrl-C interrupts)."""
        seconds = max(0.0, _float(rest, 1.0))
        end = time.monotonic() + seconds
        frames = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
        i = 0
        while time.monotonic() < end:
            self.emit(
                f"\r\x1b[36m{frames[i % len(frames)]} thinking… "
                f"{max(0.0, end - time.monotonic()):4.1f}s\x1b[0m"
            )
            time.sleep(min(0.1, max(0.0, end - time.monotonic())))
            i += 1
        self.emit("\r\x1b[2K")
        self.stream(f"⎿ Worked for {seconds:g}s", "36")
        return f"Worked for {seconds:g} seconds."

    def do_spam(self, rest: str) -> str:
        """``spam N``: print N lines quickly."""
        count = max(0, min(_int(rest, 100), 1_000_000))
        colors = ("36", "32", "33", "35", "34")
        for n in range(1, count + 1):
            self.emit(
                f"\x1b[{colors[n % len(colors)]}m  spam {n}/{count}: the quick brown fox "
                "jumps over the lazy dog\x1b[0m\n"
            )
        return f"Printed {count} lines."

    def do_stream(self, rest: str) -> str:
        """``stream RATE SECONDS``: print RATE lines a second, each stamped with the time.

        The stamp is ``time.monotonic_ns()`` (one clock for every process on the machine), so a
        reader can measure how long a line took to reach its screen.
        """
        rate_text, _, seconds_text = rest.partition(" ")
        rate = max(1.0, min(_float(rate_text, 200.0), 100_000.0))
        seconds = max(0.0, _float(seconds_text, 5.0))
        start = time.monotonic()
        count = 0
        while time.monotonic() - start < seconds:
            count += 1
            self.emit(f"\x1b[36mtick {time.monotonic_ns()} {count}\x1b[0m\n")
            delay = start + count / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        return f"Streamed {count} lines."

    def do_ask(self, _rest: str) -> str:
        """``ask``: wait for the user's yes/no, as a permission prompt does."""
        self.hooks.fire("PermissionRequest", tool_name="Ask", tool_input={})
        self.emit("\x1b[1;33m? demo wants to continue. Allow? [y/n]\x1b[0m ")
        answer = self.read_key("yn")
        self.emit(f"{answer}\n")
        granted = answer == "y"
        self.stream("⎿ Allowed" if granted else "⎿ Denied", "32" if granted else "31")
        return "The user allowed it." if granted else "The user denied it."

    def _inside(self, path_text: str) -> Path | None:
        if not path_text:
            return None
        target = (self.cwd / path_text).resolve()
        root = self.cwd.resolve()
        if target == root or root not in target.parents or ".git" in target.relative_to(root).parts:
            return None
        return target

    # --- signals ----------------------------------------------------------------------------

    def on_sigint(self, _signum: int, _frame: FrameType | None) -> None:
        """Ctrl-C interrupts a turn; twice within two seconds at the prompt exits."""
        if self.working:
            raise TurnInterruptedError
        now = time.monotonic()
        if now - self.last_sigint < 2.0:
            self.emit("\n")
            raise SystemExit(130)
        self.last_sigint = now
        self.emit("\n\x1b[2m(press Ctrl-C again to exit)\x1b[0m\n" + PROMPT)


def _int(text: str, default: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        return default


def _float(text: str, default: float) -> float:
    try:
        return float(text.strip())
    except ValueError:
        return default


@contextlib.contextmanager
def terminal_mode(fd: int) -> Iterator[None]:
    """cbreak mode (keys arrive one by one, Ctrl-C still signals) with bracketed paste on."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    sys.stdout.write("\x1b[?2004h")
    sys.stdout.flush()
    try:
        yield
    finally:
        sys.stdout.write("\x1b[?2004l")
        sys.stdout.flush()
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the demo agent."""
    parser = argparse.ArgumentParser(prog="agentmux-demo", description=__doc__)
    parser.add_argument("--session-id", default=None)
    parser.add_argument(
        "--resume",
        metavar="ID",
        help="continue conversation ID: its transcript goes on, its earlier turns stay",
    )
    parser.add_argument(
        "--transcript-root",
        type=Path,
        default=Path(os.environ.get("AGENTMUX_DEMO_HOME", "~/.agentmux-demo")),
    )
    parser.add_argument("--fast", action="store_true", help="stream without delays")
    parser.add_argument("--settings", help="Claude Code-style settings JSON (its hooks are run)")
    args = parser.parse_args(argv)
    if args.resume and args.session_id and args.session_id != args.resume:
        # As Claude Code: a resumed conversation keeps its id.
        parser.error("--session-id cannot be used with --resume")
    session_id = args.resume or args.session_id or str(uuid.uuid4())
    cwd = Path.cwd()
    root = args.transcript_root.expanduser()
    if args.resume and not transcript_path(root, str(cwd), session_id).is_file():
        # What Claude Code says for an id it has no conversation for.
        sys.stderr.write(f"No conversation found with session ID: {session_id}\n")
        return 1
    transcript = Transcript(root, str(cwd), session_id)
    earlier = transcript.resume() if args.resume else None
    hooks = Hooks(args.settings, session_id, str(transcript.path), str(cwd))
    fast = args.fast or bool(os.environ.get("AGENTMUX_DEMO_FAST"))
    # A slow start, as a real agent's (tests of what happens while agentmux waits for it).
    time.sleep(float(os.environ.get("AGENTMUX_DEMO_START_DELAY") or 0))
    agent = DemoAgent(transcript, cwd, fast=fast, hooks=hooks)
    agent.turn = earlier or 0  # a resumed conversation's turns go on counting (its usage too)
    signal.signal(signal.SIGINT, agent.on_sigint)
    name = os.environ.get("AGENTMUX_SESSION", "demo")
    hooks.fire("SessionStart", source="startup" if earlier is None else "resume")
    try:
        return _loop(agent, name, cwd, resumed=None if earlier is None else (session_id, earlier))
    finally:
        hooks.fire("SessionEnd", reason="exit")


def _loop(agent: DemoAgent, name: str, cwd: Path, resumed: tuple[str, int] | None = None) -> int:
    """Read prompts and answer them until told to exit (``resumed``: the conversation's id
    and how many turns it had, when it goes on from an earlier run)."""
    with terminal_mode(agent.fd):
        agent.emit(
            f"\x1b[1;36m✻ agentmux demo agent\x1b[0m  \x1b[2msession {name} · "
            f"{cwd}\x1b[0m\n\x1b[2m  directives: write, append, commit, fail, sleep, spam, "
            "ask, exit\x1b[0m\n"
        )
        if resumed is not None:
            conversation, turns = resumed
            plural = "" if turns == 1 else "s"
            agent.emit(
                f"\x1b[36m↻ resumed conversation {conversation} · {turns} earlier "
                f"turn{plural}\x1b[0m\n"
            )
        agent.emit("\n")
        while True:
            try:
                prompt = agent.read_prompt()
            except TurnInterruptedError:
                continue
            if prompt is None:
                return 0
            if not prompt.strip():
                continue
            code = agent.run_turn(prompt)
            if code is not None:
                return code
            agent.emit("\n")
