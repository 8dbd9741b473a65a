"""The whole TUI with nine busy panes on another host, against the same nine panes local.

Two repositories in one run: one with nine local demo sessions, one with nine demo sessions on
``build1`` (this machine seen through the ssh tests' sshd, ``tests/core/host/ssh/sshd.py``: a
throw-away OpenSSH server on 127.0.0.1 logging in as a second local user, with its own agentmux,
state store and tmux server). For each, the real AgentmuxApp runs in this process (headless,
160x45, as ``bench/bench_tui.py`` runs it) while every agent prints ``--rate`` lines a second
stamped with the system-wide monotonic clock (``agentmux send NAME "stream RATE SECONDS"``, the
nine sends side by side, through the host for the remote ones; every agent streams through the
whole window), and:

- latency: from a line's stamp to the first frame that draws it (``PaneView.render_lines``),
  for the focused pane and the others; lines that scroll past between frames are counted, not
  measured;
- CPU: of this process (the TUI: its control-mode readers, mirror, compositor) over the busy
  window, and as a detail with its child processes (the remote side's ssh channel clients).

Targets (issue 14): the remote focused pane's p95 under 80 ms; the TUI's CPU with nine remote
panes at most 1.2x with nine local ones. Over loopback there is no network delay: add the
host's round trip for a real one. The host's own work (its tmux, sshd, the agents) runs on this
machine's two cores too; it is not counted in the TUI's figure.

    sudo .venv/bin/python bench/bench_remote_tui.py [--seconds 10] [--rate 200] [--record [PATH]]

``--record`` also writes the figures to ``bench/results/bench_remote_tui.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
from drawn_stamps import stamped_rows_drawn
from isolation import clean_up, isolate, machine
from record import Baseline, Recorder, Target, add_option, figure, verdict
from remote_hosts import add_host, agentmux, install_fast_agentmux, make_repo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH = "bench_remote_tui"
COLS, ROWS = 160, 45
SESSIONS = 9
FOCUSED = Target("<", 80)
CPU_RATIO = Target("<=", 1.2)
#: Seconds each agent streams beyond the window (the sends and the settling before it).
STREAM_SLACK = 20.0


def stop_all(repo: Path, names: list[str]) -> None:
    """Stop the sessions' agents (a host's tmux server ends with its last session)."""
    for name in names:
        agentmux(repo, "stop", name)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(proc: psutil.Process, children: bool) -> float:
    times = proc.cpu_times()
    own = times.user + times.system
    if not children:
        return own
    total = own + times.children_user + times.children_system
    for child in proc.children(recursive=True):
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return total


async def busy_tui(repo: Path, names: list[str], seconds: float, rate: float) -> dict[str, Any]:
    """The real app on ``repo`` while its nine sessions print: latencies and CPU."""
    from agentmux.core.sessions.manager import SessionManager  # noqa: PLC0415 - after isolate
    from agentmux.ui.app import AgentmuxApp  # noqa: PLC0415
    from agentmux.ui.pane_view import PaneView  # noqa: PLC0415

    manager = SessionManager.open(repo)
    seen: set[tuple[str, str]] = set()
    focused: list[float] = []
    others: list[float] = []

    def on_row(pane: PaneView, stamp: int, tick: str, now: int) -> None:
        key = (pane.record.id, tick)
        if key not in seen:
            seen.add(key)
            (focused if pane.has_class("-focused") else others).append((now - stamp) / 1e6)

    app = AgentmuxApp(manager, radar=False)
    me = psutil.Process()
    with stamped_rows_drawn(on_row):
        async with app.run_test(size=(COLS, ROWS)) as pilot:
            deadline = time.monotonic() + 60
            while len(app.grid.panes) < SESSIONS and time.monotonic() < deadline:
                await pilot.pause(0.1)
            if len(app.grid.panes) < SESSIONS:
                raise SystemExit(f"the TUI showed {len(app.grid.panes)} panes, not {SESSIONS}")
            await pilot.pause(4.0)  # windows resized, screens mirrored
            # Side by side, and streaming well past the window: a send to a host is a whole
            # agentmux run there (about a second here), and sent one after the other the first
            # agents would be done before the window opened.
            sent = time.monotonic()
            stream = f"stream {rate:g} {seconds + STREAM_SLACK:g}"
            await asyncio.gather(
                *(asyncio.to_thread(agentmux, repo, "send", name, stream) for name in names)
            )
            sending = time.monotonic() - sent
            if sending > STREAM_SLACK - 2:
                raise SystemExit(f"sending took {sending:.1f} s: the streams would end early")
            await pilot.pause(1.0)
            seen.clear()
            focused.clear()
            others.clear()
            before = (cpu_seconds(me, False), cpu_seconds(me, True))
            await pilot.pause(seconds)
            after = (cpu_seconds(me, False), cpu_seconds(me, True))
    manager.close()
    return {
        "focused": focused,
        "others": others,
        "drawn": len(seen),
        "cpu": 100 * (after[0] - before[0]) / seconds,
        "cpu_children": 100 * (after[1] - before[1]) / seconds,
        "sending": sending,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    add_option(parser, BENCH)
    args = parser.parse_args()
    recorder = Recorder(BENCH, args)

    from tests.core.host.ssh.sshd import running_sshd  # noqa: PLC0415 - after the path

    scratch = Path(tempfile.mkdtemp(prefix="amx-remote-tui-"))
    sockets = isolate(scratch)
    names = [f"p-{n}" for n in range(1, SESSIONS + 1)]
    try:
        with running_sshd(scratch / "sshd") as server:
            fast = install_fast_agentmux(server)
            here = make_repo(scratch / "here")
            agentmux(here, "new", "--agent", "demo", "--count", str(SESSIONS), "--name", "p")
            local = asyncio.run(busy_tui(here, names, args.seconds, args.rate))
            stop_all(here, names)
            there = make_repo(scratch / "there")
            add_host(there, "build1", server, fast, server.remote_dir / "clones")
            agentmux(
                there,
                "new",
                "--host",
                "build1",
                "--agent",
                "demo",
                "--count",
                str(SESSIONS),
                "--name",
                "p",
            )
            try:
                remote = asyncio.run(busy_tui(there, names, args.seconds, args.rate))
            finally:
                stop_all(there, names)
    finally:
        clean_up(scratch, sockets)

    print(machine())
    print(
        f"load: {SESSIONS} demo sessions x {args.rate:g} lines/s for {args.seconds:g} s; "
        f"terminal {COLS}x{ROWS}; local, then on host build1 over loopback ssh"
    )
    for side, found in (("local", local), ("remote", remote)):
        for label in ("focused", "others"):
            values = [float(v) for v in found[label]]
            if not values:
                raise SystemExit(f"no {label} line of the {side} panes was drawn")
            print(
                f"{side:6} {label:8} p50 {statistics.median(values):6.1f} ms  "
                f"p95 {percentile(values, 0.95):6.1f} ms  (n={len(values)})"
            )
            recorder.detail(f"{side} {label} p50 ms", statistics.median(values))
            recorder.detail(f"{side} {label} p95 ms", percentile(values, 0.95))
        print(
            f"{side:6} TUI CPU {found['cpu']:.1f}% of a core "
            f"({found['cpu_children']:.1f}% with its child processes); "
            f"{found['drawn']} stamped lines drawn; the nine sends took {found['sending']:.1f} s"
        )
        recorder.detail(f"{side} TUI CPU %", found["cpu"])
        recorder.detail(f"{side} TUI CPU with children %", found["cpu_children"])
    remote_focused = percentile([float(v) for v in remote["focused"]], 0.95)
    local_focused = percentile([float(v) for v in local["focused"]], 0.95)
    fig = recorder.add(
        figure(
            "remote focused pane, line written -> drawn, p95",
            remote_focused,
            "ms",
            target=FOCUSED,
        )
    )
    print(f"remote focused pane p95 {remote_focused:.1f} ms: {verdict(fig)}")
    recorder.add(
        figure(
            "remote focused pane p95 vs local",
            remote_focused / local_focused,
            "x",
            baseline=Baseline("local focused pane p95, same run", round(local_focused, 1), "ms"),
        )
    )
    ratio = remote["cpu"] / local["cpu"]
    cpu_fig = recorder.add(
        figure(
            "TUI CPU, nine busy remote panes vs nine local",
            ratio,
            "x",
            baseline=Baseline(
                "TUI with nine busy local panes, same run", round(local["cpu"], 1), "% of a core"
            ),
            target=CPU_RATIO,
        )
    )
    print(f"TUI CPU remote/local: {ratio:.2f}x: {verdict(cpu_fig)}")
    if args.record:
        recorder.write(args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
