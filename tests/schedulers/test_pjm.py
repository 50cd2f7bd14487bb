"""Tests for the ``polymer.pjm`` scheduler plugin (Fujitsu PJM, Fugaku).

The verbatim PJM outputs are in ``data/pjm`` beside this file; its ``SOURCES.md`` gives the origin and licence of
every file. A missing fixture fails the test that needs it.
"""

from __future__ import annotations

import datetime
import logging
from pathlib import Path

import pytest
from aiida.common.datastructures import CodeRunMode
from aiida.common.exceptions import FeatureNotAvailable
from aiida.engine import CalcJob
from aiida.schedulers import SchedulerError, SchedulerParsingError
from aiida.schedulers.datastructures import JobState, JobTemplate, JobTemplateCodeInfo

from aiida_polymer.schedulers.pjm import (
    PjmJobResource,
    PjmScheduler,
    parse_date,
    parse_duration,
    parse_pjstat_statistics,
    parse_pjstat_table,
)

PJM_DIR = Path(__file__).parent / "data" / "pjm"
EXIT_CODES = CalcJob.exit_codes


def read_fixture(name: str) -> str:
    """The text of a PJM fixture; a missing file raises (fails the test), never skips."""
    return (PJM_DIR / name).read_text()


def month_day_time(value: datetime.datetime) -> tuple[int, ...]:
    """Date without the year, which pjstat does not print and the parser infers from today."""
    return (value.month, value.day, value.hour, value.minute, value.second)


def detailed(stdout: str) -> dict[str, str | int]:
    """A detailed-job-info dict as ``Scheduler.get_detailed_job_info`` returns it."""
    return {"retval": 0, "stdout": stdout, "stderr": ""}


@pytest.fixture
def scheduler() -> PjmScheduler:
    return PjmScheduler()


def make_template(scheduler: PjmScheduler, **resources: int) -> JobTemplate:
    """A job template like the one ``CalcJob.presubmit`` builds."""
    job_tmpl = JobTemplate()
    job_tmpl.shebang = "#!/bin/bash"
    job_tmpl.job_name = "aiida-42"
    job_tmpl.job_resource = scheduler.create_job_resource(
        **(resources or {"num_machines": 2, "num_mpiprocs_per_machine": 4})
    )
    code_info = JobTemplateCodeInfo()
    code_info.cmdline_params = ["mpiexec", "lmp", "-in", "in.lammps"]
    code_info.stdout_name = "log.out"
    job_tmpl.codes_info = [code_info]
    job_tmpl.codes_run_mode = CodeRunMode.SERIAL
    return job_tmpl


# Submit script


def test_submit_script_golden(scheduler):
    job_tmpl = make_template(scheduler)
    job_tmpl.queue_name = "small"
    job_tmpl.account = "hp230000"
    job_tmpl.max_wallclock_seconds = 24 * 3600 + 90
    job_tmpl.sched_output_path = "_scheduler-stdout.txt"
    job_tmpl.sched_error_path = "_scheduler-stderr.txt"
    job_tmpl.custom_scheduler_commands = "#PJM -x PJM_LLIO_GFSCACHE=/vol0004\n#PJM --llio localtmp-size=10Gi"

    assert scheduler.get_submit_script(job_tmpl) == (
        "#!/bin/bash\n"
        "#PJM --name aiida-42\n"
        '#PJM -L "rscgrp=small"\n'
        '#PJM -L "node=2"\n'
        '#PJM -L "elapse=24:01:30"\n'
        '#PJM --mpi "proc=8"\n'
        '#PJM --mpi "max-proc-per-node=4"\n'
        "#PJM -g hp230000\n"
        "#PJM --norestart\n"
        "#PJM -o _scheduler-stdout.txt\n"
        "#PJM -e _scheduler-stderr.txt\n"
        "#PJM -s\n"
        "#PJM -x PJM_LLIO_GFSCACHE=/vol0004\n"
        "#PJM --llio localtmp-size=10Gi\n"
        "export OMP_NUM_THREADS=12\n"
        "\n"
        "'mpiexec' 'lmp' '-in' 'in.lammps'  > 'log.out'\n"  # aiida-core leaves a gap for the absent stdin
    )


