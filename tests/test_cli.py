"""The command line's front door: bad input, cluster options and dry runs, and no tracebacks, ever."""

from __future__ import annotations

import uuid

import pytest
import yaml
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import ProcessState
from click.testing import CliRunner

from aiida_polymer import cli as cli_module
from aiida_polymer import presets
from aiida_polymer.cli import cli

OPTIONS = {
    "lmp": {"queue_name": "small", "account": "hp123456", "max_wallclock_seconds": "3:30:00",
            "custom_scheduler_commands": "#PJM -x PJM_LLIO_GFSCACHE=/vol0004"},
    "nemd": {"resources": {"num_machines": 3}},
    "psi4": {"queue_name": "chem-short", "account": "chem", "max_wallclock_seconds": 5400},
}


def invoke(*args: str, env: dict | None = None):
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {type(result.exception).__name__}: {result.exception}\n{result.output}")
    return result


def _computer(preset: str, scheduler: str | None = None, **values) -> orm.Computer:
    """A computer from a preset, on the core.local transport (a dry run connects to nothing)."""
    spec = presets.load("computers", preset, label=f"{preset}-{uuid.uuid4().hex[:6]}", **values)
    computer = orm.Computer(label=spec["label"], hostname=spec["hostname"], description=spec["description"],
                            transport_type="core.local", scheduler_type=scheduler or spec["scheduler"],
                            workdir=spec["work_dir"]).store()
    computer.set_mpirun_command(spec["mpirun_command"].split())
    computer.set_default_mpiprocs_per_machine(spec["mpiprocs_per_machine"])
    computer.set_prepend_text(spec["prepend_text"])
    computer.configure()
    return computer


def _code(label: str, computer: orm.Computer, plugin: str, prepend: str) -> orm.InstalledCode:
    code = orm.InstalledCode(label=label, computer=computer, filepath_executable=label, prepend_text=prepend,
                             with_mpi=plugin == "polymer.lammps")
    code.default_calc_job_plugin = plugin
    return code.store()


@pytest.fixture
def clusters(aiida_profile, polymer_codes):
    """A Fugaku-like PJM computer with lmp, a Slurm cluster with psi4 and lmp; AmberTools on localhost."""
    fugaku = _computer("fugaku", group="hp123456")
    slurm = _computer("slurm", hostname="slurm.example.org", cores_per_node=64)
    return {
        "fugaku": fugaku, "slurm": slurm, "local": polymer_codes,
        "lmp@fugaku": _code("lmp", fugaku, "polymer.lammps", "spack load lammps"),
        "lmp@slurm": _code("lmp", slurm, "polymer.lammps", "module load lammps"),
        "psi4@slurm": _code("psi4", slurm, "polymer.psi4", "module load psi4"),
    }


def _processes() -> int:
    return orm.QueryBuilder().append(orm.ProcessNode).count()


# 1. several repeat units need a layout


def test_several_units_without_copolymer_are_refused(aiida_profile):
    result = invoke("submit", "*CC*", "*CC(*)C", "--protocol", "fast")
    assert result.exit_code != 0
    assert "2 repeat units given (*CC*, *CC(*)C)" in result.output and "--copolymer" in result.output


def test_bad_input_is_a_clean_error(aiida_profile, clusters):
    result = invoke("submit", "*CC*", "--protocol", "fast", "--fractions", "a,b")
    assert result.exit_code != 0 and "not a comma-separated list of numbers" in result.output
    # a ValueError of the builder (here: fractions for a homopolymer / the wrong count) is one line, not a traceback
    result = invoke("submit", "*CC*", "*CC(*)C", "--copolymer", "random", "--fractions", "0.5,0.3,0.2",
                    "--protocol", "fast", "--code-psi4", f"psi4@{clusters['slurm'].label}", "--dry-run")
    assert result.exit_code != 0 and "Error: invalid input:" in result.output


# 2. clusters from the command line: options file and dry run


