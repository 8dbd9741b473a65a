"""What a verb that prints only JSON loads: ``ls --json`` is what a script, the TUI's host links
and every other agentmux asking a host run most, so it starts without the libraries only other
verbs need (the settings' pydantic models, rich, psutil, the ssh and hosts modules).

The figure itself (the fleet listing's time) is in ``bench/bench_remote_fleet.py``; this test
keeps the imports that figure depends on from creeping back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import run_cli

HEAVY = ("pydantic", "rich", "psutil", "textual", "agentmux.core.config.hosts")

PROBE = """
import json, sys
from agentmux.cli import main
code = main(sys.argv[1:])
sys.stdout.flush()
loaded = sorted({name.split(".")[0] for name in sys.modules} | set(sys.modules))
print("\\n" + json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def loaded_by(repo: Path, *args: str) -> tuple[list[dict[str, Any]], set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    return rows, set(report["loaded"])


def test_ls_json_loads_no_heavy_library(repo: Path) -> None:
    assert run_cli(repo, "new", "--agent", "demo", "--name", "a1").code == 0
    rows, loaded = loaded_by(repo, "ls", "--json")
    assert [row["name"] for row in rows] == ["a1"]
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_plain_listing_still_loads_rich(repo: Path) -> None:
    # The probe can tell: the table is rich's, so a listing for a person loads it.
    assert run_cli(repo, "new", "--agent", "demo", "--name", "a1").code == 0
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "ls"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert "a1" in done.stdout
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert "rich" in report["loaded"]
