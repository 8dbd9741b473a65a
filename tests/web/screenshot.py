"""Take the screenshot in docs/browser.md: ``agentmux demo``'s four sessions at work, in the
cockpit served by ``agentmux serve``, in headless Chromium.

    .venv/bin/python -m tests.web.screenshot docs/images/browser-cockpit.png

Everything runs in a scratch directory with its own agentmux state and tmux socket; its tmux
server (and so its demo agents) is ended afterwards.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.web.browser import chromium, open_cockpit, until_screen
from tests.web.served import start_serve

DEMO = ("greeter", "docs", "rival", "asker")


async def shoot(url: str, out: Path) -> None:
    async with chromium() as browser:
        page = await open_cockpit(browser, url)
        await until_screen(page, lambda t: all(f" {n} ·" in t for n in DEMO), "the demo grid")
        await asyncio.sleep(4)  # the agents at work
        await page.screenshot(path=str(out))


def main(out: Path) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="agentmux-shot-"))
    for var, sub in (("XDG_DATA_HOME", "d"), ("XDG_CONFIG_HOME", "c"), ("XDG_STATE_HOME", "s")):
        os.environ[var] = str(scratch / sub)
    os.environ["AGENTMUX_SOCKET_DIR"] = str(scratch / "t")
    repo = scratch / "demo"
    demo = [sys.executable, "-m", "agentmux", "demo", "--dir", str(repo), "--no-tui"]
    subprocess.run(demo, check=True, capture_output=True)
    served = start_serve(repo)
    try:
        time.sleep(1)
        asyncio.run(shoot(served.url, out))
    finally:
        served.stop()
        for socket in (scratch / "t").glob("*.sock"):
            subprocess.run(["tmux", "-S", str(socket), "kill-server"], check=False)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
