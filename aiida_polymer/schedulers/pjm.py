"""Scheduler plugin for the Fujitsu PJM job manager (Fugaku and other A64FX systems).

Commands: ``pjsub`` submits, ``pjstat`` lists active jobs (``pjstat -H`` lists finished ones) and ``pjdel``
kills. PJM reports through lines such as ``[INFO] PJM 0000 pjsub Job 123 submitted.`` and
``[ERR.] PJM 0071 pjsub ...``; an error can come with return code 0, so the text is always checked.
"""

from __future__ import annotations

import datetime
import math
import re
import string
import typing as t

from aiida.common.escaping import escape_for_bash
from aiida.common.exceptions import FeatureNotAvailable
from aiida.common.lang import type_check
from aiida.schedulers.datastructures import JobInfo, JobState, JobTemplate, NodeNumberJobResource
from aiida.schedulers.plugins.bash import BashCliScheduler
from aiida.schedulers.scheduler import Scheduler, SchedulerError, SchedulerParsingError

if t.TYPE_CHECKING:
    from aiida.common import AttributeDict
    from aiida.engine.processes.exit_code import ExitCode

__all__ = (
    "PjmJobResource",
    "PjmScheduler",
    "bulk_job_id",
    "parse_pjstat_statistics",
    "parse_pjstat_table",
    "split_bulk_job_id",
)

#: ``pjstat`` ST codes, and the long names shown by ``pjstat -s`` and site wrappers, as AiiDA job states.
#: ``ERR``/``ERROR`` (held by PJM after an error, until deleted) is deliberately absent: it is reported as
#: undetermined with a warning, like any unknown code.
STATE_MAP: dict[str, JobState] = {
    **dict.fromkeys(("ACC", "ACCEPT", "QUE", "QUEUED", "STGIN", "READY"), JobState.QUEUED),
    **dict.fromkeys(("HLD", "HOLD"), JobState.QUEUED_HELD),
    **dict.fromkeys(("RNA", "RNP", "RUN", "RNE", "RNO", "RSM", "STGOUT"), JobState.RUNNING),
    **dict.fromkeys(("RUNNING-A", "RUNNING-P", "RUNNING", "RUNNING-E", "RUNOUT", "RESUME"), JobState.RUNNING),
    **dict.fromkeys(("SPP", "SPD", "SUSPEND", "SUSPENDED"), JobState.SUSPENDED),
    **dict.fromkeys(("EXT", "EXIT", "END", "CCL", "CANCEL", "RJT", "REJECT"), JobState.DONE),
}

#: PJM job end codes ("PJM CODE", column PC) that map onto ``CalcJob`` exit codes.
PJM_CODE_EXIT_CODES: dict[int, str] = {
    11: "ERROR_SCHEDULER_OUT_OF_WALLTIME",  # elapsed-time limit exceeded
    12: "ERROR_SCHEDULER_OUT_OF_MEMORY",  # memory limit exceeded
    20: "ERROR_SCHEDULER_NODE_FAILURE",  # node down
    23: "ERROR_SCHEDULER_OUT_OF_MEMORY",  # killed by the OOM killer
}

#: PJM message number of ``pjsub``'s "Group not authorized to submit a job".
PJM_INVALID_GROUP = "0071"

_ERR_LINE = re.compile(r"^\s*\[ERR\.\]\s*(?:[A-Z]+\s+(?P<code>\d{4})\b)?.*$", re.MULTILINE)
_SUBMITTED = re.compile(r"\bJob\s+(?P<job_id>\d+(?:_\d+|\[\d+\])?)\s+submitted\b")
_JOB_ID = re.compile(r"^\d+(?:_\d+|\[\d+\])?$")
_BULK_JOB_ID = re.compile(r"^(?P<parent>\d+)\[(?P<number>\d+)\]$")
#: Bulk numbers that PJM accepts in ``--sparam`` (the Fugaku guide: 0 to 999999).
MAX_BULK_NUMBER = 999999
_SUMMARY_HEADER = re.compile(r"^\s*ACCEPT\s+QUEUED\b")
_SUMMARY_ROW = re.compile(r"^\s*[A-Za-z]?(?:\s+\d+)+\s*$")
_STAT_LINE = re.compile(r"^\s*(?P<key>[^:\[]+?)\s*:\s?(?P<value>.*)$")
_DATE = re.compile(
    r"^(?:(?P<year>\d{4})/)?(?P<month>\d{1,2})/(?P<day>\d{1,2})\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?$"
)


