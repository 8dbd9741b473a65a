"""The rules every test runs under: failing agent CLI shims on PATH, no socket dirs left in /tmp."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import run_cli
from tests.hygiene import SHIMS


def test_claude_and_codex_on_path_are_the_failing_shims(repo: Path) -> None:
    for name in ("claude", "codex"):
        assert shutil.which(name) == str(SHIMS / name)
        done = subprocess.run([name, "--version"], capture_output=True, text=True, check=False)
        assert done.returncode == 127
        assert done.stderr == f"not the real {name}: tests must use the pinned npm CLI\n"
    # Subprocesses see the shims too: agentmux itself finds the shim, not an installed claude.
    doctor = run_cli(repo, "doctor")
    assert f"ok   agent claude: {SHIMS / 'claude'}" in doctor.out.splitlines()
