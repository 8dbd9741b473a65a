"""Pinned npm command-line tools the tests run for real: Claude Code, Codex and ccusage.

Each is installed once per machine into its own prefix under ``$AGENTMUX_NPM_CACHE`` (default
``~/.cache/agentmux/npm``), so a test run never touches a global npm install and the versions the
tests name are the versions that ran.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

#: The versions the fixtures were produced with and the agreement tests run against.
PINNED: dict[str, tuple[str, str]] = {
    "claude": ("@anthropic-ai/claude-code", "2.1.330"),
    "codex": ("@openai/codex", "0.169.0"),
    # 20.0.26's launcher needs @ccusage/ccusage-linux-x64@20.0.26, which the registry does not
    # have; 20.0.24 is the newest release whose native binary for this platform is published.
    "ccusage": ("ccusage", "20.0.24"),
}


class NpmToolError(RuntimeError):
    """npm is not installed, or the install of a pinned tool failed."""


def unavailable(reason: str) -> None:
    """Skip a test whose pinned tool cannot be had here; in CI, where it must run, fail it."""
    import pytest

    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the real-CLI tests)")
    pytest.skip(reason)


def cache_root() -> Path:
    """Where pinned npm tools are installed."""
    configured = os.environ.get("AGENTMUX_NPM_CACHE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "agentmux" / "npm"


def npm_tool(binary: str) -> Path:
    """The path of a pinned tool's executable, installing it first if needed."""
    package, version = PINNED[binary]
    prefix = cache_root() / f"{package.replace('/', '+')}@{version}"
    exe = prefix / "node_modules" / ".bin" / binary
    if exe.exists():
        return exe
    npm = shutil.which("npm")
    if npm is None:
        raise NpmToolError("npm is not installed; the real-CLI tests need Node.js and npm.")
    prefix.mkdir(parents=True, exist_ok=True)
    with open(prefix / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not exe.exists():
            done = subprocess.run(
                [
                    npm,
                    "install",
                    "--no-save",
                    "--no-audit",
                    "--no-fund",
                    "--include=optional",  # ccusage's native binary is an optional dependency
                    "--prefix",
                    str(prefix),
                    f"{package}@{version}",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0 or not exe.exists():
                raise NpmToolError(f"npm install {package}@{version} failed: {done.stderr[-2000:]}")
    return exe


def need(binary: str) -> str:
    """The pinned tool's path; a test that cannot have it is skipped (failed in CI)."""
    try:
        return str(npm_tool(binary))
    except NpmToolError as error:
        unavailable(str(error))
        raise
