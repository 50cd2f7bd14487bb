"""SSH connections that AiiDA opens per workflow on the loopback Slurm-over-SSH cluster, counted by the server.

Each case runs workflows through a daemon (one worker) of a throwaway profile (temporary AIIDA_PATH, SQLite +
ZeroMQ) against the loopback cluster of ``scripts/slurm-cluster.sh`` (started if it is not running, and then
stopped again). The connections are counted where they are real: a second ``sshd`` of this benchmark's own, on
its own port (``--port``, default 2232) and with its own log, in front of the same Slurm, reached through a
``Host slurm-loopback-bench`` entry (an ``Include`` line added to the top of ``~/.ssh/config`` for the run and
removed after it). Every ``Accepted publickey`` line in that log is one SSH connection of the daemon; nothing
else connects to that port.

The workflow is the smallest that goes through every transport task of a remote job: ``polymer.lammps.base``
with one 200-step NVT stage of a small polyethylene cell (upload, submit, job polls, retrieve), one MPI rank.
Cases (``--cases``): ``test`` = the live test's settings (safe_interval 0.2 s, poll interval 0.5 s),
``preset`` = the ``configure/ssh`` preset and ``presets policy`` default (safe_interval 5 s, poll interval 60 s),
``preset-3`` = the preset with 3 workflows submitted at once (a campaign's concurrency); ``poll5-long`` and
``preset-long``: a job that runs a minute longer (``shell sleep 60`` before the run, no CPU), polled every 5 s
and every 60 s::

    .venv/bin/python benchmarks/transport_connections.py [--cases test,preset,preset-3,poll5-long,preset-long]

Prints, per case: workflows, connections, connections per workflow and per job, and the wall time. Measured on
2026-12-03 (2 cores, load average 6-10 from a campaign running beside it; two invocations):

    case        safe_s poll_s  wf  ok jobs  conn conn/wf conn/job wall_s
    test           0.2    0.5   1   1    1     5     5.0      5.0     31
    preset         5.0   60.0   1   1    1     4     4.0      4.0     72
    preset-3       5.0   60.0   3   3    3     3     1.0      1.0     82
    poll5-long     5.0    5.0   1   1    1    10    10.0     10.0    119
    preset-long    5.0   60.0   1   1    1     5     5.0      5.0    133
"""

from __future__ import annotations

import argparse
import atexit
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
os.environ["AIIDA_PATH"] = tempfile.mkdtemp(prefix="transport-connections-")
atexit.register(shutil.rmtree, os.environ["AIIDA_PATH"], ignore_errors=True)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "slurm-cluster.sh"
CLUSTER = Path(os.environ.get("SLURM_LOOPBACK_DIR", ROOT / ".slurm"))
ALIAS = "slurm-loopback-bench"
CASES = {  # name: (safe_interval s, minimum job poll interval s, workflows submitted at once, job sleeps s)
    "test": (0.2, 0.5, 1, 0),
    "preset": (5.0, 60.0, 1, 0),
    "preset-3": (5.0, 60.0, 3, 0),
    "poll5-long": (5.0, 5.0, 1, 60),
    "preset-long": (5.0, 60.0, 1, 60),
}