def test_submit_script_join_memory_and_options(scheduler):
    job_tmpl = make_template(scheduler, num_machines=1, num_mpiprocs_per_machine=48)
    job_tmpl.max_wallclock_seconds = 30 * 60
    job_tmpl.max_memory_kb = 28 * 1024 * 1024
    job_tmpl.sched_output_path = "_scheduler-stdout.txt"
    job_tmpl.sched_error_path = "_scheduler-stderr.txt"
    job_tmpl.sched_join_files = True
    job_tmpl.rerunnable = True
    job_tmpl.email = "user@example.org"
    job_tmpl.email_on_started = True
    job_tmpl.email_on_terminated = True
    job_tmpl.import_sys_environment = True
    lines = scheduler.get_submit_script(job_tmpl).splitlines()

    for line in (
        '#PJM -L "node=1"',
        '#PJM -L "elapse=0:30:00"',
        '#PJM -L "node-mem=28672Mi"',
        '#PJM --mpi "proc=48"',
        "#PJM --restart",
        "#PJM -m b,e",
        "#PJM --mail-list user@example.org",
        "#PJM -X",
        "#PJM -j",
        "#PJM -o _scheduler-stdout.txt",
        "export OMP_NUM_THREADS=1",
    ):
        assert line in lines
    assert not any(line.startswith(("#PJM -e", "#PJM -g", '#PJM -L "rscgrp')) for line in lines)


def test_submit_script_without_optional_values(scheduler):
    job_tmpl = make_template(scheduler)
    job_tmpl.job_name = "#1 polymer cell!"
    header = scheduler._get_submit_script_header(job_tmpl)
    assert header.splitlines()[0] == "#PJM --name 1polymercell"
    assert "elapse" not in header and "node-mem" not in header and "#PJM -j" not in header
    assert "#PJM -o" not in header and "#PJM -e" not in header


@pytest.mark.parametrize(("name", "expected"), [("aiida-7", "aiida-7"), ("-x", "j-x"), ("", "j"), ("a" * 80, "a" * 63)])
def test_job_name_sanitised(scheduler, name, expected):
    assert scheduler._job_name(name) == expected


@pytest.mark.parametrize(("seconds", "elapse"), [(1, "0:00:01"), (3599, "0:59:59"), (72 * 3600, "72:00:00")])
def test_elapse_format(seconds, elapse):
    assert PjmScheduler._format_elapse(seconds) == elapse


@pytest.mark.parametrize("option", [{"max_wallclock_seconds": 0}, {"max_memory_kb": -5}])
def test_invalid_limits_raise(scheduler, option):
    job_tmpl = make_template(scheduler)
    for key, value in option.items():
        job_tmpl[key] = value
    with pytest.raises(ValueError):
        scheduler.get_submit_script(job_tmpl)


# Job resources


@pytest.mark.parametrize(
    ("resources", "threads", "cores"),
    [
        ({"num_machines": 2, "num_mpiprocs_per_machine": 4}, 12, 48),
        ({"num_machines": 1, "num_mpiprocs_per_machine": 48}, 1, 48),
        ({"num_machines": 1, "num_mpiprocs_per_machine": 96}, 1, 96),
        ({"num_machines": 1, "num_mpiprocs_per_machine": 5}, 9, 45),
        ({"num_machines": 1, "num_mpiprocs_per_machine": 4, "num_cores_per_mpiproc": 6}, 6, 24),
        ({"num_machines": 1, "num_mpiprocs_per_machine": 8, "num_cores_per_machine": 48}, 6, 48),
        ({"num_machines": 1, "tot_num_mpiprocs": 2, "num_cores_per_mpiproc": 2, "num_cores_per_machine": 4}, 2, 4),
    ],
)
def test_job_resource_threads(resources, threads, cores):
    resource = PjmJobResource(**resources)
    assert (resource.num_cores_per_mpiproc, resource.num_cores_per_machine) == (threads, cores)


@pytest.mark.parametrize(
    "resources",
    [
        {"num_machines": 1, "num_mpiprocs_per_machine": 4, "num_cores_per_machine": 10},
        {"num_machines": 1, "num_mpiprocs_per_machine": 4, "num_cores_per_mpiproc": 2, "num_cores_per_machine": 12},
        {"num_machines": 1, "num_mpiprocs_per_machine": 4, "num_cores_per_mpiproc": 0},
        {"num_machines": 1},
    ],
)
def test_job_resource_invalid(resources):
    with pytest.raises(ValueError):
        PjmScheduler.validate_resources(**resources)


# Commands


