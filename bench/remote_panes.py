"""Live panes over ssh: latency and CPU of mirroring nine panes of a host, against nine local ones.

What is measured is the **mirror layer**, not the whole TUI: a
:class:`~agentmux.core.host.remote.panes.RemoteMirror` (tmux control mode through an ssh master)
and, in the same run, a local :class:`~agentmux.core.tmux.mirror.Mirror` on a local tmux, each
mirroring nine panes of 53x14 (a 160x45 TUI's cells) that print lines stamped with the
system-wide monotonic clock at ``--rate`` lines a second, one pane focused. A line's latency is
the time from its stamp to the first screen holding it that reaches the mirror's ``on_screen``
(Textual's drawing, the same on both sides, is left out: ``bench/bench_tui.py`` measures it).
Lines that scroll past between two captures never reach a screen; they are counted, not measured.

CPU: of this process (the mirror's reader and scheduler threads, and the ``on_screen`` callback
that parses the stamps, the same work on both sides) while the panes print, remote over local;
and, as details, with the helper processes on this machine (local: the two ``tmux -C`` clients;
remote: the two ssh channel clients and the ssh master) and on the host (loopback here: sshd's
session processes and the host's two ``tmux -C`` clients).

The host is this machine seen through the ssh tests' sshd (``tests/core/host/ssh/sshd.py``: a
throw-away OpenSSH server on 127.0.0.1 logging in as a second local user, ``amx-remote``). It
needs root (to run sshd and create that user) and ``openssh-server``, like the ssh tests. Over
loopback there is no network delay: the figures are ssh's and tmux's own cost, a floor for a
real host (add its round trip).

    sudo .venv/bin/python bench/remote_panes.py [--seconds 10] [--rate 200] [--record [PATH]]

``--record`` also writes the figures to ``bench/results/remote_panes.json`` (``bench/record.py``).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from isolation import clean_up, machine, scratch_repo
from record import Baseline, Recorder, Target, add_option, figure, verdict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from agentmux.core.tmux.control import Screen
    from agentmux.core.tmux.mirror import PaneMirror
    from agentmux.core.tmux.server import PaneInfo
    from tests.core.host.ssh.sshd import Sshd

BENCH = "remote_panes"
PANES = 9
WIDTH, HEIGHT = 53, 14
#: Remote focused pane, line written -> screen received, p95 in ms (issue 14).
FOCUSED = Target("<", 80)
#: CPU of the mirroring process, remote over local.
CPU = Target("<=", 1.2)
STAMP = re.compile(r"tick (\d+) (\d+)")
TAG = "bench{n:04d}-remote-panes"
PRINTER = """\
import sys, time
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
start, n = time.monotonic(), 0
while time.monotonic() - start < seconds:
    due = start + n / rate
    if due > time.monotonic():
        time.sleep(due - time.monotonic())
    print(f"tick {time.monotonic_ns()} {n}", flush=True)
    n += 1
time.sleep(3600)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Run:
    """What one side's mirror received."""

    focused_pane: str = ""
    round: int = 0
    focused: list[float] = field(default_factory=list)
    others: list[float] = field(default_factory=list)
    seen: set[tuple[int, str, str]] = field(default_factory=set)
    screens: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Per group of processes, % of one core in each round.
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def on_screen(self, screen: Screen) -> None:
        now = time.monotonic_ns()
        pane = screen.pane_id
        with self.lock:
            self.screens += 1
            for row in screen.rows:
                match = STAMP.search(row)
                # A new server each round hands out the same pane ids, and the ticks start again.
                key = (self.round, pane, match.group(2)) if match else None
                if match and key not in self.seen:
                    self.seen.add(key)  # type: ignore[arg-type]
                    ms = (now - int(match.group(1))) / 1e6
                    (self.focused if pane == self.focused_pane else self.others).append(ms)

    def mean_cpu(self, group: str) -> float | None:
        """``group``'s CPU over the rounds, % of one core."""
        values = self.cpu.get(group)
        return statistics.fmean(values) if values else None


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def measure(
    run: Run,
    *,
    tmux: Callable[..., str],
    panes: list[str],
    groups: dict[str, Callable[[], list[psutil.Process]]],
    seconds: float,
    rate: float,
) -> None:
    """Start the printers, let them print for ``seconds``, and take each group's CPU over that
    time (as % of one core)."""
    for pane in panes:
        tmux(
            "respawn-pane",
            "-k",
            "-t",
            pane,
            "python3",
            "-c",
            PRINTER,
            f"{rate:g}",
            f"{seconds + 2:g}",
        )
    time.sleep(1.0)  # printing steadily
    procs = {name: find() for name, find in groups.items()}
    before = {name: cpu_seconds(each) for name, each in procs.items()}
    time.sleep(seconds)
    for name, each in procs.items():
        run.cpu.setdefault(name, []).append(100 * (cpu_seconds(each) - before[name]) / seconds)
    time.sleep(1.5)  # the last lines mirrored


