"""27 sessions over three hosts in one cockpit: ``agentmux ls --json`` time and idle TUI CPU.

Three hosts (``build1``..``build3``) are this machine seen through the ssh tests' sshd
(``tests/core/host/ssh/sshd.py``: a throw-away OpenSSH server on 127.0.0.1 logging in as a second
local user), each with its own clone directory (``--path``), so each runs its own agentmux state
store and tmux server, as three machines would. Nine demo sessions are started on each. Then, in
the same run:

- ``agentmux ls --json`` is timed (wall clock of the whole process, as a script sees it)
  ``--rounds`` times: baseline, the same repository's nine local demo sessions only, before any
  host is added; fleet, the nine local sessions and the 27 remote ones (every host asked side
  by side over its ssh master; a branch is fetched only when its tip moved, and idle demo
  sessions move none);
- the real TUI runs in a pseudo-terminal (``script``, 160x45) while every session is quiet, and
  its CPU is read over ``--seconds``: alone (the figure), and with its child processes (the
  ssh channels of its hosts' control-mode clients), with the nine local sessions only
  (baseline) and with the whole fleet;
- a radar watcher (the one the TUI runs: this machine's worktrees watched, the hosts' sessions
  compared through the work their hosts export, fetched on the radar's own thread) runs here,
  and ``--saves`` saves in the local worktrees are timed from the write to the report that
  holds them, with the nine local sessions only (baseline) and with the fleet.

Targets (issue 14): the fleet listing under 0.5 s; the idle TUI under 1% of a core; the radar's
update after one save p95 under 250 ms. Over loopback there is no network delay: add the hosts'
round trip for real machines. But the three "hosts" are this machine too: their three agentmux
processes answering at once share its two cores with the local one, which real hosts would not.
agentmux's bytecode is compiled first (``make dev`` does, as a wheel install does; the hosts'
copies are compiled too). It needs root (sshd, the second user) and ``openssh-server``, like the
ssh tests.

    sudo .venv/bin/python bench/bench_remote_fleet.py [--rounds 15] [--seconds 30] [--saves 20] \\
        [--record [PATH]]

``--record`` also writes the figures to ``bench/results/bench_remote_fleet.json``.
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from bench_tui import find, in_terminal
from isolation import clean_up, isolate
from record import Baseline, Recorder, Target, add_option, figure, verdict
from remote_hosts import add_host, agentmux, install_fast_agentmux, make_repo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH = "bench_remote_fleet"
HOSTS = ("build1", "build2", "build3")
PER_HOST = 9
TARGET_SECONDS = Target("<", 0.5)
#: Idle CPU of the TUI with the fleet in its cockpit, % of one core.
TARGET_IDLE = Target("<", 1)
#: The radar's new report after one save in a worktree here, p95 in seconds.
TARGET_RADAR = Target("<", 0.25)


def time_ls(repo: Path, rounds: int, expect: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        rows = json.loads(agentmux(repo, "ls", "--json").stdout)
        times.append(time.perf_counter() - start)
        if len(rows) != expect:
            raise SystemExit(f"ls --json listed {len(rows)} sessions, not {expect}")
    return times


def tui_idle_cpu(repo: Path, seconds: float) -> tuple[float, float]:
    """% of one core the real TUI (in a pseudo-terminal) takes while every session is quiet,
    alone and with its child processes (its hosts' ssh channels), over one window."""
    drawn = repo.parent / "fleet.tty"
    tui = in_terminal(f"{sys.executable} -m agentmux", drawn, repo)
    try:
        app = find(tui, "-m agentmux")
        time.sleep(6)  # every host's panes mirrored, the first looks answered, settled
        procs = [app, *app.children(recursive=True)]
        before = [p.cpu_times() for p in procs]
        time.sleep(seconds)
        alone = 0.0
        together = 0.0
        for n, (proc, was) in enumerate(zip(procs, before, strict=True)):
            try:
                now = proc.cpu_times()
            except psutil.NoSuchProcess:
                continue  # a channel that ended in the window: its last share is not counted
            own = (now.user + now.system) - (was.user + was.system)
            # With the children it waited for: the short ssh channels of each look at the hosts.
            reaped = (now.children_user + now.children_system) - (
                was.children_user + was.children_system
            )
            alone += 100 * own / seconds if n == 0 else 0.0
            together += 100 * (own + reaped) / seconds
    finally:
        if tui.stdin is not None:
            tui.stdin.write(b"q")
            tui.stdin.flush()
        try:
            tui.wait(15)
        except subprocess.TimeoutExpired:
            tui.kill()
    return alone, together


def radar_after_saves(repo: Path, saves: int) -> list[float]:
    """Seconds from a save in a local session's worktree to the radar's report that holds it,
    the radar comparing every session in the cockpit (those on hosts through their fetched
    work, which it has before the first save)."""
    from agentmux.core.git.conflicts import ConflictReport  # noqa: PLC0415 - after the path
    from agentmux.core.records import LOCAL_HOST  # noqa: PLC0415
    from agentmux.core.sessions.manager import SessionManager  # noqa: PLC0415

    manager = SessionManager.open(repo)
    reports: queue.Queue[ConflictReport] = queue.Queue()
    watcher = manager.radar_watcher(reports.put)
    records = [*manager.sessions(), *manager.remote.records()]
    watcher.set_records(records)
    watcher.start()
    remote = {r.id for r in records if r.host != LOCAL_HOST}
    local = [r for r in records if r.host == LOCAL_HOST]
    latencies: list[float] = []
    try:
        while True:  # until the hosts' work is in a report
            report = reports.get(timeout=120)
            if all(s.snapshot for s in report.sessions if s.session_id in remote):
                break
        time.sleep(1.5)  # the catch-up scan
        while not reports.empty():
            reports.get()
        for n in range(saves):
            record = local[n % len(local)]
            last = watcher.radar.last
            before = (
                next((s.snapshot for s in last.sessions if s.session_id == record.id), None)
                if last
                else None
            )
            path = Path(record.worktree) / "saved.txt"
            start = time.perf_counter()
            # Never what an earlier round wrote there: an unchanged file makes no new report.
            path.write_text(f"save {n} at {time.monotonic_ns()}\n")
            while True:
                report = reports.get(timeout=30)
                now = next(s.snapshot for s in report.sessions if s.session_id == record.id)
                if now != before:
                    break
            latencies.append(time.perf_counter() - start)
            time.sleep(0.1)
        if watcher.errors:
            raise SystemExit(f"the radar failed: {watcher.errors}")
    finally:
        watcher.stop()
        manager.close()
    return latencies


def stop_hosts(remote_dir: Path, user: str, program: Path) -> None:
    """Stop the hosts' tmux servers (their agents with them): the sshd going away does not."""
    home = Path(remote_dir).parent
    # The user's own environment, as an ssh login has it: none of this process's XDG dirs.
    as_user = ["runuser", "-u", user, "--", "env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin"]
    for clone in remote_dir.glob("clones-*/*"):
        done = subprocess.run(
            [*as_user, str(program), "-C", str(clone), "_socket"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            socket = json.loads(done.stdout)["socket"]
            subprocess.run(
                [*as_user, "tmux", "-S", socket, "kill-server"],
                capture_output=True,
                check=False,
            )


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=30, help="TUI CPU window")
    parser.add_argument("--saves", type=int, default=20, help="saves timed for the radar")
    add_option(parser, BENCH)
    args = parser.parse_args()
    recorder = Recorder(BENCH, args)

    from tests.core.host.ssh.sshd import running_sshd  # noqa: PLC0415 - after the path

    scratch = Path(tempfile.mkdtemp(prefix="amx-fleet-"))
    sockets = isolate(scratch)
    try:
        with running_sshd(scratch / "sshd") as server:
            fast = install_fast_agentmux(server)
            repo = make_repo(scratch / "project")
            agentmux(repo, "new", "--agent", "demo", "--count", str(PER_HOST), "--name", "here")
            base = time_ls(repo, args.rounds, PER_HOST)
            tui_base = tui_idle_cpu(repo, args.seconds)
            radar_base = radar_after_saves(repo, args.saves)
            for host in HOSTS:
                add_host(repo, host, server, fast, server.remote_dir / f"clones-{host}")
                agentmux(
                    repo,
                    "new",
                    "--host",
                    host,
                    "--agent",
                    "demo",
                    "--count",
                    str(PER_HOST),
                    "--name",
                    host,
                )
            try:
                fleet = time_ls(repo, args.rounds, PER_HOST * (1 + len(HOSTS)))
                tui_fleet = tui_idle_cpu(repo, args.seconds)
                radar_fleet = radar_after_saves(repo, args.saves)
            finally:
                stop_hosts(server.remote_dir, server.user.pw_name, fast)
    finally:
        clean_up(scratch, sockets)
    base_median, fleet_median, fleet_p95 = (
        statistics.median(base),
        statistics.median(fleet),
        p95(fleet),
    )
    print(f"ls --json, 9 local sessions: median {base_median * 1000:.0f} ms (baseline)")
    print(
        f"ls --json, 9 local + 27 on 3 hosts: median {fleet_median * 1000:.0f} ms, "
        f"p95 {fleet_p95 * 1000:.0f} ms, {fleet_median / base_median:.2f}x the baseline"
    )
    baseline = Baseline("ls --json with 9 local sessions only, same run", round(base_median, 4))
    fig = recorder.add(
        figure("ls --json, 27 sessions on 3 hosts (p95)", fleet_p95, "s", target=TARGET_SECONDS)
    )
    print(verdict(fig))
    recorder.add(
        figure(
            "ls --json, fleet vs local only (median)",
            fleet_median / base_median,
            "x",
            baseline=baseline,
        )
    )
    print(
        f"idle TUI, 9 local sessions: {tui_base[0]:.2f}% of a core "
        f"({tui_base[1]:.2f}% with its child processes) (baseline)"
    )
    print(
        f"idle TUI, 9 local + 27 on 3 hosts: {tui_fleet[0]:.2f}% of a core "
        f"({tui_fleet[1]:.2f}% with its ssh channels)"
    )
    idle = recorder.add(
        figure(
            "idle TUI CPU, 27 sessions on 3 hosts in the cockpit",
            tui_fleet[0],
            "% of a core",
            target=TARGET_IDLE,
        )
    )
    print(verdict(idle))
    recorder.add(
        figure(
            "idle TUI CPU with its ssh channels, fleet vs local only",
            tui_fleet[1] / tui_base[1] if tui_base[1] else float("nan"),
            "x",
            baseline=Baseline("idle TUI CPU, 9 local sessions only, same run", tui_base[1]),
        )
    )
    radar_p95 = p95(radar_fleet)
    print(
        f"radar after one save, 9 local sessions: p95 {p95(radar_base) * 1000:.0f} ms (baseline); "
        f"9 local + 27 on 3 hosts: p95 {radar_p95 * 1000:.0f} ms, "
        f"median {statistics.median(radar_fleet) * 1000:.0f} ms"
    )
    radar_fig = recorder.add(
        figure(
            "radar update after one save, 27 sessions on 3 hosts (p95)",
            radar_p95,
            "s",
            target=TARGET_RADAR,
        )
    )
    print(verdict(radar_fig))
    recorder.add(
        figure(
            "radar update after one save, fleet vs local only (p95)",
            radar_p95 / p95(radar_base),
            "x",
            baseline=Baseline("radar p95 with 9 local sessions only, same run", p95(radar_base)),
        )
    )
    recorder.detail("idle_tui_local_pct", tui_base[0])
    recorder.detail("idle_tui_fleet_pct", tui_fleet[0])
    recorder.detail("idle_tui_fleet_with_channels_pct", tui_fleet[1])
    recorder.detail("baseline_median_s", base_median)
    recorder.detail("fleet_median_s", fleet_median)
    if args.record:
        recorder.write(args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