def test_commands(scheduler):
    assert scheduler._get_submit_command("aiida.sh") == "pjsub aiida.sh"
    assert scheduler._get_kill_command("6291500") == "pjdel '6291500'"
    assert scheduler._get_detailed_job_info_command("5159251") == "pjstat -H -s '5159251'"
    assert scheduler.can_get_detailed_job_info()
    choose = "--choose=jid,jnam,st,usr,grp,rscg,nnumr,elpl,elp,adt,sdt,ec,pc,sn"
    assert scheduler._get_joblist_command(jobs=["1", "2"]) == f"pjstat --data {choose} '1' '2'"
    assert scheduler._get_joblist_command() == f"pjstat --data {choose}"
    with pytest.raises(FeatureNotAvailable):
        scheduler._get_joblist_command(user="u13450")


# Submission output


@pytest.mark.parametrize(
    ("retval", "stdout", "stderr"),
    [
        (0, "[ERR.] PJM 0071 pjsub Group not authorized to submit a job: group(hp000000).\n", ""),
        (1, "", "[ERR.] PJM 0071 pjsub Group not authorized to submit a job: group(-).\n"),
    ],
)
def test_submit_invalid_group(scheduler, retval, stdout, stderr):
    assert scheduler._parse_submit_output(retval, stdout, stderr) == EXIT_CODES.ERROR_SCHEDULER_INVALID_ACCOUNT


@pytest.mark.parametrize(
    ("retval", "stdout", "stderr", "message"),
    [
        (0, "[ERR.] PJM 0057 pjsub node=500000 exceeds the upper limit.\n", "", "PJM 0057"),
        (1, "", "[ERR.] PJM 0045 pjsub bad PJM_LLIO_GFSCACHE\n", "PJM 0045"),
        (1, "", "", "retval=1"),
        (0, "The job is not submitted from a data area of a group.\n", "", "could not find the job id"),
    ],
)
def test_submit_errors_raise(scheduler, retval, stdout, stderr, message):
    with pytest.raises(SchedulerError, match=message):
        scheduler._parse_submit_output(retval, stdout, stderr)


# Kill output


@pytest.mark.parametrize(
    ("retval", "stdout", "stderr", "expected"),
    [
        (0, "[INFO] PJM 0100 pjdel Accepted job 6291500.\n", "", True),
        (0, "", "[ERR.] PJM 0112 pjdel Job 6291500 does not exist.\n", False),
        (1, "", "", False),
    ],
)
def test_kill_output(scheduler, retval, stdout, stderr, expected):
    assert scheduler._parse_kill_output(retval, stdout, stderr) is expected


# Job list output


@pytest.mark.parametrize(
    ("code", "state"),
    [
        *[(code, JobState.QUEUED) for code in ("ACC", "QUE")],
        ("HLD", JobState.QUEUED_HELD),
        *[(code, JobState.RUNNING) for code in ("RNA", "RNP", "RUN", "RNE", "RNO", "RSM")],
        *[(code, JobState.SUSPENDED) for code in ("SPP", "SPD")],
        *[(code, JobState.DONE) for code in ("EXT", "CCL", "RJT", "END")],
        *[(code, JobState.UNDETERMINED) for code in ("ERR", "XYZ")],
    ],
)
def test_state_mapping(scheduler, code, state):
    (job,) = scheduler._parse_joblist_output(0, f"H,JOB_ID,ST\n,7,{code}\n", "")
    assert job.job_state == state
    assert job.job_substate == code


def test_err_state_warns(scheduler, caplog):
    with caplog.at_level(logging.WARNING):
        (job,) = scheduler._parse_joblist_output(0, "H,JOB_ID,ST\n,7,ERR\n", "")
    assert job.job_state == JobState.UNDETERMINED
    assert "held by PJM after an error" in caplog.text


@pytest.mark.parametrize(
    "stdout",
    [
        "H,JOB_ID,ST\n,7,QUE,extra\n",  # CSV row longer than its header
        "H,JOB_ID,ST\n7,QUE\n",  # CSV row without the leading empty field
        "H,JOB_ID,ST\n,abc,QUE\n",  # not a job id
        "6291500    job1.sh    NM RNA a03010\n",  # job row without a header
        "JOB_ID     ST\nsome text  here\n",  # garbage under a header
        "H,JOB_ID,MD\n,7,NM\n",  # no ST column
    ],
)
def test_unparsable_joblist_raises(scheduler, stdout):
    with pytest.raises(SchedulerParsingError):
        scheduler._parse_joblist_output(0, stdout, "")


