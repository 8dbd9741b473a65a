"""TUI latency and CPU, with 9 demo sessions each printing ~200 lines a second.

Latency: the demo agents print lines stamped with the system-wide monotonic clock; the real
AgentmuxApp runs in this process (headless, 160x45) with a hook on ``PaneView.render_lines``, and a
line's latency is the time from its stamp to the first frame that draws it. Lines that scroll past
between two frames never reach the screen; they are counted, not measured.

CPU: the real `agentmux` TUI, in a pseudo-terminal (`script`) of 160x45, idle and busy; next to a
plain `tmux attach` client, in the same kind of terminal, showing a window of nine panes that run
the same demo agents with the same load, in the same run. Reported for the client process alone
and with its tmux server, as % of one core.

    .venv/bin/python bench/bench_tui.py [--seconds 10] [--rate 200] [--record [PATH]]

``--record`` also writes the figures to ``bench/results/bench_tui.json`` (see ``bench/record.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from drawn_stamps import stamped_rows_drawn
from isolation import clean_up, machine, scratch_repo
from record import Baseline, Recorder, Target, add_option, figure, verdict

BENCH = "bench_tui"
COLS, ROWS = 160, 45
SESSIONS = 9
#: Latency targets, line written -> drawn, p95 in ms.
FOCUSED = Target("<", 50)
OTHERS = Target("<", 250)
#: Idle CPU of the TUI, % of one core; busy CPU, agentmux over plain tmux, servers counted.
IDLE = Target("<", 1)
BUSY = Target("<=", 2)


def setup(scratch: Path) -> Path:
    return scratch_repo(scratch)[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure_latency(repo: Path, seconds: float, rate: float) -> dict[str, object]:
    from agentmux.core.sessions.manager import SessionManager  # noqa: PLC0415 - after env is set
    from agentmux.ui.app import AgentmuxApp  # noqa: PLC0415
    from agentmux.ui.pane_view import PaneView  # noqa: PLC0415

    manager = SessionManager.open(repo)
    for n in range(SESSIONS):
        manager.create(agent="demo", name=f"s{n}")
    seen: set[tuple[str, str]] = set()
    focused_ms: list[float] = []
    others_ms: list[float] = []

    def on_row(pane: PaneView, stamp: int, tick: str, now: int) -> None:
        key = (pane.record.id, tick)
        if key not in seen:
            seen.add(key)
            target = focused_ms if pane.has_class("-focused") else others_ms
            target.append((now - stamp) / 1e6)

    app = AgentmuxApp(manager)
    with stamped_rows_drawn(on_row):
        async with app.run_test(size=(COLS, ROWS)) as pilot:
            deadline = time.monotonic() + 20
            while len(app.grid.panes) < SESSIONS and time.monotonic() < deadline:
                await pilot.pause(0.1)
            await pilot.pause(2.0)  # windows resized, screens mirrored
            for n in range(SESSIONS):
                manager.send(f"s{n}", f"stream {rate:g} {seconds:g}".encode())
            me = psutil.Process()
            before = me.cpu_times()
            await pilot.pause(seconds)
            after = me.cpu_times()
            app_cpu = 100 * ((after.user + after.system) - (before.user + before.system)) / seconds
            await pilot.pause(1.0)
            frames = sum(p.frames for p in app.grid.panes.values())
    printed = int(rate * seconds) * SESSIONS
    manager.tmux.kill_server()
    # Gone for good, not lost: the TUI of the CPU phase would offer to resume lost sessions (a
    # dialog that swallows its "q") and list them before its own.
    for n in range(SESSIONS):
        manager.remove(f"s{n}", force=True)
    return {
        "focused": focused_ms,
        "others": others_ms,
        "printed": printed,
        "shown": len(seen),
        "app_cpu": app_cpu,
        "frames": frames,
    }


def in_terminal(command: str, record: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Run ``command`` in a pseudo-terminal of COLS x ROWS; what it draws goes to ``record``."""
    return subprocess.Popen(
        ["script", "-qfec", f"stty cols {COLS} rows {ROWS}; exec {command}", str(record)],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def find(parent: subprocess.Popen[bytes], needle: str, timeout: float = 20) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(parent.pid).children(recursive=True):
            try:
                if needle in " ".join(child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.1)
    raise RuntimeError(f"no process matching {needle!r}")


def tmux_server(socket: Path) -> psutil.Process:
    out = subprocess.run(
        ["tmux", "-S", str(socket), "display-message", "-p", "#{pid}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return psutil.Process(int(out))


def cpu_percent(procs: list[psutil.Process], seconds: float, drawn: Path) -> list[float]:
    """% of one core for each of ``procs``, then KiB/s the terminal received, over a window."""
    before = [p.cpu_times() for p in procs]
    size = drawn.stat().st_size
    time.sleep(seconds)
    after = [p.cpu_times() for p in procs]
    cpu = [
        100 * ((a.user + a.system) - (b.user + b.system)) / seconds
        for a, b in zip(after, before, strict=True)
    ]
    return [*cpu, (drawn.stat().st_size - size) / 1024 / seconds]


def measure_cpu(repo: Path, seconds: float, rate: float) -> dict[str, list[float]]:
    from agentmux.core.sessions.manager import SessionManager  # noqa: PLC0415

    manager = SessionManager.open(repo)
    for n in range(SESSIONS):
        manager.create(agent="demo", name=f"c{n}")
    time.sleep(2)
    drawn = Path(os.environ["AGENTMUX_SOCKET_DIR"]) / "agentmux.tty"
    tui = in_terminal(f"{sys.executable} -m agentmux", drawn, repo)
    app = find(tui, "-m agentmux")
    time.sleep(4)  # mirrored and settled
    server = tmux_server(manager.tmux.socket_path)
    results: dict[str, list[float]] = {"agentmux idle": cpu_percent([app, server], seconds, drawn)}
    for n in range(SESSIONS):
        manager.send(f"c{n}", f"stream {rate:g} {seconds + 2:g}".encode())
    time.sleep(1)
    results["agentmux busy"] = cpu_percent([app, server], seconds, drawn)
    tui.stdin.write(b"q")  # type: ignore[union-attr]
    tui.stdin.flush()  # type: ignore[union-attr]
    tui.wait(10)
    manager.tmux.kill_server()

    # The baseline: one tmux window of nine panes running the same agents, one plain client.
    socket = Path(os.environ["AGENTMUX_SOCKET_DIR"]) / "plain.sock"
    demo = f"{sys.executable} -m agentmux.demo_agent --fast"
    tmux = ["tmux", "-f", "/dev/null", "-S", str(socket)]
    subprocess.run(
        [
            *tmux,
            "new-session",
            "-d",
            "-s",
            "plain",
            "-x",
            str(COLS),
            "-y",
            str(ROWS - 1),
            "-c",
            str(repo),
            demo,
        ],
        check=True,
    )
    for _ in range(SESSIONS - 1):
        subprocess.run([*tmux, "split-window", "-t", "plain", "-c", str(repo), demo], check=True)
        subprocess.run([*tmux, "select-layout", "-t", "plain", "tiled"], check=True)
    time.sleep(2)
    plain_drawn = socket.with_name("plain.tty")
    client = in_terminal(f"tmux -S {socket} attach -t plain", plain_drawn, repo)
    attach = find(client, "attach -t plain")
    plain_server = tmux_server(socket)
    time.sleep(3)
    results["tmux idle"] = cpu_percent([attach, plain_server], seconds, plain_drawn)
    panes = subprocess.run(
        [*tmux, "list-panes", "-t", "plain", "-F", "#{pane_id}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for pane in panes:
        subprocess.run(
            [*tmux, "send-keys", "-t", pane, f"stream {rate:g} {seconds + 2:g}", "Enter"],
            check=True,
        )
    time.sleep(1)
    results["tmux busy"] = cpu_percent([attach, plain_server], seconds, plain_drawn)
    subprocess.run([*tmux, "kill-server"], check=False)
    client.wait(10)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    add_option(parser, BENCH)
    args = parser.parse_args()
    recorder = Recorder(BENCH, args)
    scratch = Path(tempfile.mkdtemp(prefix="amx-bench-tui-"))
    sockets = setup(scratch)
    try:
        lat = asyncio.run(measure_latency(scratch / "repo", args.seconds, args.rate))
        cpu = measure_cpu(scratch / "repo", args.seconds, args.rate)
    finally:
        clean_up(scratch, sockets)

    print(machine())
    print(
        f"load: {SESSIONS} demo sessions x {args.rate:g} lines/s for {args.seconds:g} s; "
        f"terminal {COLS}x{ROWS}"
    )
    focused = [float(v) for v in lat["focused"]]  # type: ignore[attr-defined]
    others = [float(v) for v in lat["others"]]  # type: ignore[attr-defined]
    for label, values, target in (
        ("focused pane", focused, FOCUSED),
        ("other panes", others, OTHERS),
    ):
        if values:
            p50, p95 = statistics.median(values), percentile(values, 0.95)
            fig = recorder.add(
                figure(f"latency, line written -> drawn, {label}, p95", p95, "ms", target=target)
            )
            recorder.detail(f"latency {label} p50 ms", p50)
            recorder.detail(f"latency {label} lines", len(values))
            print(
                f"latency {label:13} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  "
                f"(n={len(values)}; {verdict(fig)})"
            )
    print(
        f"lines printed {lat['printed']}, drawn {lat['shown']} (the rest scrolled past "
        f"between frames); frames {lat['frames']}"
    )
    recorder.detail("lines printed", float(lat["printed"]))  # type: ignore[arg-type]
    recorder.detail("lines drawn", float(lat["shown"]))  # type: ignore[arg-type]
    print(f"in-process app while busy (latency run): {lat['app_cpu']:.1f}% of a core")
    print(f"{'CPU, % of one core':20} {'client':>8} {'server':>8} {'both':>8} {'drawn KiB/s':>12}")
    for key, values in cpu.items():
        print(
            f"{key:20} {values[0]:8.1f} {values[1]:8.1f} {values[0] + values[1]:8.1f} "
            f"{values[2]:12.1f}"
        )
        recorder.detail(f"{key} client %", values[0])
        recorder.detail(f"{key} server %", values[1])
        recorder.detail(f"{key} drawn KiB/s", values[2])
    # A tmux client only relays what its server drew, so the client alone is no baseline: each
    # side is counted with its tmux server.
    plain_busy = sum(cpu["tmux busy"][:2])
    busy_all = sum(cpu["agentmux busy"][:2]) / max(plain_busy, 0.01)
    idle = cpu["agentmux idle"][0]
    busy = recorder.add(
        figure(
            "busy CPU, agentmux TUI with its tmux server",
            busy_all,
            "x",
            baseline=Baseline(
                "plain `tmux attach` with its tmux server", round(plain_busy, 1), "% of a core"
            ),
            target=BUSY,
        )
    )
    print(f"busy ratio agentmux/plain tmux, servers counted: {busy_all:.2f}x; {verdict(busy)}")
    idle_fig = recorder.add(
        figure("idle CPU of the agentmux TUI", idle, "% of a core", target=IDLE)
    )
    print(f"idle agentmux CPU: {idle:.2f}% of a core; {verdict(idle_fig)}")
    if args.record:
        recorder.write(args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
