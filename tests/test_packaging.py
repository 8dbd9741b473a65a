"""The built wheel carries everything agentmux loads at run time (themes, tmux.conf)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.mark.slow
def test_wheel_installs_in_a_clean_venv_and_loads_its_themes(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(dist.glob("agentmux-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for theme in ("dark", "light", "high-contrast"):
        assert f"agentmux/themes/{theme}.toml" in names
    assert "agentmux/core/tmux/tmux.conf" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "from agentmux.ui.themes import load_themes; t = load_themes(); "
        "print(sorted(t.themes), t.problems)"
    )
    out = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    assert "agentmux-dark" in out and "agentmux-light" in out
    assert "agentmux-high-contrast" in out and "[]" in out.split("]", 1)[1]
    version = subprocess.run(
        [str(venv / "bin" / "agentmux"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert version.startswith("agentmux ")