def children(name: str) -> list[psutil.Process]:
    """This process's children whose command line starts with ``name``."""
    return [p for p in psutil.Process().children() if p.cmdline()[:1] == [name]]


def local_side(run: Run, sockets: Path, seconds: float, rate: float) -> None:
    from agentmux.core.tmux.mirror import Mirror  # noqa: PLC0415 - after the env is set
    from agentmux.core.tmux.server import TmuxServer  # noqa: PLC0415

    socket = sockets / f"local{run.round}.sock"  # a fresh server each round

    def tmux(*args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(socket), *args], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    ids = make_agents(tmux)
    run.focused_pane, run.round = ids[0], run.round + 1
    mirror = Mirror(socket, run.on_screen, lambda _state: None)
    mirror.start()
    try:
        assert mirror.client.connected.wait(10)
        by_tag = {p.agentmux_id: p for p in TmuxServer(socket).panes() if p.agentmux_id}
        mirror.show(by_tag)
        show_all(mirror, by_tag)
        me = psutil.Process()
        groups = {
            "process": lambda: [me],
            "here": lambda: [me, *children("tmux")],
            "host": lambda: [server_of(tmux)],
        }
        measure(run, tmux=tmux, panes=ids, groups=groups, seconds=seconds, rate=rate)
    finally:
        mirror.stop()
        subprocess.run(["tmux", "-S", str(socket), "kill-server"], capture_output=True, check=False)


def remote_side(run: Run, sshd: Sshd, seconds: float, rate: float) -> None:
    from agentmux.core.host.remote.panes import RemoteMirror  # noqa: PLC0415
    from agentmux.core.host.ssh import SshConnection, SshSettings  # noqa: PLC0415

    connection = SshConnection("bench", "amx-sshd", sshd.ssh_argv(), settings=SshSettings())
    socket = str(sshd.remote_dir / f"b{run.round}.sock")  # a fresh server each round

    def tmux(*args: str) -> str:
        done = connection.run(["tmux", "-S", socket, *args])
        assert done.ok, done
        return done.text

    ids = make_agents(tmux)
    run.focused_pane, run.round = ids[0], run.round + 1
    mirror = RemoteMirror(connection, socket, run.on_screen, lambda _state: None)
    mirror.start()
    try:
        assert mirror.client.connected.wait(15), mirror.problem
        panes = mirror.list_panes()
        assert panes is not None and len(panes) == PANES, panes
        show_all(mirror, panes)
        me = psutil.Process()
        master = psutil.Process(connection.master_pid() or 0)
        host_server = server_of(tmux)

        def on_host() -> list[psutil.Process]:
            # sshd's session process for the connection, and the host's tmux -C clients.
            found = []
            for proc in psutil.process_iter(["uids", "name"]):
                uids = proc.info["uids"]
                if uids is not None and uids.real == sshd.user.pw_uid:
                    found.append(proc)
            return [p for p in found if p.pid != host_server.pid and "python" not in p.name()]

        groups = {
            "process": lambda: [me],
            "here": lambda: [me, master, *children("ssh")],
            "host": lambda: [host_server],
            "host helpers": on_host,
        }
        measure(run, tmux=tmux, panes=ids, groups=groups, seconds=seconds, rate=rate)
    finally:
        mirror.stop()
        connection.run(["tmux", "-S", socket, "kill-server"])
        connection.close()


def make_agents(tmux: Callable[..., str]) -> list[str]:
    """Nine tagged panes, idle until the printers start; their ids."""
    ids = []
    for n in range(PANES):
        session = ["new-session", "-d", "-P", "-F", "#{pane_id}", "-s", f"p{n}"]
        size = ["-x", str(WIDTH), "-y", str(HEIGHT), "sleep", "3600"]
        tag = [";", "set-option", "-p", "-t", f"=p{n}:", "@agentmux_id", TAG.format(n=n)]
        ids.append(tmux("-f", "/dev/null", *session, *size, *tag))
    return ids


def show_all(mirror: PaneMirror, panes: Mapping[str, PaneInfo]) -> None:
    """Show the panes, sized as a TUI's cells, the first focused."""
    from agentmux.core.records import SessionRecord, Status  # noqa: PLC0415

    mirror.show(panes)
    for n, session_id in enumerate(sorted(panes)):
        record = SessionRecord(
            session_id, f"p{n}", "bench", "custom", "", "", "", "", "", Status.RUNNING, 0.0
        )
        mirror.resize(record, WIDTH, HEIGHT)
        if n == 0:
            mirror.focus(record)
    time.sleep(1.0)


