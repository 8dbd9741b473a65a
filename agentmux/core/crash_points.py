"""Crash points: places a test stops agentmux for good, to kill it there and see what a crash at
that instant leaves behind (``AGENTMUX_TEST_PAUSE_AT=<point>``)."""

from __future__ import annotations

import os
import sys
import time


def pause_for_tests(point: str) -> None:
    """Stop here for good when ``AGENTMUX_TEST_PAUSE_AT`` names ``point``: a test kills the
    process there to see what a crash at that instant leaves behind."""
    if os.environ.get("AGENTMUX_TEST_PAUSE_AT") == point:
        sys.stderr.write(f"agentmux: paused at {point}\n")
        sys.stderr.flush()
        while True:
            time.sleep(3600)