def test_dry_run_pjm_and_slurm_job_scripts(aiida_profile, clusters, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(OPTIONS))
    before = _processes()
    result = invoke("submit", "*CC*", "--protocol", "fast", "--code-lmp", f"lmp@{clusters['fugaku'].label}",
                    "--code-psi4", f"psi4@{clusters['slurm'].label}", "--options-file", "f.yaml", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output
    # LAMMPS on Fugaku: the file's rscgrp, group, elapse and LLIO line over the preset's 4 ranks x 12 threads
    for line in ('#PJM -L "rscgrp=small"', "#PJM -g hp123456", '#PJM -L "elapse=3:30:00"', '#PJM -L "node=1"',
                 '#PJM --mpi "proc=4"', "#PJM -x PJM_LLIO_GFSCACHE=/vol0004", "export OMP_NUM_THREADS=12",
                 "spack load lammps"):
        assert line in out, line
    assert '#PJM -L "node=3"' in out and '#PJM --mpi "proc=12"' in out  # the NEMD jobs: 3 nodes
    # Psi4 on Slurm: partition, account and walltime of the file; the node's 64 cores as threads
    for line in ("#SBATCH --partition=chem-short", "#SBATCH --account=chem", "#SBATCH --time=01:30:00",
                 "#SBATCH --cpus-per-task=64", "module load psi4"):
        assert line in out, line
    assert "=== amber: antechamber@localhost, parmchk2@localhost" in out
    assert "nothing stored" in out
    assert _processes() == before  # no WorkflowNode, no CalcJobNode
    assert list((tmp_path / "submit_test").glob("*/_aiidasubmit.sh"))


def test_dry_run_slurm_lammps(aiida_profile, clusters, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.yaml").write_text(yaml.safe_dump({"lmp": {"queue_name": "cpu", "account": "proj42",
                                                             "max_wallclock_seconds": 7200}}))
    before = _processes()
    result = invoke("submit", "*CC*", "--protocol", "fast", "--code-lmp", f"lmp@{clusters['slurm'].label}",
                    "--code-psi4", f"psi4@{clusters['slurm'].label}", "--options-file", "f.yaml", "--dry-run")
    assert result.exit_code == 0, result.output
    for line in ("#SBATCH --partition=cpu", "#SBATCH --account=proj42", "#SBATCH --time=02:00:00",
                 "#SBATCH --nodes=1", "#SBATCH --ntasks-per-node=64", "'srun' '-n' '64' 'lmp'"):
        assert line in result.output, line
    assert _processes() == before


def test_options_file_mistakes_are_named(aiida_profile, clusters, tmp_path):
    args = ["submit", "*CC*", "--protocol", "fast", "--code-lmp", f"lmp@{clusters['fugaku'].label}",
            "--code-psi4", f"psi4@{clusters['slurm'].label}", "--dry-run", "--options-file"]
    for content, message in (({"lamps": {}}, "unknown key 'lamps' (did you mean 'lammps'?)"),
                             ({"lmp": {"queue": "small"}}, "unknown option 'queue' (did you mean 'queue_name'?)"),
                             ({"lmp": {"max_wallclock_seconds": "two hours"}}, "[D-]H:MM:SS"),
                             ({"nemd": {"resources": {"num_machines": 0}}}, "do not fit polymer.pjm")):
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(content))
        result = invoke(*args, str(path))
        assert result.exit_code != 0 and message in result.output, (content, result.output)


def test_job_options_merge_over_the_presets(aiida_profile, clusters):
    from aiida_polymer.cli.jobs import job_options

    codes = {**clusters["local"], "lmp": clusters["lmp@fugaku"], "psi4": clusters["psi4@slurm"]}
    options = job_options(codes, "moderate", {"lmp": {"account": "hp1"}, "nemd": {"account": "hp2"},
                                              "lammps": {"resources": {"num_mpiprocs_per_machine": 2}}})
    assert options["nemd"]["account"] == "hp2" and options["lammps"]["account"] == "hp1"
    assert options["lammps"]["resources"] == {"num_machines": 2, "num_mpiprocs_per_machine": 2}  # layout replaced
    assert options["nemd"]["resources"] == {"num_machines": 4, "num_mpiprocs_per_machine": 4,
                                            "num_cores_per_mpiproc": 12}
    assert options["psi4"]["resources"]["num_cores_per_mpiproc"] == 64
    assert "max_wallclock_seconds" not in options["amber"]  # localhost: core.direct


# 3. AmberTools on this machine whatever computer LAMMPS is on; localhost MPI ranks


def test_equilibrate_with_a_remote_lammps_uses_local_ambertools(aiida_profile, clusters):
    from aiida_polymer.presets.resources import available_cores, stage_options
    from aiida_polymer.workchains.equilibrate import EquilibrateWorkChain

    builder = EquilibrateWorkChain.get_builder_from_protocol(clusters["lmp@fugaku"], "*CC*", "fast")
    assert builder.cell.antechamber.computer.label == "localhost"
    assert builder.cell.parmchk2.full_label == "parmchk2@localhost"
    assert builder.md.lammps.metadata.options["resources"]["num_cores_per_mpiproc"] == 12  # the PJM layout
    local = stage_options("equilibration", orm.load_computer("localhost"), "fast")["resources"]
    assert local["num_mpiprocs_per_machine"] == (clusters["local"]["lmp"].computer.get_default_mpiprocs_per_machine()
                                                 or available_cores())