def server_of(tmux: Callable[..., str]) -> psutil.Process:
    return psutil.Process(int(tmux("display-message", "-p", "#{pid}")))


@contextmanager
def scratch_home() -> Iterator[tuple[Path, Path]]:
    scratch = Path(tempfile.mkdtemp(prefix="amx-bench-remote-"))
    _repo, sockets = scratch_repo(scratch)
    try:
        yield scratch, sockets
    finally:
        clean_up(scratch, sockets)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=3)
    add_option(parser, BENCH)
    args = parser.parse_args()
    recorder = Recorder(BENCH, args)
    from tests.core.host.ssh.sshd import running_sshd  # noqa: PLC0415 - after the env is set

    local, remote = Run(), Run()
    with scratch_home() as (scratch, sockets):
        base = Path(tempfile.mkdtemp(prefix=f"amx-sshd-{os.getpid()}-", dir=scratch))
        with running_sshd(base) as sshd:
            # Alternated, each side first in every other round, so that whatever else the
            # machine does (and whatever a first or second run costs) falls on both alike.
            for n in range(args.rounds):
                if n % 2:
                    remote_side(remote, sshd, args.seconds, args.rate)
                local_side(local, sockets, args.seconds, args.rate)
                if not n % 2:
                    remote_side(remote, sshd, args.seconds, args.rate)

    print(machine())
    print(
        f"load: {PANES} panes of {WIDTH}x{HEIGHT} x {args.rate:g} lines/s for {args.seconds:g} s, "
        f"{args.rounds} rounds a side; the mirror layer (no TUI); remote over loopback ssh"
    )
    printed = int(args.rate * args.seconds) * PANES * args.rounds
    p95 = {}
    for side, run in (("local", local), ("remote", remote)):
        for label, values in (("focused pane", run.focused), ("other panes", run.others)):
            if not values:
                print(f"{side} {label}: no line reached the mirror")
                continue
            p50, high = statistics.median(values), percentile(values, 0.95)
            p95[(side, label)] = high
            recorder.detail(f"{side} latency {label} p50 ms", p50)
            recorder.detail(f"{side} latency {label} p95 ms", high)
            recorder.detail(f"{side} latency {label} lines", len(values))
            print(f"{side:6} {label:13} p50 {p50:6.1f} ms  p95 {high:6.1f} ms  (n={len(values)})")
        print(
            f"{side:6} lines printed about {printed}, seen on a screen {len(run.seen)}; "
            f"screens received {run.screens}"
        )
        recorder.detail(f"{side} screens received", run.screens)
    remote_focused = p95.get(("remote", "focused pane"))
    local_focused = p95.get(("local", "focused pane"))
    if remote_focused is not None and local_focused is not None:
        fig = recorder.add(
            figure(
                "remote focused pane, line written -> screen received, p95",
                remote_focused,
                "ms",
                target=FOCUSED,
            )
        )
        ratio = remote_focused / max(local_focused, 0.01)
        recorder.detail("focused p95 remote/local", ratio)
        print(f"remote focused p95 {remote_focused:.1f} ms ({ratio:.2f}x local); {verdict(fig)}")
    print(f"{'CPU, % of one core':22} {'local':>8} {'remote':>8}   (mean of the rounds)")
    for key in ("process", "here", "host", "host helpers"):
        here, there = local.mean_cpu(key), remote.mean_cpu(key)
        cells = ["" if v is None else f"{v:8.1f}" for v in (here, there)]
        print(f"{key:22} {cells[0]:>8} {cells[1]:>8}")
        for side, value in (("local", here), ("remote", there)):
            if value is not None:
                recorder.detail(f"{side} CPU {key} %", value)
    rounds = [
        f"{r / max(lo, 0.01):.2f}x"
        for lo, r in zip(local.cpu["process"], remote.cpu["process"], strict=True)
    ]
    local_cpu, remote_cpu = local.mean_cpu("process") or 0.0, remote.mean_cpu("process") or 0.0
    cpu_ratio = remote_cpu / max(local_cpu, 0.01)
    cpu_fig = recorder.add(
        figure(
            "CPU of the mirroring process, 9 remote panes",
            cpu_ratio,
            "x",
            baseline=Baseline("9 local panes, local Mirror", round(local_cpu, 1), "% of a core"),
            target=CPU,
        )
    )
    here_ratio = (remote.mean_cpu("here") or 0.0) / max(local.mean_cpu("here") or 0.0, 0.01)
    recorder.detail("CPU here (with ssh or tmux clients) remote/local", here_ratio)
    print(
        f"mirroring process remote/local: {cpu_ratio:.2f}x (rounds: {', '.join(rounds)}); "
        f"{verdict(cpu_fig)}"
    )
    print(f"with its clients on this machine (ssh + master vs tmux -C): {here_ratio:.2f}x")
    if args.record:
        recorder.write(args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