def test_joblist_failure_raises(scheduler):
    with pytest.raises(SchedulerError):
        scheduler._parse_joblist_output(1, "", "pjstat: command not found\n")
    with pytest.raises(SchedulerError):
        scheduler._parse_joblist_output(0, "", "[ERR.] PJM 0211 pjstat Invalid jobid: r1.\n")


def test_joblist_empty(scheduler):
    assert scheduler._parse_joblist_output(0, "", "") == []
    assert scheduler._parse_joblist_output(0, "H,JOB_ID,JOB_NAME,ST\n", "") == []


def test_fixed_width_right_aligned_and_overflowing_values():
    header = "JOB_ID       ST   NODE REASON"
    text = f"{header}\n34703955[12] RUN 12345 user:stop now\n34703955[1234] QUE   1 -\n"
    assert parse_pjstat_table(text) == [
        {"JOB_ID": "34703955[12]", "ST": "RUN", "NODE": "12345", "REASON": "user:stop now"},
        {"JOB_ID": "34703955[1234]", "ST": "QUE", "NODE": "1", "REASON": "-"},
    ]


# parse_output


@pytest.mark.parametrize(
    ("code", "exit_code"),
    [
        ("11", EXIT_CODES.ERROR_SCHEDULER_OUT_OF_WALLTIME),
        ("12", EXIT_CODES.ERROR_SCHEDULER_OUT_OF_MEMORY),
        ("23", EXIT_CODES.ERROR_SCHEDULER_OUT_OF_MEMORY),
        ("20", EXIT_CODES.ERROR_SCHEDULER_NODE_FAILURE),
        ("0", None),
        ("1", None),
    ],
)
def test_parse_output_pjm_code(scheduler, code, exit_code):
    statistics = f"[Job Statistical Information]\n JOB ID          : 1\n PJM CODE        : {code}\n REASON : -\n"
    assert scheduler.parse_output(detailed(statistics)) == exit_code
    table = f"H,JOB_ID,ST,EC,PC,SN\n,1,EXT,0,{code},9\n"
    assert scheduler.parse_output(detailed(table)) == exit_code


@pytest.mark.parametrize(
    ("reason", "exit_code"),
    [
        ("ELAPSE LIMIT EXC", EXIT_CODES.ERROR_SCHEDULER_OUT_OF_WALLTIME),
        ("LIMIT OVER MEMORY", EXIT_CODES.ERROR_SCHEDULER_OUT_OF_MEMORY),
        ("-", None),
    ],
)
def test_parse_output_reason_without_code(scheduler, reason, exit_code):
    assert scheduler.parse_output(detailed(f"H,JOB_ID,ST,REASON\n,1,EXT,{reason}\n")) == exit_code


def test_parse_output_without_information(scheduler):
    assert scheduler.parse_output(None, "", "") is None
    assert scheduler.parse_output(detailed(""), "", "") is None
    with pytest.raises(ValueError):
        scheduler.parse_output({"retval": 0}, "", "")


# Helpers


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0000:15:02", 902), ("00:00:01", 1), ("59:59", 3599), ("600", 600), ("-", None), ("0:10:00-0001:00:00", 3600)],
)
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


def test_parse_date():
    now = datetime.datetime(2027, 1, 1, 8, 0, 0)
    assert parse_date("12/31 23:00:00", now) == datetime.datetime(2026, 12, 31, 23, 0, 0)
    assert parse_date("01/01 09:00:00", now) == datetime.datetime(2027, 1, 1, 9, 0, 0)
    assert parse_date("02/29 10:00:00", datetime.datetime(2027, 3, 1)) == datetime.datetime(2024, 2, 29, 10, 0, 0)
    assert parse_date("2024/10/28 17:04:52") == datetime.datetime(2024, 10, 28, 17, 4, 52)
    assert parse_date("11/20 12:07:19<", now) == datetime.datetime(2026, 11, 20, 12, 7, 19)
    assert parse_date("(04/12 11:25)", now) is None
    assert parse_date("-", now) is None
    with pytest.raises(ValueError):
        parse_date("yesterday", now)


# Every verbatim PJM output


