"""The pane wrapper: quoting, environment, exit-status recording, and its decoding."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from agentmux.core.tmux.launch import pane_command, read_exit, write_env_file


def run_wrapper(tmp_path: Path, argv: list[str], env: dict[str, str]) -> tuple[int, Path]:
    status = tmp_path / "exit"
    tick = tmp_path / "tick.sh"
    tick.write_text(f"echo ticked > {tmp_path / 'ticked'}\n")
    env_file = tmp_path / "env"
    write_env_file(env_file, env)
    command = pane_command(argv, env_file, status, tick)
    assert command[:2] == ["sh", "-c"], "never the user's login shell"
    proc = subprocess.run(
        command,
        cwd=tmp_path,
        check=False,
        env={"PATH": "/usr/bin:/bin", "TMUX": "x", "CLAUDECODE": "1"},
    )
    return proc.returncode, status


def test_exit_status_is_recorded_and_passed_through(tmp_path: Path) -> None:
    code, status = run_wrapper(tmp_path, ["sh", "-c", "exit 7"], {})
    assert code == 7
    assert read_exit(status) == (7, None)


def test_death_by_signal_is_decoded(tmp_path: Path) -> None:
    code, status = run_wrapper(tmp_path, ["sh", "-c", "kill -TERM $$"], {})
    assert code == 143
    assert read_exit(status) == (143, 15)


def test_arguments_and_env_are_data_not_shell(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker}); `touch {marker}` 'quote' \"dq\" \\ \n newline"
    code, _ = run_wrapper(
        tmp_path,
        [
            "sh",
            "-c",
            'printf "%s|%s|%s|%s" "$1" "$AGENTMUX_SESSION" "${TMUX-unset}" '
            '"${CLAUDECODE-unset}" > out.txt',
            "argv0",
            hostile,
        ],
        {
            "AGENTMUX_SESSION": hostile,
            "PATH": "/usr/bin:/bin",
            "CLAUDECODE": "1",
            "BAD-NAME": "skipped",
        },
    )
    assert code == 0
    assert (tmp_path / "out.txt").read_text() == f"{hostile}|{hostile}|unset|unset"
    assert not marker.exists()
    assert not (tmp_path / "env").exists(), "the environment file is deleted once read"


def test_env_file_is_private(tmp_path: Path) -> None:
    write_env_file(tmp_path / "env", {"SECRET": "s3cret"})
    assert oct((tmp_path / "env").stat().st_mode & 0o777) == "0o600"


def test_tick_runs_after_the_agent_exits(tmp_path: Path) -> None:
    run_wrapper(tmp_path, ["true"], {})
    ticked = tmp_path / "ticked"
    deadline = time.monotonic() + 5
    while not ticked.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ticked.exists()


def test_unreadable_status_is_unknown(tmp_path: Path) -> None:
    assert read_exit(tmp_path / "missing") is None
    (tmp_path / "garbage").write_text("not a number")
    assert read_exit(tmp_path / "garbage") is None
