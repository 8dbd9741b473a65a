"""Soak: 9 demo sessions streaming output and editing files for 10 minutes under the real TUI.

The real AgentmuxApp runs in this process (headless, 160x45) with everything on: the mirror, the
conflict radar watching every worktree, the metrics refresh, hooks. Every ~30 s each agent gets a
prompt (``stream`` lines for 20 s, then append to a file its neighbour also edits), so output,
file saves, conflicts and hook events never stop. Reported:

- agentmux's memory (RSS of this process) after the warm-up, each minute, and at the end;
- frame lag: the time from a line being written (stamped with the system-wide monotonic clock) to
  the first frame that draws it, its p50/p99/max, and how many drawn lines lagged over a second;
- state changes: prompts sent, turns started and finished as the agents' hooks reported them.

    .venv/bin/python bench/bench_soak.py [--minutes 10] [--rate 60] [--record [PATH]]

``--record`` also writes the figures to ``bench/results/bench_soak.json`` (see ``bench/record.py``).
Memory counts as flat when the RSS at the end is within 10% of the RSS after the first minute
(the warm-up, while scrollback, caches and the radar's state fill up).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import psutil
from drawn_stamps import stamped_rows_drawn
from isolation import clean_up, machine, scratch_repo
from record import Baseline, Recorder, Target, add_option, figure, verdict

BENCH = "bench_soak"
#: RSS at the end over RSS after the first minute; the worst frame lag, ms.
FLAT = Target("<=", 1.1)
LAG = Target("<", 1000)
COLS, ROWS = 160, 45
SESSIONS = 9
PERIOD = 30.0


async def soak(repo: Path, minutes: float, rate: float) -> dict[str, object]:
    from agentmux.core.sessions.manager import SessionManager  # noqa: PLC0415 - after env is set
    from agentmux.ui.app import AgentmuxApp  # noqa: PLC0415
    from agentmux.ui.pane_view import PaneView  # noqa: PLC0415

    manager = SessionManager.open(repo)
    for n in range(SESSIONS):
        manager.create(agent="demo", name=f"s{n}")
    # Memory the bench itself holds stays flat (so RSS is agentmux's): a pane's lines appear in
    # order, so a line is new when its stamp is past the newest seen; lags go in 10 ms buckets.
    newest: dict[str, int] = {}
    buckets: dict[int, int] = {}

    def on_row(pane: PaneView, stamp: int, _tick: str, now: int) -> None:
        if stamp > newest.get(pane.record.id, 0):
            newest[pane.record.id] = stamp
            bucket = (now - stamp) // 10_000_000
            buckets[bucket] = buckets.get(bucket, 0) + 1

    me = psutil.Process()
    rss: list[tuple[float, float]] = []
    sent = 0
    app = AgentmuxApp(manager)
    with stamped_rows_drawn(on_row):
        async with app.run_test(size=(COLS, ROWS)) as pilot:
            while len(app.grid.panes) < SESSIONS:
                await pilot.pause(0.1)
            await pilot.pause(5.0)  # mirrored, radar and metrics running
            start = time.monotonic()
            rss.append((0.0, me.memory_info().rss / 2**20))
            next_sample = 60.0
            round_no = 0
            while (elapsed := time.monotonic() - start) < minutes * 60:
                for n in range(SESSIONS):
                    prompt = (
                        f"stream {rate:g} 20\nappend shared-{n // 2}.txt round {round_no} by s{n}"
                    )
                    manager.send(f"s{n}", prompt.encode())
                    sent += 1
                round_no += 1
                deadline = min(elapsed + PERIOD, minutes * 60)
                while (elapsed := time.monotonic() - start) < deadline:
                    await pilot.pause(1.0)
                    if elapsed >= next_sample:
                        rss.append((elapsed, me.memory_info().rss / 2**20))
                        next_sample += 60.0
            await pilot.pause(25.0)  # the last turns finish and are reported
            rss.append((time.monotonic() - start, me.memory_info().rss / 2**20))
    started = finished = 0
    for n in range(SESSIONS):
        record = manager.get(f"s{n}")
        events = [
            e["data"]["event"] for e in manager.store.events(record.id, kinds=("agent_event",))
        ]
        started += events.count("UserPromptSubmit")
        finished += events.count("Stop")
    manager.tmux.kill_server()
    return {"rss": rss, "lags": buckets, "sent": sent, "started": started, "finished": finished}


def quantile(buckets: dict[int, int], q: float) -> float:
    """The q-quantile, in seconds, of lags kept as counts per 10 ms bucket."""
    total = sum(buckets.values())
    running = 0
    for bucket in sorted(buckets):
        running += buckets[bucket]
        if running >= q * total:
            return (bucket + 1) / 100
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=60.0, help="lines a second per agent")
    add_option(parser, BENCH)
    args = parser.parse_args()
    recorder = Recorder(BENCH, args)
    scratch = Path(tempfile.mkdtemp(prefix="amx-soak-", dir="/dev/shm"))
    repo, sockets = scratch_repo(scratch)
    try:
        result = asyncio.run(soak(repo, args.minutes, args.rate))
    finally:
        clean_up(scratch, sockets)
    print(machine())
    print(
        f"soak: {SESSIONS} demo sessions, {args.minutes:g} min, a prompt each every {PERIOD:g} s "
        f"({args.rate:g} lines/s for 20 s, then a file edit shared with a neighbour)"
    )
    rss = result["rss"]
    assert isinstance(rss, list)
    print("RSS (MiB) by minute: " + ", ".join(f"{t / 60:.0f}m {m:.0f}" for t, m in rss))
    print(
        f"RSS start {rss[0][1]:.0f} MiB, end {rss[-1][1]:.0f} MiB ({rss[-1][1] / rss[0][1]:.2f}x)"
    )
    warm = [(t, m) for t, m in rss if t >= 60.0]
    if len(warm) >= 2:  # a run shorter than two minutes has no memory figure after warm-up
        flat = recorder.add(
            figure(
                "memory (RSS) at the end, after the first minute's warm-up",
                warm[-1][1] / warm[0][1],
                "x",
                baseline=Baseline("RSS after the first minute", round(warm[0][1]), "MiB"),
                target=FLAT,
            )
        )
        print(f"RSS after warm-up {warm[0][1]:.0f} MiB, end {warm[-1][1]:.0f} MiB; {verdict(flat)}")
    lags = result["lags"]
    assert isinstance(lags, dict)
    drawn = sum(lags.values())
    over = sum(count for bucket, count in lags.items() if bucket >= 100)
    worst = recorder.add(
        figure(
            "worst frame lag, line written -> drawn", quantile(lags, 1.0) * 1000, "ms", target=LAG
        )
    )
    print(
        f"frame lag over {drawn} drawn lines (10 ms buckets): p50 {quantile(lags, 0.5) * 1000:.0f}"
        f" ms, p99 {quantile(lags, 0.99) * 1000:.0f} ms, max {quantile(lags, 1.0) * 1000:.0f} ms;"
        f" over 1 s: {over} ({verdict(worst)})"
    )
    sent, started, finished = result["sent"], result["started"], result["finished"]
    assert isinstance(sent, int)
    assert isinstance(started, int)
    assert isinstance(finished, int)
    all_sent = Target("==", sent)
    for what, count in (("started", started), ("finished", finished)):
        fig = recorder.add(
            figure(
                f"turns {what}, as the agents' hooks reported them", count, "turns", target=all_sent
            )
        )
        print(f"turns {what}: {count} of {sent} prompts sent; {verdict(fig)}")
    for t, m in rss:
        recorder.detail(f"RSS MiB at {t:.0f} s", m)
    for name, value in (
        ("drawn lines", drawn),
        ("lag p50 ms", quantile(lags, 0.5) * 1000),
        ("lag p99 ms", quantile(lags, 0.99) * 1000),
        ("lines over 1 s", over),
        ("prompts sent", sent),
    ):
        recorder.detail(name, value)
    if args.record:
        recorder.write(args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