def check_csv_jid_jmdl_bulk(scheduler, text):
    rows = parse_pjstat_table(text)
    assert [row["JOB_ID"] for row in rows] == ["34703955"] + [f"34703955[{i}]" for i in range(1, 5)]
    assert {row["MD"] for row in rows} == {"BU"}
    with pytest.raises(SchedulerParsingError, match="ST column"):
        scheduler._parse_joblist_output(0, text, "")  # the job list needs the state column


def check_csv_jid_jmdl_single(scheduler, text):
    assert parse_pjstat_table(text) == [{"JOB_ID": "34704010", "MD": "NM"}]


def check_statistics_wisteria(scheduler, text):
    (record,) = parse_pjstat_statistics(text)
    assert record["JOB ID"] == "5159251"
    assert record["PJM CODE"] == "0"
    assert record["EXIT CODE"] == "0"
    assert record["SIGNAL NO"] == "-"
    assert record["STATE"] == "END"
    assert record["RESOURCE GROUP"] == "debug-o"
    assert record["STEP DEPENDENCY EXP"] == ""
    assert record["APPLICATION NAME"] == ":submitted on wisteria05:Power info not send"
    assert record["TOKEN"] == "0.0"
    assert scheduler.parse_output(detailed(text)) is None
    for code, name in [("11", "OUT_OF_WALLTIME"), ("12", "OUT_OF_MEMORY"), ("20", "NODE_FAILURE")]:
        failed = text.replace(" PJM CODE                                   : 0", f" PJM CODE : {code}")
        assert scheduler.parse_output(detailed(failed)) == getattr(EXIT_CODES, f"ERROR_SCHEDULER_{name}")


def check_history_elapse_exceeded(scheduler, text):
    first, second = scheduler._parse_joblist_output(0, text, "")
    assert (first.job_id, second.job_id) == ("49047829", "49047939")
    assert first.job_state == second.job_state == JobState.DONE
    assert first.raw_data["PC"] == "0" and first.annotation is None
    assert (second.exit_status, second.terminating_signal, second.raw_data["PC"]) == (0, 24, "11")
    assert second.annotation == "ELAPSE LIMIT EXC"
    assert (second.wallclock_time_seconds, second.requested_wallclock_time_seconds) == (902, 900)
    assert (second.title, second.job_owner, second.account, second.queue_name) == (
        "lucj-qpy-b",
        "u13450",
        "ra010014",
        "small",
    )
    assert month_day_time(second.dispatch_time) == (6, 1, 15, 22, 46)
    assert month_day_time(second.submission_time) == (6, 1, 15, 22, 16)
    assert scheduler.parse_output(detailed(text)) == EXIT_CODES.ERROR_SCHEDULER_OUT_OF_WALLTIME
    assert scheduler.parse_output(detailed(text.splitlines()[0] + "\n" + text.splitlines()[1])) is None


def check_k_summary_only(scheduler, text):
    assert scheduler._parse_joblist_output(0, text, "") == []


def check_err_0211(scheduler, text):
    with pytest.raises(SchedulerError, match="0211"):
        scheduler._parse_joblist_output(1, "", text)
    with pytest.raises(SchedulerError, match="0211"):
        scheduler._parse_joblist_output(0, text, "")


def check_k_running_with_summary(scheduler, text):
    (job,) = scheduler._parse_joblist_output(0, text, "")
    assert (job.job_id, job.job_state, job.job_substate) == ("112111", JobState.RUNNING, "RUN")
    assert (job.title, job.job_owner, job.num_machines) == ("test.sh", "test", 1)
    assert job.requested_wallclock_time_seconds == 24 * 3600
    assert month_day_time(job.dispatch_time) == (10, 29, 18, 42, 44)


def check_csv_history(scheduler, text):
    (job,) = scheduler._parse_joblist_output(0, text, "")
    assert (job.job_id, job.job_state, job.queue_name) == ("34716159", JobState.DONE, "small")
    assert month_day_time(job.submission_time) == (10, 11, 10, 21, 31)


def check_csv_active(scheduler, text):
    jobs = scheduler._parse_joblist_output(0, text, "")
    assert [job.job_id for job in jobs] == ["34716160", "34716168", "34716168[1]", "34716168[2]"]
    assert {job.job_state for job in jobs} == {JobState.QUEUED}
    assert {job.queue_name for job in jobs} == {"small"}
    assert month_day_time(jobs[1].submission_time) == (10, 11, 10, 23, 3)


