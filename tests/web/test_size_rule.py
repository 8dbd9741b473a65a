"""The window-size rule between cockpits: the one used most recently sets the sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentmux.ui.size_rule import SizeRule


def test_the_latest_used_cockpit_sets_the_sizes(tmp_path: Path) -> None:
    marker = tmp_path / "sock.sizes"
    terminal, browser = SizeRule(marker), SizeRule(marker)
    watcher = SizeRule(marker, passive=True)
    assert terminal.sets_sizes() and browser.sets_sizes()  # nobody claimed yet
    assert terminal.claim()  # opened: the latest
    assert not terminal.claim()  # used again: nothing to take over
    assert terminal.sets_sizes() and not browser.sets_sizes()
    assert browser.claim()
    assert browser.sets_sizes() and not terminal.sets_sizes()
    # A read-only cockpit never sets sizes, whatever it does.
    assert not watcher.claim() and not watcher.sets_sizes() and not watcher.claim_if_free()
    assert not terminal.claim_if_free()  # the browser holds them
    browser.release()
    assert not marker.exists()
    assert terminal.claim_if_free()
    assert not browser.claim_if_free()
    assert terminal.sets_sizes() and not browser.sets_sizes()


def test_a_killed_cockpit_does_not_keep_the_sizes(tmp_path: Path) -> None:
    marker = tmp_path / "sock.sizes"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    marker.write_text(f"{dead}-abcd1234")
    cockpit = SizeRule(marker)
    assert cockpit.sets_sizes()
    assert cockpit.claim_if_free()
    assert marker.read_text() == cockpit.me