class PjmJobResource(NodeNumberJobResource):
    """Nodes, MPI processes per node and threads per process; by default threads fill a 48-core A64FX node."""

    #: Cores per node used to default the threads per process (A64FX: 48 compute cores).
    default_cores_per_machine: t.ClassVar[int] = 48

    @classmethod
    def validate_resources(cls, **kwargs: t.Any) -> AttributeDict:
        """Validate the resources and fill ``num_cores_per_mpiproc`` and ``num_cores_per_machine``."""
        resources = super().validate_resources(**kwargs)
        procs = resources.num_mpiprocs_per_machine
        per_machine, per_proc = resources.num_cores_per_machine, resources.num_cores_per_mpiproc

        for name in ("num_cores_per_machine", "num_cores_per_mpiproc"):
            if resources[name] is not None and resources[name] < 1:
                raise ValueError(f"`{name}` must be greater than or equal to one.")

        if per_machine is not None and per_proc is not None:
            if per_machine != per_proc * procs:
                raise ValueError(
                    "`num_cores_per_machine` must equal `num_cores_per_mpiproc * num_mpiprocs_per_machine`."
                )
        elif per_machine is not None:
            if per_machine % procs:
                raise ValueError("`num_cores_per_machine` must be a multiple of `num_mpiprocs_per_machine`.")
            resources.num_cores_per_mpiproc = per_machine // procs
        else:
            if per_proc is None:
                per_proc = max(1, cls.default_cores_per_machine // procs)
            resources.num_cores_per_mpiproc = per_proc
            resources.num_cores_per_machine = per_proc * procs
        return resources


class PjmScheduler(BashCliScheduler):
    """Support for the Fujitsu PJM job manager (``pjsub``/``pjstat``/``pjdel``), as used on Fugaku."""

    _logger = Scheduler._logger.getChild("pjm")
    _features: t.ClassVar[dict[str, bool]] = {"can_query_by_user": False}
    _job_resource_class = PjmJobResource

    #: ``pjstat --choose`` items of the job list: id, name, state, user, group, resource group, nodes, elapse
    #: limit, elapsed time, accept date, start date, exit code, PJM code, signal.
    joblist_items: t.ClassVar[tuple[str, ...]] = (
        "jid", "jnam", "st", "usr", "grp", "rscg", "nnumr", "elpl", "elp", "adt", "sdt", "ec", "pc", "sn",
    )  # fmt: skip
    #: Longest job name written to ``#PJM --name``.
    max_job_name_length: t.ClassVar[int] = 63

    # Submission

    def _get_submit_script_header(self, job_tmpl: JobTemplate) -> str:
        """Return the ``#PJM`` directives and the ``OMP_NUM_THREADS`` export for ``job_tmpl``."""
        resource = job_tmpl.job_resource
        if not resource:
            raise ValueError("Job resources (num_machines etc.) are required for the PJM scheduler plugin.")

        lines = []
        if job_tmpl.job_name:
            lines.append(f"#PJM --name {self._job_name(job_tmpl.job_name)}")
        if job_tmpl.queue_name:
            lines.append(f'#PJM -L "rscgrp={job_tmpl.queue_name}"')
        lines.append(f'#PJM -L "node={resource.num_machines}"')
        if job_tmpl.max_wallclock_seconds is not None:
            lines.append(f'#PJM -L "elapse={self._format_elapse(job_tmpl.max_wallclock_seconds)}"')
        if job_tmpl.max_memory_kb:
            lines.append(f'#PJM -L "node-mem={self._format_memory(job_tmpl.max_memory_kb)}"')
        lines.append(f'#PJM --mpi "proc={resource.get_tot_num_mpiprocs()}"')
        lines.append(f'#PJM --mpi "max-proc-per-node={resource.num_mpiprocs_per_machine}"')
        if job_tmpl.account:
            lines.append(f"#PJM -g {job_tmpl.account}")
        if job_tmpl.priority:
            lines.append(f"#PJM -p {job_tmpl.priority}")
        if job_tmpl.qos:
            self.logger.warning("PJM has no QoS; ignoring qos=%s", job_tmpl.qos)
        if job_tmpl.submit_as_hold:
            self.logger.warning("submit_as_hold is not supported by the PJM plugin; submitting normally")
        lines.append("#PJM --restart" if job_tmpl.rerunnable else "#PJM --norestart")

        mail_events = ",".join(
            e for e, on in (("b", job_tmpl.email_on_started), ("e", job_tmpl.email_on_terminated)) if on
        )
        if mail_events:
            lines.append(f"#PJM -m {mail_events}")
        if job_tmpl.email:
            lines.append(f"#PJM --mail-list {job_tmpl.email}")
        if job_tmpl.import_sys_environment:
            lines.append("#PJM -X")

        if job_tmpl.sched_join_files:
            lines.append("#PJM -j")
            if job_tmpl.sched_output_path:
                lines.append(f"#PJM -o {job_tmpl.sched_output_path}")
            if job_tmpl.sched_error_path:
                self.logger.info("sched_join_files is True: ignoring sched_error_path")
        else:
            if job_tmpl.sched_output_path:
                lines.append(f"#PJM -o {job_tmpl.sched_output_path}")
            if job_tmpl.sched_error_path:
                lines.append(f"#PJM -e {job_tmpl.sched_error_path}")
        lines.append("#PJM -s")

        if job_tmpl.custom_scheduler_commands:
            lines.append(job_tmpl.custom_scheduler_commands)
        lines.append(f"export OMP_NUM_THREADS={resource.num_cores_per_mpiproc}")
        return "\n".join(lines)

    def _get_submit_command(self, submit_script: str) -> str:
        """Return ``pjsub <script>``; ``submit_script`` is already escaped."""
        return f"pjsub {submit_script}"

    def _parse_submit_output(self, retval: int, stdout: str, stderr: str) -> str | ExitCode:
        """Return the job id printed by ``pjsub``, the invalid-account exit code for PJM 0071, or raise."""
        errors = _ERR_LINE.findall(stdout) + _ERR_LINE.findall(stderr)
        if errors:
            self.logger.error(f"pjsub failed: retval={retval}; stdout={stdout}; stderr={stderr}")
            if PJM_INVALID_GROUP in errors:
                from aiida.engine import CalcJob

                return CalcJob.exit_codes.ERROR_SCHEDULER_INVALID_ACCOUNT  # type: ignore[no-any-return]
            message = "\n".join(text.strip() for text in (stdout, stderr) if text.strip())
            raise SchedulerError(f"pjsub failed: {message}")
        if retval != 0:
            raise SchedulerError(f"pjsub failed, retval={retval}\nstdout={stdout}\nstderr={stderr}")
        match = _SUBMITTED.search(stdout)
        if match is None:
            raise SchedulerError(f"could not find the job id in the pjsub output:\nstdout={stdout}\nstderr={stderr}")
        if stderr.strip():
            self.logger.warning(f"pjsub wrote to stderr: {stderr}")
        return match["job_id"]

    # Bulk jobs: one submission, sub-jobs ``<id>[<bulk number>]``, the number in ``${PJM_BULKNUM}``

    def get_bulk_submit_command(self, submit_script: str, start: int, end: int) -> str:
        """Return ``pjsub --bulk --sparam START-END <script>``: sub-jobs ``START..END``; ``submit_script`` is
        already escaped."""
        if not 0 <= start <= end <= MAX_BULK_NUMBER:
            raise ValueError(f"bulk numbers must satisfy 0 <= start <= end <= {MAX_BULK_NUMBER}: {start}-{end}")
        return f"pjsub --bulk --sparam {start}-{end} {submit_script}"

    def parse_bulk_submit_output(self, retval: int, stdout: str, stderr: str) -> str:
        """Return the bulk job's id (``12345``) from the output of ``pjsub --bulk``; raise on any error.

        Accepts ``Job 12345 submitted.`` and the ``Job 12345[0] submitted.`` form that some sources report for bulk
        jobs (the sub-job number is dropped); an invalid group (PJM 0071) is a ``SchedulerError`` here.
        """
        result = self._parse_submit_output(retval, stdout, stderr)
        if not isinstance(result, str):
            raise SchedulerError(f"pjsub refused the group (PJM {PJM_INVALID_GROUP}):\n{stdout}{stderr}")
        parent, _ = split_bulk_job_id(result)
        if "_" in parent:
            raise SchedulerError(f"pjsub returned a step-job id {result!r} for a bulk submission")
        return parent

    def get_bulk_joblist_command(self, job_id: str, history: bool = False) -> str:
        """Return ``pjstat [-H] -E --data --choose=...`` for a bulk job: ``-E`` lists each sub-job, ``-H`` the
        finished ones (``pjstat`` without it shows only active jobs)."""
        parent, _ = split_bulk_job_id(job_id)
        history_flag = ["-H"] if history else []
        command = ["pjstat", *history_flag, "-E", "--data", f"--choose={','.join(self.joblist_items)}"]
        return " ".join([*command, escape_for_bash(parent)])

    def parse_bulk_joblist_output(
        self, job_id: str, retval: int, stdout: str, stderr: str
    ) -> tuple[JobInfo | None, dict[int, JobInfo]]:
        """Return the bulk job's own row (or None) and its sub-jobs by bulk number from ``pjstat -E`` output.

        Rows of other jobs are ignored; states are mapped as for single jobs (``job_substate`` keeps the ST code).
        """
        parent, _ = split_bulk_job_id(job_id)
        own: JobInfo | None = None
        subjobs: dict[int, JobInfo] = {}
        for info in self._parse_joblist_output(retval, stdout, stderr):
            row_parent, number = split_bulk_job_id(info.job_id)
            if row_parent != parent:
                continue
            if number is None:
                own = info
            else:
                subjobs[number] = info
        return own, subjobs

    # Job list

    def _get_joblist_command(self, jobs: list[str] | None = None, user: str | None = None) -> str:
        """Return a ``pjstat --data`` (CSV) command listing the given active jobs (or all of the user's)."""
        if user:
            raise FeatureNotAvailable("The PJM plugin queries jobs by id, not by user.")
        if isinstance(jobs, str):
            jobs = [jobs]
        command = ["pjstat", "--data", f"--choose={','.join(self.joblist_items)}"]
        command.extend(escape_for_bash(job) for job in jobs or [])
        return " ".join(command)

    def _parse_joblist_output(self, retval: int, stdout: str, stderr: str) -> list[JobInfo]:
        """Parse ``pjstat`` output (CSV or fixed-width) into ``JobInfo`` objects; raise on anything unparsable."""
        if retval != 0 or _ERR_LINE.search(stderr):
            raise SchedulerError(f"pjstat failed, retval={retval}\nstdout={stdout}\nstderr={stderr}")
        if stderr.strip():
            self.logger.warning(f"pjstat wrote to stderr: {stderr}")
        return [self._job_info(row) for row in parse_pjstat_table(stdout)]

    def _job_info(self, row: dict[str, str]) -> JobInfo:
        """Build a ``JobInfo`` from one ``pjstat`` row keyed by column header."""
        info = JobInfo()
        info.job_id = row["JOB_ID"]
        state = _first(row, "ST", "STATUS", "STATE")
        if state is None:
            raise SchedulerParsingError(f"pjstat row without a job state (ST column): {row}")
        info.job_substate = state
        info.job_state = STATE_MAP.get(state, JobState.UNDETERMINED)
        if state not in STATE_MAP:
            hint = "held by PJM after an error; delete it with pjdel" if state in ("ERR", "ERROR") else "unknown"
            self.logger.warning(f"job {info.job_id} has PJM state {state} ({hint}); reporting it as undetermined")

        fields: tuple[tuple[str, tuple[str, ...], t.Callable[[str], t.Any]], ...] = (
            ("title", ("JOB_NAME",), str),
            ("job_owner", ("USER",), str),
            ("account", ("GROUP", "PROJECT"), str),
            ("queue_name", ("RSC_GRP", "RSCGROUP"), str),
            ("annotation", ("REASON",), str),
            ("num_machines", ("NODE_REQUIRE", "NODE"), _parse_node_count),
            ("wallclock_time_seconds", ("ELAPSE_TIM", "ELAPSE_TIME", "ELAPSE"), parse_duration),
            ("requested_wallclock_time_seconds", ("ELAPSE_LIM",), parse_duration),
            ("submission_time", ("ACCEPT",), parse_date),
            ("dispatch_time", ("START_DATE",), parse_date),
        )
        if info.job_state == JobState.DONE:  # EC and SN read 0 before the job ends
            fields += (("exit_status", ("EC",), int), ("terminating_signal", ("SN",), int))
        for attribute, keys, convert in fields:
            raw = _first(row, *keys)
            if raw is None:
                continue
            try:
                value = convert(raw)
            except ValueError:
                self.logger.warning(f"job {info.job_id}: cannot parse {keys[0]}={raw!r}")
                continue
            if value is not None:
                info[attribute] = value
        info.raw_data = row
        return info

    def _get_detailed_job_info_command(self, job_id: str) -> str:
        """Return ``pjstat -H -s <id>``: the statistics of a finished job, as ``KEY : value`` lines."""
        return f"pjstat -H -s {escape_for_bash(job_id)}"

    # Kill

    def _get_kill_command(self, jobid: str) -> str:
        """Return ``pjdel <id>``."""
        return f"pjdel {escape_for_bash(jobid)}"

    def _parse_kill_output(self, retval: int, stdout: str, stderr: str) -> bool:
        """Return True if ``pjdel`` accepted the request (``[INFO] PJM 0100 pjdel Accepted job N.``)."""
        if retval != 0 or _ERR_LINE.search(stdout) or _ERR_LINE.search(stderr):
            self.logger.error(f"pjdel failed: retval={retval}; stdout={stdout}; stderr={stderr}")
            return False
        if "Accepted" not in stdout:
            self.logger.warning(f"unexpected pjdel output: stdout={stdout}; stderr={stderr}")
        return True

    # Output parsing

    def parse_output(
        self,
        detailed_job_info: dict[str, str | int] | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
    ) -> ExitCode | None:
        """Map the PJM job end code of the detailed job info onto a ``CalcJob`` exit code.

        Accepts ``pjstat -H -s`` statistics (``PJM CODE : n``) or a ``pjstat`` table with a ``PC`` column; codes
        11, 12/23 and 20 give out-of-walltime, out-of-memory and node-failure. Without a code, a REASON starting
        ``ELAPSE LIMIT`` or ``LIMIT OVER MEM`` is used.
        """
        if detailed_job_info is None:
            return None
        type_check(detailed_job_info, dict)
        try:
            text = detailed_job_info["stdout"]
        except KeyError:
            raise ValueError("the `detailed_job_info` does not contain the required key `stdout`.") from None
        type_check(text, str)
        assert isinstance(text, str)

        if re.search(r"^\s*PJM CODE\s*:", text, re.MULTILINE):
            records, code_key = parse_pjstat_statistics(text), "PJM CODE"
        else:
            records, code_key = parse_pjstat_table(text), "PC"

        from aiida.engine import CalcJob

        for record in records:
            name = _exit_code_name(_first(record, code_key), _first(record, "REASON") or "")
            if name:
                return getattr(CalcJob.exit_codes, name)  # type: ignore[no-any-return]
        return None

    # Helpers

    def _job_name(self, name: str) -> str:
        """Keep letters, digits, ``_.-``; start with a letter or digit; truncate."""
        title = re.sub(r"[^a-zA-Z0-9_.-]+", "", name)
        if not title or title[0] not in string.ascii_letters + string.digits:
            title = f"j{title}"
        return title[: self.max_job_name_length]

    @staticmethod
    def _format_elapse(seconds: int | str) -> str:
        """Format a wallclock limit as ``H:MM:SS``."""
        try:
            total = int(seconds)
        except ValueError:
            total = 0
        if total <= 0:
            raise ValueError(f"max_wallclock_seconds must be a positive integer (in seconds), not {seconds!r}")
        return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"

    @staticmethod
    def _format_memory(kilobytes: int | str) -> str:
        """Format a memory limit in MiB (rounded up) for ``node-mem``."""
        try:
            total = int(kilobytes)
        except ValueError:
            total = 0
        if total <= 0:
            raise ValueError(f"max_memory_kb must be a positive integer (in kB), not {kilobytes!r}")
        return f"{math.ceil(total / 1024)}Mi"


def split_bulk_job_id(job_id: str) -> tuple[str, int | None]:
    """Split ``12345[3]`` into ``("12345", 3)``; any other id is ``(job_id, None)``."""
    match = _BULK_JOB_ID.match(job_id.strip())
    if match is None:
        return job_id.strip(), None
    return match["parent"], int(match["number"])


def bulk_job_id(parent: str, number: int) -> str:
    """The id of sub-job ``number`` of bulk job ``parent``, as ``pjstat`` prints it: ``12345[3]``."""
    return f"{parent}[{number}]"


def parse_pjstat_table(text: str) -> list[dict[str, str]]:
    """Parse ``pjstat`` job tables into one dict per job, keyed by column header.

    Reads ``--data`` CSV (header row ``H,...``, data rows ``,...``) and fixed-width tables (header row starting
    ``JOB_ID``), skipping banners and the older summary block. Raises ``SchedulerError`` on ``[ERR.]`` lines and
    ``SchedulerParsingError`` on rows that cannot be attributed to a job.
    """
    rows: list[dict[str, str]] = []
    header: str | None = None
    csv_names: list[str] | None = None
    in_summary = False
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            header, csv_names, in_summary = None, None, False
            continue
        if stripped.startswith("[ERR.]"):
            raise SchedulerError(f"pjstat reported an error: {stripped}")
        if stripped.startswith("["):
            continue  # [INFO] / [WARN] message
        if line.startswith("H,"):
            header, csv_names, in_summary = None, [name.strip() for name in line.split(",")[1:]], False
            continue
        if stripped.split()[0] == "JOB_ID":
            names = line.split()
            if len(set(names)) != len(names):
                raise SchedulerParsingError(f"duplicate pjstat column names: {line!r}")
            header, csv_names, in_summary = line, None, False
            continue
        if _SUMMARY_HEADER.match(line):
            header, csv_names, in_summary = None, None, True
            continue

        if csv_names is not None:
            values = line.split(",")
            if values[0].strip() or len(values) - 1 != len(csv_names):
                raise SchedulerParsingError(f"pjstat CSV row does not match its header {csv_names}: {line!r}")
            row = {name: value.strip() for name, value in zip(csv_names, values[1:], strict=True)}
        elif header is not None:
            row = _split_fixed_width(header, line)
        elif in_summary and _SUMMARY_ROW.match(line):
            continue
        elif _JOB_ID.match(stripped.split()[0]):
            raise SchedulerParsingError(f"pjstat job row without a header: {line!r}")
        else:
            continue  # banner such as a site's maintenance notice

        if not _JOB_ID.match(row.get("JOB_ID", "")):
            raise SchedulerParsingError(f"pjstat row without a valid JOB_ID: {line!r}")
        rows.append(row)
    return rows


def parse_pjstat_statistics(text: str) -> list[dict[str, str]]:
    """Parse ``pjstat -s`` output (``KEY : value`` lines) into one dict per job; a record starts at ``JOB ID``."""
    records: list[dict[str, str]] = []
    for line in text.splitlines():
        if line.strip().startswith("[ERR.]"):
            raise SchedulerError(f"pjstat reported an error: {line.strip()}")
        match = _STAT_LINE.match(line)
        if match is None:
            continue
        if match["key"] == "JOB ID":
            records.append({})
        if records:
            records[-1][match["key"]] = match["value"].strip()
    return records


def parse_duration(value: str) -> int | None:
    """Parse ``[[h]:mm:]ss`` (any number of hour digits) into seconds; for a ``min-max`` range use the maximum."""
    value = value.strip()
    if not value or value == "-":
        return None
    value = value.rsplit("-", 1)[-1]
    parts = value.split(":")
    if len(parts) > 3 or not all(part.isdigit() for part in parts):
        raise ValueError(f"invalid PJM time {value!r}")
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds


def parse_date(value: str, now: datetime.datetime | None = None) -> datetime.datetime | None:
    """Parse ``[YYYY/]MM/DD hh:mm[:ss]`` as a naive local time; a missing year is the latest not in the future.

    Returns None for ``-`` and for parenthesised (scheduled, not actual) dates; a trailing ``<`` is ignored.
    """
    value = value.strip().rstrip("<").strip()
    if not value or value == "-" or value.startswith("("):
        return None
    match = _DATE.match(value)
    if match is None:
        raise ValueError(f"invalid PJM date {value!r}")
    parts = {key: int(number) for key, number in match.groupdict(default="0").items()}
    if match["year"]:
        return datetime.datetime(**parts)
    now = now or datetime.datetime.now()
    for year in range(now.year, now.year - 5, -1):
        try:
            candidate = datetime.datetime(**{**parts, "year": year})
        except ValueError:  # 29 February
            continue
        if candidate <= now + datetime.timedelta(days=1):
            return candidate
    raise ValueError(f"invalid PJM date {value!r}")


def _split_fixed_width(header: str, line: str) -> dict[str, str]:
    """Split a fixed-width row by the header's column names.

    A word goes to the column whose name it overlaps (values may be left- or right-aligned); a word overlapping
    several names goes to the one aligned with it, and one overlapping none to the column whose region it starts in.
    """
    columns = [(match.start(), match.end(), match.group()) for match in re.finditer(r"\S+", header)]
    cells: dict[str, list[str]] = {name: [] for _, _, name in columns}
    for word in re.finditer(r"\S+", line):
        start, end = word.span()
        hits = [column for column in columns if start < column[1] and column[0] < end]
        if len(hits) > 1:
            hits = [c for c in hits if c[0] == start] or [c for c in hits if c[1] == end]
            if len(hits) != 1:
                raise SchedulerParsingError(f"cannot assign {word.group()!r} to a pjstat column: {line!r}")
        if not hits:
            hits = [column for column in columns if column[0] <= start][-1:]
            if not hits:
                raise SchedulerParsingError(f"cannot assign {word.group()!r} to a pjstat column: {line!r}")
        cells[hits[0][2]].append(word.group())
    return {name: " ".join(words) for name, words in cells.items()}


def _first(row: dict[str, str], *keys: str) -> str | None:
    """Return the first value among ``keys`` that is present and neither empty nor ``-``."""
    for key in keys:
        value = row.get(key, "").strip()
        if value and value != "-":
            return value
    return None


def _parse_node_count(value: str) -> int:
    """Parse ``N``, ``XxYxZ`` or either followed by ``:<option>`` into a node count."""
    return math.prod(int(part) for part in value.split(":", 1)[0].split("x"))


def _exit_code_name(pjm_code: str | None, reason: str) -> str | None:
    """Return the ``CalcJob`` exit code name for a PJM code, or from the REASON when there is no code."""
    if pjm_code is not None:
        try:
            return PJM_CODE_EXIT_CODES.get(int(pjm_code))
        except ValueError:
            pass
    if reason.startswith("ELAPSE LIMIT"):
        return "ERROR_SCHEDULER_OUT_OF_WALLTIME"
    if reason.startswith("LIMIT OVER MEM"):
        return "ERROR_SCHEDULER_OUT_OF_MEMORY"
    return None