def check_choose_jid_st_ec_sn(scheduler, text):
    (job,) = scheduler._parse_joblist_output(0, text, "")
    assert (job.job_id, job.job_state, job.exit_status, job.terminating_signal) == ("48969021", JobState.DONE, 0, 0)
    assert scheduler.parse_output(detailed(text)) is None


def check_v_rna_queued(scheduler, text):
    jobs = scheduler._parse_joblist_output(0, text, "")
    assert [job.job_id for job in jobs] == ["6291500", "6291501"]
    for job in jobs:
        assert (job.job_state, job.job_substate, job.raw_data["LST"]) == (JobState.RUNNING, "RNA", "QUE")
        assert (job.title, job.job_owner, job.account, job.queue_name) == ("job1.sh", "a03010", "rccs-aot", "small")
        assert (job.num_machines, job.wallclock_time_seconds, job.requested_wallclock_time_seconds) == (12, 0, 60)
        assert job.dispatch_time is None  # "(04/12 11:25)" is the scheduled start
        assert job.exit_status is None and job.raw_data["EC"] == "0"  # EC means nothing before the end
        assert job.raw_data["START_DATE"] == "(04/12 11:25)"
        assert job.raw_data["RANK"] == "bychip"
    assert month_day_time(jobs[1].submission_time) == (4, 12, 11, 25, 51)


def check_wisteria_default(scheduler, text):
    (job,) = scheduler._parse_joblist_output(0, text, "")
    assert (job.job_id, job.job_state, job.title) == ("5315177", JobState.RUNNING, "test")
    assert (job.account, job.queue_name, job.num_machines) == ("gd55", "debug-o", 1)
    assert (job.wallclock_time_seconds, job.requested_wallclock_time_seconds) == (1, 60)
    assert job.raw_data["TOKEN"] == "0.0" and job.raw_data["GPU"] == "-"
    assert month_day_time(job.dispatch_time) == (11, 20, 12, 7, 19)


def check_pjsub_err_0007(scheduler, text):
    with pytest.raises(SchedulerError, match="Staging option error") as error:
        scheduler._parse_submit_output(0, text, "")  # K returned 0 even on error
    assert "Refer to the staging information file" in str(error.value)


def submitted(job_id):
    def check(scheduler, text):
        assert scheduler._parse_submit_output(0, text, "") == job_id

    return check


FIXTURE_CHECKS = {
    "pjstat_E_data_choose_jid_jmdl_bulk_fugaku.csv.txt": check_csv_jid_jmdl_bulk,
    "pjstat_E_data_choose_jid_jmdl_single_fugaku.csv.txt": check_csv_jid_jmdl_single,
    "pjstat_H_s_detail_wisteria_odyssey.txt": check_statistics_wisteria,
    "pjstat_H_v_fugaku_elapse_exceeded.txt": check_history_elapse_exceeded,
    "pjstat_empty_summary_only_k_computer_legacy.txt": check_k_summary_only,
    "pjstat_err_0211_invalid_jobid_fugaku.txt": check_err_0211,
    "pjstat_running_with_summary_k_computer_legacy.txt": check_k_running_with_summary,
    "pjstat_s_E_data_choose_H_history_fugaku.csv.txt": check_csv_history,
    "pjstat_s_E_data_choose_active_fugaku.csv.txt": check_csv_active,
    "pjstat_v_choose_jid_st_ec_sn_fugaku.txt": check_choose_jid_st_ec_sn,
    "pjstat_v_fugaku_rna_queued.txt": check_v_rna_queued,
    "pjstat_wisteria_default.txt": check_wisteria_default,
    "pjsub_err_0007_staging_k_computer_legacy.txt": check_pjsub_err_0007,
    "pjsub_submitted_fugaku.txt": submitted("6291500"),
    "pjsub_submitted_wisteria.txt": submitted("5319425"),
    "pjsub_submitted_wisteria_seisflows.txt": submitted("1334958"),
}


@pytest.mark.parametrize("name", sorted(FIXTURE_CHECKS))
def test_verbatim_output(scheduler, name):
    FIXTURE_CHECKS[name](scheduler, read_fixture(name))


def test_every_fixture_is_checked():
    read_fixture("SOURCES.md")
    outputs = {path.name for path in PJM_DIR.iterdir() if path.name != "SOURCES.md"}
    assert outputs == set(FIXTURE_CHECKS), "add a check for each new PJM output"
