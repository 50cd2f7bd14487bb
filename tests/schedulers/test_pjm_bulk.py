"""PJM bulk jobs (``pjsub --bulk --sparam``): ids, commands and ``pjstat -E`` parsing on verbatim Fugaku outputs,
the generated bulk script, and a real run of that script over AiiDA-prepared job folders imported back into AiiDA.

There is no PJM here: PJM runs a bulk job's script once per bulk number with ``PJM_BULKNUM`` set, which is what
``test_bulk_run_and_import`` does with bash. The verbatim files are in ``data/pjm`` (origin: ``SOURCES.md``).
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from aiida import orm
from aiida.plugins import CalculationFactory
from aiida.schedulers import SchedulerError
from aiida.schedulers.datastructures import JobState

from aiida_polymer.schedulers.pjm import PjmScheduler, bulk_job_id, parse_pjstat_table, split_bulk_job_id
from aiida_polymer.schedulers.pjm_bulk import (
    BULK_SCRIPT,
    BulkJob,
    BulkSubmitter,
    import_subjob,
    prepare_folders,
    remote_operations,
    write_bulk_script,
)

PJM_DIR = Path(__file__).parent / "data" / "pjm"
CHOOSE = "--choose=jid,jnam,st,usr,grp,rscg,nnumr,elpl,elp,adt,sdt,ec,pc,sn"


def read_fixture(name: str) -> str:
    return (PJM_DIR / name).read_text()


@pytest.fixture
def scheduler() -> PjmScheduler:
    return PjmScheduler()


# Ids and commands


def test_bulk_job_ids_of_the_verbatim_listing():
    rows = parse_pjstat_table(read_fixture("pjstat_E_data_choose_jid_jmdl_bulk_fugaku.csv.txt"))
    split = [split_bulk_job_id(row["JOB_ID"]) for row in rows]
    assert split == [("34703955", None)] + [("34703955", number) for number in range(1, 5)]
    assert [bulk_job_id(parent, number) for parent, number in split[1:]] == [row["JOB_ID"] for row in rows[1:]]
    assert {row["MD"] for row in rows} == {"BU"}  # job model: bulk
    (single,) = parse_pjstat_table(read_fixture("pjstat_E_data_choose_jid_jmdl_single_fugaku.csv.txt"))
    assert split_bulk_job_id(single["JOB_ID"]) == ("34704010", None) and single["MD"] == "NM"
    assert split_bulk_job_id("71080_0") == ("71080_0", None)  # a step sub-job is not a bulk sub-job


def test_bulk_commands(scheduler):
    assert scheduler.get_bulk_submit_command("bulk.sh", 0, 3) == "pjsub --bulk --sparam 0-3 bulk.sh"
    assert scheduler.get_bulk_submit_command("bulk.sh", 5, 5) == "pjsub --bulk --sparam 5-5 bulk.sh"
    for start, end in [(3, 2), (-1, 2), (0, 1000000)]:
        with pytest.raises(ValueError, match="bulk numbers"):
            scheduler.get_bulk_submit_command("bulk.sh", start, end)
    assert scheduler.get_bulk_joblist_command("34716168") == f"pjstat -E --data {CHOOSE} '34716168'"
    assert scheduler.get_bulk_joblist_command("34716168[2]", history=True) == f"pjstat -H -E --data {CHOOSE} '34716168'"


@pytest.mark.parametrize(
    ("text", "job_id"),
    [
        (read_fixture("pjsub_submitted_fugaku.txt"), "6291500"),  # verbatim; the plain form, reported for bulk jobs too
        ("[INFO] PJM 0000 pjsub Job 12345[0] submitted.\n", "12345"),  # the form other sources report (SOURCES.md §7.3)
    ],
)
def test_bulk_submit_output(scheduler, text, job_id):
    assert scheduler.parse_bulk_submit_output(0, text, "") == job_id


@pytest.mark.parametrize(
    "stdout",
    [
        "[ERR.] PJM 0071 pjsub Group not authorized to submit a job: group(hp000000).\n",
        read_fixture("pjsub_err_0007_staging_k_computer_legacy.txt"),
        "[INFO] PJM 0000 pjsub Job 71080_0 submitted.\n",  # a step job is not a bulk job
    ],
)
def test_bulk_submit_errors(scheduler, stdout):
    with pytest.raises(SchedulerError):
        scheduler.parse_bulk_submit_output(0, stdout, "")


# Sub-job states from pjstat -E


def test_bulk_states_of_the_verbatim_active_listing(scheduler):
    text = read_fixture("pjstat_s_E_data_choose_active_fugaku.csv.txt")
    own, subjobs = scheduler.parse_bulk_joblist_output("34716168", 0, text, "")
    assert own.job_id == "34716168" and own.job_state == JobState.QUEUED
    assert sorted(subjobs) == [1, 2]  # the row of job 34716160 belongs to another job
    assert [subjobs[n].job_id for n in (1, 2)] == ["34716168[1]", "34716168[2]"]
    assert {(info.job_state, info.job_substate, info.queue_name) for info in subjobs.values()} == {
        (JobState.QUEUED, "QUE", "small")
    }
    own, subjobs = scheduler.parse_bulk_joblist_output("34716160", 0, text, "")
    assert own.job_id == "34716160" and subjobs == {}


def test_bulk_states_mixed(scheduler):
    """Sub-jobs in different states, in the verbatim CSV layout of ``pjstat -E --data`` (the codes of SOURCES.md)."""
    header = read_fixture("pjstat_s_E_data_choose_active_fugaku.csv.txt").splitlines()[0]
    rows = [
        "34716168,10/11 10:23:03,small,RUN",
        "34716168[0],10/11 10:23:03,small,EXT",
        "34716168[1],10/11 10:23:03,small,RUN",
        "34716168[2],10/11 10:23:03,small,QUE",
        "34716168[3],10/11 10:23:03,small,HLD",
        "34716168[4],10/11 10:23:03,small,CCL",
    ]
    text = "\n".join([header, *(f",{row}" for row in rows)]) + "\n"
    own, subjobs = scheduler.parse_bulk_joblist_output("34716168", 0, text, "")
    assert own.job_state == JobState.RUNNING
    assert {n: info.job_state for n, info in subjobs.items()} == {
        0: JobState.DONE,
        1: JobState.RUNNING,
        2: JobState.QUEUED,
        3: JobState.QUEUED_HELD,
        4: JobState.DONE,
    }


def test_bulk_states_error(scheduler):
    with pytest.raises(SchedulerError, match="0211"):
        scheduler.parse_bulk_joblist_output("r1", 1, "", read_fixture("pjstat_err_0211_invalid_jobid_fugaku.txt"))


# The bulk script

HEADER = [
    '#PJM -L "rscgrp=small"',
    '#PJM -L "node=1"',
    '#PJM -L "elapse=1:00:00"',
    '#PJM --mpi "proc=4"',
    "#PJM -g hp230000",
    "#PJM --norestart",
    "#PJM -s",
]


def job_script(name: str, command: str, header=HEADER) -> str:
    return (
        "\n".join(
            [
                "#!/bin/bash",
                f"#PJM --name {name}",
                *header,
                "#PJM -o _scheduler-stdout.txt",
                "#PJM -e _scheduler-stderr.txt",
                "export OMP_NUM_THREADS=12",
                command,
            ]
        )
        + "\n"
    )


GOLDEN_BODY = [
    "# PJM bulk job: pjsub --bulk --sparam 1-2 bulk.sh",
    "# sub-job N runs _aiidasubmit.sh in FOLDERS[N - 1]",
    "FOLDERS=(",
    "  '/data/hp/u/pe'",
    "  '/data/hp/u/ps'",
    ")",
    "START=1",
    'if [ -z "${PJM_BULKNUM:-}" ]; then echo "PJM_BULKNUM is not set: submit with pjsub --bulk" >&2; exit 2; fi',
    "INDEX=$((PJM_BULKNUM - START))",
    'if [ "$INDEX" -lt 0 ] || [ "$INDEX" -ge "${#FOLDERS[@]}" ]; then',
    '  echo "bulk number $PJM_BULKNUM is outside $START..$((START + ${#FOLDERS[@]} - 1))" >&2; exit 2',
    "fi",
    'cd "${FOLDERS[$INDEX]}" || exit 2',
    "bash '_aiidasubmit.sh' > '_scheduler-stdout.txt' 2> '_scheduler-stderr.txt'",
    "STATUS=$?",
    'echo "$STATUS" > _bulk_exit_status',
    'exit "$STATUS"',
]


def test_bulk_script_golden():
    scripts = [job_script("aiida-1", "lmp -in a"), job_script("aiida-2", "lmp -in b")]
    script = write_bulk_script(scripts, ["/data/hp/u/pe", "/data/hp/u/ps"], start=1, name="seg 3")
    assert script == "\n".join(["#!/bin/bash", "#PJM --name seg3", *HEADER, *GOLDEN_BODY]) + "\n"


def test_bulk_script_refuses_different_job_sizes():
    other = [line.replace("node=1", "node=2") for line in HEADER]
    with pytest.raises(ValueError, match="node=2"):
        write_bulk_script([job_script("a", "x"), job_script("b", "y", other)], ["a", "b"])
    with pytest.raises(ValueError, match="one job script per folder"):
        write_bulk_script([job_script("a", "x")], ["a", "b"])


@pytest.mark.parametrize(("number", "message"), [("", "PJM_BULKNUM is not set"), ("7", "outside 1..2")])
def test_bulk_script_refuses_a_wrong_bulk_number(tmp_path, number, message):
    script = tmp_path / BULK_SCRIPT
    script.write_text(write_bulk_script([job_script("a", "true")] * 2, ["a", "b"], start=1))
    env = {key: value for key, value in os.environ.items() if key != "PJM_BULKNUM"}
    if number:
        env["PJM_BULKNUM"] = number
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr


# A real run: AiiDA-prepared folders, the bulk script run per bulk number, the results imported into AiiDA


@pytest.fixture
def pjm_computer(aiida_profile_clean, tmp_path):
    """A PJM computer on the local transport (the job scripts are AiiDA's own, with their #PJM lines)."""
    computer = orm.Computer(
        label="pjm-local",
        hostname="localhost",
        transport_type="core.local",
        scheduler_type="polymer.pjm",
        workdir=str(tmp_path / "pjm-work"),
    ).store()
    computer.configure()
    return computer


def test_bulk_run_and_import(pjm_computer, aiida_localhost, tmp_path):
    ArithmeticAdd = CalculationFactory("core.arithmetic.add")
    code = orm.InstalledCode(
        label="bash",
        computer=pjm_computer,
        filepath_executable="/bin/bash",
        default_calc_job_plugin="core.arithmetic.add",
    ).store()

    def builder(x: int, y: int):
        b = ArithmeticAdd.get_builder()
        b.code, b.x, b.y = code, orm.Int(x), orm.Int(y)
        b.metadata.options.resources = {"num_machines": 1, "num_mpiprocs_per_machine": 1}
        b.metadata.options.max_wallclock_seconds = 600
        b.metadata.options.queue_name = "small"
        b.metadata.options.account = "hp230000"
        return b

    pairs = [(1, 2), (10, 20), (100, 200)]
    builders = [builder(x, y) for x, y in pairs]
    folders = prepare_folders(builders, tmp_path)
    assert not orm.QueryBuilder().append(orm.CalcJobNode).count()  # the dry runs stored nothing
    assert all('#PJM -L "rscgrp=small"' in (folder / "_aiidasubmit.sh").read_text() for folder in folders)

    remote = tmp_path / "fugaku" / "bulk-1"
    with pjm_computer.get_transport() as transport:
        job = BulkSubmitter(transport).prepare(folders, str(remote), start=0, name="add")
    script = (remote / BULK_SCRIPT).read_text()
    assert script.splitlines()[:3] == ["#!/bin/bash", "#PJM --name add", '#PJM -L "rscgrp=small"']
    assert "#PJM -g hp230000" in script and "#PJM -o" not in script and "aiida-None" not in script
    assert job.folders == [str(remote / f"sub-{n:06d}") for n in range(3)] and job.end == 2

    for number in job.numbers():  # what PJM does with each sub-job of pjsub --bulk --sparam 0-2
        env = {**os.environ, "PJM_BULKNUM": str(number)}
        subprocess.run(["bash", BULK_SCRIPT], cwd=remote, env=env, check=True, timeout=60)

    job.job_id = "34716168"  # the id pjsub would have printed
    for number, (x, y), b in zip(job.numbers(), pairs, builders, strict=True):
        assert (Path(job.folder(number)) / "aiida.out").read_text().strip() == str(x + y)
        with pjm_computer.get_transport() as transport:
            folder = BulkSubmitter(transport).fetch(job, number, tmp_path / "back" / str(number))
        assert (folder / "_bulk_exit_status").read_text() == "0\n"
        node = import_subjob(b, folder, aiida_localhost, job_id=job.subjob_id(number))  # the same builder
        assert node.is_finished_ok and node.outputs.sum.value == x + y
        assert node.base.attributes.get(orm.CalcJobNode.IMMIGRATED_KEY) is True
        assert node.base.extras.get("pjm_bulk_job_id") == f"34716168[{number}]"
        assert node.base.extras.get("pjm_bulk_exit_status") == 0
        assert node.inputs.x.value == x
        assert "_scheduler-stdout.txt" in node.outputs.retrieved.base.repository.list_object_names()


def test_bulk_lammps_segments_of_several_polymers(pjm_computer, tmp_path):
    """The bulk script over the job folders of LAMMPS production segments of two polymers (AiiDA's dry runs)."""
    from aiida_polymer.chem.builder import CellSpec, build_cell

    LammpsCalculation = CalculationFactory("polymer.lammps")
    code = orm.InstalledCode(
        label="lmp", computer=pjm_computer, filepath_executable="lmp", default_calc_job_plugin="polymer.lammps"
    ).store()
    builders = []
    parent = tmp_path / "fugaku" / "equilibrated-pp"  # the remote folder of PP's last equilibration job
    parent.mkdir(parents=True)
    for smiles in ("*CC*", "*CC(*)C"):
        cell = build_cell(CellSpec(smiles=[smiles], n_chains=2, atoms_per_chain=30, density=0.6, seed=1))
        b = LammpsCalculation.get_builder()
        b.code = code
        if smiles == "*CC(*)C":  # this segment starts from final.data of a job on the same computer
            (parent / "final.data").write_text(cell.data_file())
            b.parent_folder = orm.RemoteData(computer=pjm_computer, remote_path=str(parent))
        else:
            b.data_file = orm.SinglefileData(io.BytesIO(cell.data_file().encode()), filename="system.data")
        b.stage = orm.Dict(
            {
                "name": "production",
                "ensemble": "npt",
                "steps": 1000,
                "temperature": 300.0,
                "pressure": 1.0,
                "thermo_every": 100,
                "velocity_seed": 1,
            }
        )
        b.metadata.options = {
            "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 4},
            "max_wallclock_seconds": 3600,
            "withmpi": True,
            "queue_name": "small",
        }
        builders.append(b)
    folders = prepare_folders(builders, tmp_path)
    scripts = [(folder / "_aiidasubmit.sh").read_text() for folder in folders]
    script = write_bulk_script(scripts, [str(folder) for folder in folders], name="production")
    assert '#PJM --mpi "proc=4"' in script and "export OMP_NUM_THREADS=12" not in script  # in each folder's script
    assert all("export OMP_NUM_THREADS=12" in s and "'lmp' '-in' 'in.lammps'" in s for s in scripts)
    assert (folders[0] / "system.data").exists() and not (folders[1] / "system.data").exists()
    assert remote_operations(folders[0]) == []
    assert remote_operations(folders[1]) == [("copy", str(parent / "final.data"), "parent.data")]

    remote = tmp_path / "fugaku" / "bulk-production"
    with pjm_computer.get_transport() as transport:
        job = BulkSubmitter(transport).prepare(folders, str(remote), name="production")
        with pytest.raises(ValueError, match="absolute path"):
            BulkSubmitter(transport).prepare(folders, "bulk-production")
    assert job == BulkJob(workdir=str(remote), folders=[str(remote / "sub-000000"), str(remote / "sub-000001")])
    first, second = (Path(folder) for folder in job.folders)
    assert (first / "system.data").exists() and (first / "in.lammps").exists()
    assert (second / "parent.data").read_text() == (parent / "final.data").read_text()  # the remote copy, made
    assert not (second / "_aiida_remote_copy_list.txt").exists()
    assert "parent.data" in (second / "in.lammps").read_text()
    assert (remote / BULK_SCRIPT).read_text() == script.replace(str(folders[0]), str(first)).replace(
        str(folders[1]), str(second)
    )


def test_bulk_submit_and_status_commands(pjm_computer, tmp_path, monkeypatch):
    """``submit`` and ``status`` through a transport: the commands they run and how they read the answers.

    There is no PJM here: ``pjsub`` and ``pjstat`` are stand-ins on the PATH that log their arguments and print
    the verbatim Fugaku outputs (the bulk job's id put in the submission line, sub-job 0 in the history listing)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "commands.log"
    bin_dir.mkdir()
    submitted = read_fixture("pjsub_submitted_fugaku.txt").replace("6291500", "34716168")
    active = read_fixture("pjstat_s_E_data_choose_active_fugaku.csv.txt")
    history = read_fixture("pjstat_s_E_data_choose_H_history_fugaku.csv.txt").splitlines()[0]
    history += "\n,34716168[0],10/11 10:23:03,small,EXT\n"
    for name, body in [
        ("pjsub", f"printf %s {shlex.quote(submitted)}"),
        (
            "pjstat",
            f'case " $* " in *" -H "*) printf %s {shlex.quote(history)};; *) printf %s {shlex.quote(active)};; esac',
        ),
    ]:
        (bin_dir / name).write_text(f'#!/bin/bash\necho "{name} $*  (in $PWD)" >> {log}\n{body}\n')
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    pjm_computer.configure(use_login_shell=False)  # a login shell would reset the PATH
    remote = tmp_path / "fugaku" / "bulk-3"
    remote.mkdir(parents=True)
    (remote / BULK_SCRIPT).write_text("#!/bin/bash\n")
    job = BulkJob(workdir=str(remote), folders=[str(remote / f"sub-{n:06d}") for n in range(4)])
    with pjm_computer.get_transport() as transport:
        bulk = BulkSubmitter(transport)
        assert bulk.submit(job).job_id == "34716168"
        states = bulk.status(job)
    commands = log.read_text().splitlines()
    assert commands[0] == f"pjsub --bulk --sparam 0-3 bulk.sh  (in {remote})"  # submitted from the work folder
    assert [line.split("  (in ")[0] for line in commands[1:]] == [
        f"pjstat -E --data {CHOOSE} 34716168",
        f"pjstat -H -E --data {CHOOSE} 34716168",  # sub-jobs 0 and 3 are no longer active
    ]
    assert {n: (info.job_id, info.job_state, info.job_substate) for n, info in states.items()} == {
        0: ("34716168[0]", JobState.DONE, "EXT"),
        1: ("34716168[1]", JobState.QUEUED, "QUE"),
        2: ("34716168[2]", JobState.QUEUED, "QUE"),
        3: ("34716168[3]", JobState.DONE, "unknown"),  # in neither list
    }