def test_localhost_defaults_to_the_machines_cores(aiida_profile):
    from aiida_polymer.codes import localhost
    from aiida_polymer.presets.resources import available_cores, stage_options

    computer = localhost(f"here-{uuid.uuid4().hex[:6]}", workdir="/tmp/aiida_polymer_cli_test")
    assert computer.get_default_mpiprocs_per_machine() == available_cores()
    assert stage_options("production", "core.direct", "fast")["resources"]["num_mpiprocs_per_machine"] == (
        available_cores())


# 4. no tracebacks


@pytest.mark.parametrize("command", [["list"], ["show", "1"], ["submit", "*CC*"], ["demo"]])
def test_without_the_profile_every_command_says_how_to_get_it(command, tmp_path, monkeypatch):
    monkeypatch.setattr("aiida.get_profile", lambda: None)
    result = invoke(*command, env={"AIIDA_PATH": str(tmp_path), "AIIDA_POLYMER_PROFILE": "aiida-polymer"})
    assert result.exit_code != 0
    assert "the AiiDA profile 'aiida-polymer' is not there" in result.output
    for hint in ("make demo", "aiida-polymer setup", "export AIIDA_PATH="):
        assert hint in result.output


def test_without_the_profile_in_a_fresh_process(tmp_path):
    """The installed command, no profile loaded before: AIIDA_PATH pointing to an empty folder."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k not in ("AIIDA_PROFILE", "AIIDA_POLYMER_PROFILE")}
    command = [str(Path(sys.executable).parent / "aiida-polymer"), "show", "5"]
    result = subprocess.run(command, env={**env, "AIIDA_PATH": str(tmp_path)}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0 and "Traceback" not in result.stdout + result.stderr
    assert f"the AiiDA profile 'aiida-polymer' is not there (AIIDA_PATH={tmp_path}" in result.stderr
    assert "make demo" in result.stderr and "export AIIDA_PATH=" in result.stderr


def _workflow(process_type: str, label: str, state=ProcessState.FINISHED, exit_status: int | None = 0,
              message: str | None = None, caller=None, link: str = "step") -> orm.WorkflowNode:
    node = orm.WorkflowNode()
    node.set_process_type(process_type)
    node.set_process_label(label)
    node.set_process_state(state)
    if exit_status is not None:
        node.set_exit_status(exit_status)
    if message:
        node.set_exit_message(message)
    if caller is not None:
        node.base.links.add_incoming(caller, link_type=LinkType.CALL_WORK, link_label=link)
    return node.store()


def test_show_what_is_not_a_polymer_run(aiida_profile):
    result = invoke("show", "99999")
    assert result.exit_code != 0 and "no node with PK 99999" in result.output
    data = orm.Dict({"a": 1}).store()
    result = invoke("show", str(data.pk))
    assert result.exit_code != 0 and f"PK {data.pk} is a Dict" in result.output and "not a polymer run" in (
        result.output)
    other = _workflow("aiida.workflows:core.arithmetic.add_multiply", "AddMultiplyWorkChain")
    result = invoke("show", str(other.pk))
    assert result.exit_code != 0 and "not a polymer run" in result.output


def test_show_a_nemd_run_and_a_running_one(aiida_profile):
    node = _workflow("aiida.workflows:polymer.thermal_conductivity", "ThermalConductivityWorkChain")
    table = orm.Dict({"thermal_conductivity": {"value": 0.21, "unit": "W/(m K)", "stderr": 0.01, "flags": []}})
    table.store().base.links.add_incoming(node, link_type=LinkType.RETURN, link_label="properties")
    result = invoke("show", str(node.pk))
    assert result.exit_code == 0, result.output
    assert "thermal_conductivity" in result.output and "0.21 ± 0.01" in result.output
    running = _workflow("aiida.workflows:polymer.equilibrate", "EquilibrateWorkChain", ProcessState.WAITING, None)
    result = invoke("show", str(running.pk))
    assert result.exit_code == 0 and "still waiting" in result.output


def test_show_a_failed_run_names_the_failing_stage_and_its_report(aiida_profile):
    top = _workflow("aiida.workflows:polymer.properties", "PropertiesWorkChain", exit_status=402,
                    message="The equilibration failed: MD stage compression_03 failed")
    middle = _workflow("aiida.workflows:polymer.equilibrate", "EquilibrateWorkChain", exit_status=401,
                       message="MD stage compression_03 failed", caller=top, link="equilibrate")
    _workflow("aiida.workflows:polymer.lammps.base", "LammpsBaseWorkChain", caller=middle, link="packing")
    stage = _workflow("aiida.workflows:polymer.lammps.base", "LammpsBaseWorkChain", exit_status=301,
                      message="the LAMMPS run blew up twice", caller=middle, link="compression_03")
    stage.logger.report("lost atoms at step 1200: restarting with a smaller timestep")
    result = invoke("show", str(top.pk))
    assert result.exit_code != 0
    out = result.output
    assert f"PropertiesWorkChain<{top.pk}> (polymer.properties) failed [402]: The equilibration failed" in out
    assert f"failing stage: LammpsBaseWorkChain<{stage.pk}> (polymer.lammps.base) 'compression_03' failed [301]: " \
           "the LAMMPS run blew up twice" in out
    assert "lost atoms at step 1200" in out


def test_show_an_excepted_run_has_no_traceback(aiida_profile):
    node = _workflow("aiida.workflows:polymer.equilibrate", "EquilibrateWorkChain", ProcessState.EXCEPTED, None)
    node.set_exception('Traceback (most recent call last):\n  File "x.py", line 1\nKeyError: \'cell\'\n')
    node.logger.report('Traceback (most recent call last):\n  File "x.py", line 1\nKeyError: \'cell\'')
    result = invoke("show", str(node.pk))
    assert result.exit_code != 0 and "excepted: KeyError: 'cell'" in result.output


def test_submit_without_the_daemon_says_so(aiida_profile, clusters, monkeypatch):
    from aiida.manage.configuration.profile import Profile

    monkeypatch.setattr(Profile, "process_control_backend", property(lambda self: "core.zeromq"))
    before = _processes()
    result = invoke("submit", "*CC*", "--protocol", "fast", "--code-psi4", f"psi4@{clusters['slurm'].label}")
    assert result.exit_code != 0
    assert "the daemon is not running: start it with `verdi" in result.output and "daemon start`" in result.output
    assert _processes() == before
    # the test profile has no broker at all: that is said too
    monkeypatch.setattr(Profile, "process_control_backend", property(lambda self: None))
    result = invoke("submit", "*CC*", "--protocol", "fast", "--code-psi4", f"psi4@{clusters['slurm'].label}")
    assert result.exit_code != 0 and "has no broker" in result.output


def test_presets_policy_on_a_missing_computer(aiida_profile, capsys):
    from aiida_polymer.presets.__main__ import main

    assert main(["policy", "no-such-computer"]) != 0
    err = capsys.readouterr().err
    assert "no computer 'no-such-computer'" in err and "Traceback" not in err


def test_ctrl_c_stops_following_not_the_job(aiida_profile, monkeypatch):
    """KeyboardInterrupt in the follow loop: the daemon started for the run keeps running, nothing is killed."""
    import time

    calls = []

    class Client:
        is_daemon_running = False

        def start_daemon(self, number_workers=1):
            calls.append("start")

        def stop_daemon(self, wait=True):
            calls.append("stop")

    node = _workflow("aiida.workflows:polymer.properties", "PropertiesWorkChain", ProcessState.WAITING, None)

    def interrupt(seconds):
        raise KeyboardInterrupt

    monkeypatch.setattr("aiida.engine.daemon.client.get_daemon_client", lambda: Client())
    monkeypatch.setattr(cli_module, "_submit", lambda builder: node)
    monkeypatch.setattr(time, "sleep", interrupt)
    monkeypatch.setattr(cli_module, "properties_builder", lambda *args, **kwargs: object())
    monkeypatch.setattr(cli_module, "_load_codes", lambda labels: {})
    monkeypatch.setattr("aiida_polymer.cli.jobs.job_options", lambda *args, **kwargs: {})
    result = invoke("submit", "*CC*", "--wait")
    assert calls == ["start"]  # started for the run, never stopped
    assert result.exit_code == 130
    assert "keeps running in the daemon" in result.output and f"verdi process report {node.pk}" in result.output
    assert f"aiida-polymer show {node.pk}" in result.output and "verdi daemon stop" in result.output
    assert orm.load_node(node.pk).process_state == ProcessState.WAITING  # not killed


def test_unexpected_errors_are_one_line(aiida_profile, monkeypatch):
    def boom(limit):
        raise RuntimeError("the database is locked")

    monkeypatch.setattr(cli_module, "recent_runs", boom)
    result = invoke("list")
    assert result.exit_code != 0
    assert "Error: RuntimeError: the database is locked" in result.output
    assert "--traceback" in result.output and "AIIDA_POLYMER_DEBUG=1" in result.output
    result = CliRunner().invoke(cli, ["--traceback", "list"])
    assert isinstance(result.exception, RuntimeError)  # the full traceback on request