class BenchSshd:
    """An sshd of the benchmark's own, on ``port``, with the cluster's keys and its own log; and the Host entry."""

    def __init__(self, port: int, folder: Path):
        self.port, self.folder = port, folder
        self.log = folder / "sshd.log"
        self.include = f"Include {folder / 'config'}"
        self.user_config = Path.home() / ".ssh" / "config"

    def __enter__(self) -> BenchSshd:
        base = (CLUSTER / "ssh" / "sshd_config").read_text()
        config = re.sub(r"^Port .*$", f"Port {self.port}", base, flags=re.MULTILINE)
        config = re.sub(r"^PidFile .*$", f"PidFile {self.folder / 'sshd.pid'}", config, flags=re.MULTILINE)
        (self.folder / "sshd_config").write_text(config)
        client = (CLUSTER / "ssh" / "config").read_text()
        client = client.replace("Host slurm-loopback", f"Host {ALIAS}").replace("Port 2222", f"Port {self.port}")
        client = re.sub(r"UserKnownHostsFile .*", f"UserKnownHostsFile {self.folder / 'known_hosts'}", client)
        (self.folder / "config").write_text(client)
        host_key = (CLUSTER / "ssh" / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        (self.folder / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {' '.join(host_key)}\n")
        lines = self.user_config.read_text().splitlines() if self.user_config.exists() else []
        self.user_config.write_text("\n".join([self.include, *lines]) + "\n")
        subprocess.run(["/usr/sbin/sshd", "-f", str(self.folder / "sshd_config"), "-E", str(self.log)], check=True)
        deadline = time.monotonic() + 15
        while subprocess.run(["ssh", "-o", "BatchMode=yes", ALIAS, "true"], capture_output=True).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the benchmark's sshd on port {self.port} did not answer:\n{self.log.read_text()}")
            time.sleep(0.3)
        return self

    def accepted(self) -> int:
        return self.log.read_text().count("Accepted publickey")

    def __exit__(self, *exc) -> None:
        pid = int((self.folder / "sshd.pid").read_text())
        os.kill(pid, 15)  # the listener this benchmark started; its session children end with their connections
        lines = self.user_config.read_text().splitlines()
        self.user_config.write_text("".join(f"{line}\n" for line in lines if line != self.include))


def setup_computer(workdir: Path):
    from aiida import orm

    from aiida_polymer.codes import executables

    computer = orm.Computer(
        label="bench-slurm",
        hostname=ALIAS,
        transport_type="core.ssh_async",
        scheduler_type="core.slurm",
        workdir=str(workdir / "{username}"),
    ).store()
    computer.configure(host=ALIAS, backend="asyncssh", safe_interval=0.2, use_login_shell=True, max_io_allowed=4)
    computer.set_default_mpiprocs_per_machine(1)
    computer.set_mpirun_command(
        [str(Path(sys.executable).parent / "mpiexec"), "-launcher", "fork", "-np", "{tot_num_mpiprocs}"]
    )
    path, prepend, description = executables()["lmp"]
    code = orm.InstalledCode(
        label="lmp",
        computer=computer,
        filepath_executable=str(path),
        prepend_text=prepend,
        description=description,
        default_calc_job_plugin="polymer.lammps",
    ).store()
    return computer, code


def lammps_inputs(code, data: str, sleep: int = 0) -> dict:
    from aiida import orm

    spec = {
        "name": "bench",
        "ensemble": "nvt",
        "steps": 200,
        "temperature": 300.0,
        "thermo_every": 20,
        "kspace_accuracy": 1e-4,
        "cutoff_inner": 4.0,
        "cutoff": 5.0,
        "velocity_seed": 3,
    }
    if sleep:
        spec["extra"] = [f"shell sleep {sleep}"]
    return {
        "code": code,
        "stage": orm.Dict(spec),
        "data_file": orm.SinglefileData(io.BytesIO(data.encode()), filename="system.data"),
        "metadata": {
            "options": {
                "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1},
                "max_wallclock_seconds": 600,
                "withmpi": True,
            }
        },
    }


def run_case(name: str, computer, code, data: str, sshd: BenchSshd) -> tuple:
    from aiida import orm
    from aiida.engine import submit
    from aiida.plugins import WorkflowFactory

    safe_interval, poll, count, sleep = CASES[name]
    authinfo = computer.get_authinfo(orm.User.collection.get_default())
    authinfo.set_auth_params({**authinfo.get_auth_params(), "safe_interval": safe_interval})
    computer.set_minimum_job_poll_interval(poll)
    before = sshd.accepted()
    start = time.monotonic()
    nodes = [
        submit(WorkflowFactory("polymer.lammps.base"), lammps=lammps_inputs(code, data, sleep)) for _ in range(count)
    ]
    while not all(node.is_terminated for node in nodes):
        if time.monotonic() - start > 900:
            raise TimeoutError(f"{name}: not all workflows ended in 900 s")
        time.sleep(0.5)
    seconds = time.monotonic() - start
    time.sleep(1.0)  # the last connection's log line
    connections = sshd.accepted() - before
    ok = sum(node.is_finished_ok for node in nodes)
    jobs = sum(len(node.called) for node in nodes)
    return name, safe_interval, poll, count, ok, jobs, connections, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", default="test,preset,preset-3,poll5-long,preset-long", help=f"comma-separated, of {', '.join(CASES)}"
    )
    parser.add_argument("--port", type=int, default=2232, help="port of the benchmark's own sshd")
    args = parser.parse_args()
    cases = args.cases.split(",")
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases {sorted(unknown)}")

    from aiida.engine.daemon.client import get_daemon_client
    from aiida.manage import get_manager
    from aiida.manage.configuration import create_profile, get_config, profile_context

    from aiida_polymer.chem.builder import CellSpec, build_cell

    was_running = subprocess.run([str(SCRIPT), "status"], capture_output=True).returncode == 0
    subprocess.run([str(SCRIPT), "start"], check=True, capture_output=True, timeout=120)
    rows = []
    with tempfile.TemporaryDirectory(prefix="transport-bench-") as tmp:
        folder = Path(tmp)
        data = build_cell(CellSpec(smiles=["*CC*"], n_chains=3, atoms_per_chain=44, density=0.6, seed=4)).data_file()
        config = get_config(create=True)
        profile = create_profile(
            config,
            storage_backend="core.sqlite_dos",
            storage_config={"filepath": str(folder / "storage")},
            broker_backend="core.zeromq",
            name="transport-bench",
            email="bench@localhost",
        )
        config.update_profile(profile)
        config.store()
        try:
            with BenchSshd(args.port, folder) as sshd, profile_context(profile, allow_switch=True):
                computer, code = setup_computer(folder / "work")
                client = get_daemon_client(profile.name)
                client.start_daemon(number_workers=1)
                get_manager().reset_runner()
                try:
                    for name in cases:
                        row = run_case(name, computer, code, data, sshd)
                        rows.append(row)
                        print(f"  {name}: {row[6]} connections for {row[3]} workflow(s) in {row[7]:.0f} s", flush=True)
                finally:
                    client.stop_daemon(wait=True, timeout=120)
                    get_manager().reset_broker()
        finally:
            if not was_running:
                subprocess.run([str(SCRIPT), "stop"], capture_output=True, timeout=60)
    print(
        f"\n{'case':11s} {'safe_s':>6s} {'poll_s':>6s} {'wf':>3s} {'ok':>3s} {'jobs':>4s} {'conn':>5s} "
        f"{'conn/wf':>7s} {'conn/job':>8s} {'wall_s':>6s}"
    )
    for name, safe_interval, poll, count, ok, jobs, connections, seconds in rows:
        print(
            f"{name:11s} {safe_interval:6.1f} {poll:6.1f} {count:3d} {ok:3d} {jobs:4d} {connections:5d} "
            f"{connections / count:7.1f} {connections / max(jobs, 1):8.1f} {seconds:6.0f}"
        )
    print(f"{os.cpu_count()} cores, load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
