"""PJM bulk jobs: several prepared job folders run as the sub-jobs of one ``pjsub --bulk --sparam`` submission.

AiiDA runs one scheduler job per ``CalcJob``; a PJM bulk job is one submission whose sub-jobs differ only by
``${PJM_BULKNUM}``. This module bridges the two without touching the engine:

1. the ``CalcJob`` folders are prepared by AiiDA itself (``metadata.dry_run``: input files and ``_aiidasubmit.sh``,
   see :func:`prepare_folders`), all with the same job size (a bulk job has one resource request);
2. :class:`BulkSubmitter` copies them under one work folder on the PJM computer (any AiiDA transport), writes
   ``bulk.sh`` (:func:`write_bulk_script`: the common ``#PJM`` lines, then ``cd`` into folder
   ``${PJM_BULKNUM} - start`` and run that folder's job script with its scheduler output files), submits it with
   ``pjsub --bulk --sparam START-END`` and reports each sub-job's state from ``pjstat -E`` (``pjstat -H -E`` once
   it has left the active list);
3. when a sub-job has ended, :func:`import_subjob` brings its folder back and runs the same ``CalcJob`` with
   ``remote_folder`` (AiiDA's import of a completed job): the inputs, the retrieved files and the parser's outputs
   are in the provenance graph as for any calculation, with the sub-job id in the extra ``pjm_bulk_job_id``.

What AiiDA does not track: the bulk job's queue states and the time between submission and import (this module
does, through ``pjstat``); an imported calculation has no scheduler job id or ``detailed_job_info`` of its own,
so the PJM end codes (walltime, memory) are not mapped onto its exit code: :meth:`BulkSubmitter.status` reports
them per sub-job.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import tempfile
import typing as t
from pathlib import Path

from aiida.common.escaping import escape_for_bash
from aiida.schedulers.datastructures import JobInfo, JobState

from aiida_polymer.schedulers.pjm import PjmScheduler, bulk_job_id

if t.TYPE_CHECKING:
    from aiida import orm
    from aiida.transports import Transport

__all__ = ("BulkJob", "BulkSubmitter", "import_subjob", "prepare_folders", "remote_operations", "write_bulk_script")

SCRIPT_NAME = "_aiidasubmit.sh"
BULK_SCRIPT = "bulk.sh"
#: ``#PJM`` options that belong to one job, not to the bulk job: its name and its output files (written by the
#: bulk script into each sub-job's folder instead).
_PER_JOB = re.compile(r"^#PJM\s+(--name\b|-N\b|-o\b|-e\b|-j\b|--out\b|--err\b)")
_OUTPUT = re.compile(r"^#PJM\s+(?:-o|--out)\s+(?P<path>\S+)")
_ERROR = re.compile(r"^#PJM\s+(?:-e|--err)\s+(?P<path>\S+)")
#: What AiiDA's dry run writes instead of making the remote copies and symlinks (aiida.engine.daemon.execmanager;
#: one sentence per entry, not separated by newlines).
REMOTE_COPY_LIST = "_aiida_remote_copy_list.txt"
REMOTE_SYMLINK_LIST = "_aiida_remote_symlink_list.txt"
_NEXT = r"(?=would have |\Z)"
_COPIED = re.compile(
    rf"would have copied (?P<source>.+?) to (?P<destination>.+?) in working directory on remote .*?{_NEXT}", re.S
)
_LINKED = re.compile(
    rf"would have created symlinks from (?P<source>.+?) to (?P<destination>.+?) in working ?directory on remote "
    rf".*?{_NEXT}",
    re.S,
)


@dataclasses.dataclass
class BulkJob:
    """A submitted (or prepared) bulk job: its id, work folder and the sub-job folders in bulk-number order."""

    workdir: str
    folders: list[str]
    start: int = 0
    job_id: str | None = None

    @property
    def end(self) -> int:
        return self.start + len(self.folders) - 1

    def numbers(self) -> range:
        return range(self.start, self.end + 1)

    def subjob_id(self, number: int) -> str:
        if self.job_id is None:
            raise ValueError("the bulk job has not been submitted")
        return bulk_job_id(self.job_id, number)

    def folder(self, number: int) -> str:
        return self.folders[number - self.start]


def _header(script: str) -> list[str]:
    """The ``#PJM`` lines of a job script."""
    return [line.strip() for line in script.splitlines() if line.startswith("#PJM")]


def write_bulk_script(
    scripts: t.Sequence[str],
    folders: t.Sequence[str],
    *,
    start: int = 0,
    name: str = "bulk",
    script_name: str = SCRIPT_NAME,
) -> str:
    """Return the bulk job script that runs job script ``script_name`` of ``folders[PJM_BULKNUM - start]``.

    ``scripts`` are the folders' job scripts (AiiDA's ``_aiidasubmit.sh``): their ``#PJM`` lines, without the
    per-job ones (name, output files), must be the same, since a bulk job makes one resource request; they become
    the bulk job's header. Each sub-job writes its script's output and error files (``#PJM -o``/``-e``, by default
    AiiDA's ``_scheduler-stdout.txt``/``_scheduler-stderr.txt``) in its own folder, and exits with its script's
    exit status. Raises ``ValueError`` when the headers differ or nothing is given.
    """
    if not scripts or len(scripts) != len(folders):
        raise ValueError("give one job script per folder, and at least one")
    headers = [[line for line in _header(script) if not _PER_JOB.match(line)] for script in scripts]
    for index, header in enumerate(headers[1:], 1):
        if header != headers[0]:
            differ = sorted(set(header) ^ set(headers[0]))
            raise ValueError(
                f"job {index} ({folders[index]}) does not have the #PJM lines of job 0: {differ}; "
                "the sub-jobs of a bulk job share one resource request"
            )
    first = _header(scripts[0])
    stdout = next((m["path"] for m in map(_OUTPUT.match, first) if m), "_scheduler-stdout.txt")
    stderr = next((m["path"] for m in map(_ERROR.match, first) if m), "_scheduler-stderr.txt")
    joined = any(re.match(r"^#PJM\s+-j\b", line) for line in first)
    title = re.sub(r"[^a-zA-Z0-9_.-]+", "", name) or "bulk"
    array = "\n".join(f"  {escape_for_bash(folder)}" for folder in folders)
    redirect = (
        f"> {escape_for_bash(stdout)} 2>&1" if joined else f"> {escape_for_bash(stdout)} 2> {escape_for_bash(stderr)}"
    )
    lines = [
        "#!/bin/bash",
        f"#PJM --name {title}",
        *headers[0],
        f"# PJM bulk job: pjsub --bulk --sparam {start}-{start + len(folders) - 1} {BULK_SCRIPT}",
        f"# sub-job N runs {script_name} in FOLDERS[N - {start}]",
        "FOLDERS=(",
        array,
        ")",
        f"START={start}",
        'if [ -z "${PJM_BULKNUM:-}" ]; then echo "PJM_BULKNUM is not set: submit with pjsub --bulk" >&2; exit 2; fi',
        "INDEX=$((PJM_BULKNUM - START))",
        'if [ "$INDEX" -lt 0 ] || [ "$INDEX" -ge "${#FOLDERS[@]}" ]; then',
        '  echo "bulk number $PJM_BULKNUM is outside $START..$((START + ${#FOLDERS[@]} - 1))" >&2; exit 2',
        "fi",
        'cd "${FOLDERS[$INDEX]}" || exit 2',
        f"bash {escape_for_bash(script_name)} {redirect}",
        "STATUS=$?",
        'echo "$STATUS" > _bulk_exit_status',
        'exit "$STATUS"',
    ]
    return "\n".join(lines) + "\n"


def prepare_folders(builders: t.Iterable[t.Any], folder: Path | str) -> list[Path]:
    """Write the job folder of each ``CalcJob`` builder with AiiDA's dry run (nothing stored); return them.

    The folders land under ``folder/submit_test/`` (AiiDA's dry-run location, relative to the working folder). The
    builders are left as they were, to be given to :func:`import_subjob` afterwards.
    """
    import contextlib
    import os

    from aiida.engine import run_get_node

    paths = []
    with contextlib.chdir(folder):
        for builder in builders:
            before = builder.metadata.get("dry_run"), builder.metadata.get("store_provenance")
            builder.metadata.dry_run, builder.metadata.store_provenance = True, False
            try:
                _, node = run_get_node(builder)
            finally:
                for key, value in zip(("dry_run", "store_provenance"), before, strict=True):
                    if value is None:
                        builder.metadata.pop(key, None)
                    else:
                        builder.metadata[key] = value
            paths.append(Path(os.path.abspath(node.dry_run_info["folder"])))
    return paths


def remote_operations(folder: Path | str) -> list[tuple[str, str, str]]:
    """The remote copies and symlinks that AiiDA's dry run of ``folder`` listed: ``(kind, source, destination)``,
    kind ``copy`` or ``symlink``, source an absolute path on the computer, destination relative to the folder."""
    folder = Path(folder)
    operations = []
    for kind, listing, pattern in (("copy", REMOTE_COPY_LIST, _COPIED), ("symlink", REMOTE_SYMLINK_LIST, _LINKED)):
        if (folder / listing).exists():
            text = (folder / listing).read_text()
            operations += [(kind, match["source"], match["destination"]) for match in pattern.finditer(text)]
    return operations


class BulkSubmitter:
    """Copy job folders to a PJM computer, submit them as one bulk job, report and fetch the sub-jobs.

    ``transport`` is an open AiiDA transport to the computer (``computer.get_transport()``, used as a context
    manager); the commands run there are ``mkdir``, ``pjsub --bulk`` and ``pjstat``.
    """

    def __init__(self, transport: Transport, scheduler: PjmScheduler | None = None):
        self.transport = transport
        self.scheduler = scheduler or PjmScheduler()

    def prepare(self, folders: t.Sequence[Path | str], workdir: str, *, start: int = 0, name: str = "bulk") -> BulkJob:
        """Copy ``folders`` to ``workdir/sub-<number>`` on the computer and write ``workdir/bulk.sh``.

        ``workdir`` is an absolute path on the computer. The remote copies and symlinks that AiiDA's dry run only
        listed (``_aiida_remote_copy_list.txt``, ``_aiida_remote_symlink_list.txt``: e.g. the restart file of the
        previous segment, for a continuation) are made on the computer, as AiiDA's upload would.
        """
        if not workdir.startswith("/"):
            raise ValueError(f"the bulk job's work folder must be an absolute path on the computer: {workdir!r}")
        folders = [Path(folder) for folder in folders]
        scripts = [(folder / SCRIPT_NAME).read_text() for folder in folders]
        remote = [f"{workdir.rstrip('/')}/sub-{start + index:06d}" for index in range(len(folders))]
        script = write_bulk_script(scripts, remote, start=start, name=name)
        self.transport.makedirs(workdir, ignore_existing=True)
        for local, target in zip(folders, remote, strict=True):
            self.transport.puttree(str(local), target)
            for kind, source, destination in remote_operations(local):
                destination = f"{target}/{destination}"
                parent = destination.rsplit("/", 1)[0]
                if parent != target:
                    self.transport.makedirs(parent, ignore_existing=True)
                if kind == "copy":
                    self.transport.copy(source, destination)
                else:
                    self.transport.symlink(source, destination)
            for listing in (REMOTE_COPY_LIST, REMOTE_SYMLINK_LIST):
                if (local / listing).exists():
                    self.transport.remove(f"{target}/{listing}")
        with tempfile.NamedTemporaryFile("w", suffix=".sh") as handle:
            handle.write(script)
            handle.flush()
            self.transport.putfile(handle.name, f"{workdir.rstrip('/')}/{BULK_SCRIPT}")
        return BulkJob(workdir=workdir, folders=remote, start=start)

    def submit(self, job: BulkJob) -> BulkJob:
        """Submit a prepared bulk job (``pjsub --bulk --sparam START-END bulk.sh`` in its work folder)."""
        command = self.scheduler.get_bulk_submit_command(BULK_SCRIPT, job.start, job.end)
        retval, stdout, stderr = self.transport.exec_command_wait(f"cd {shlex.quote(job.workdir)} && {command}")
        job.job_id = self.scheduler.parse_bulk_submit_output(retval, stdout, stderr)
        return job

    def status(self, job: BulkJob) -> dict[int, JobInfo]:
        """The state of every sub-job, by bulk number: from ``pjstat -E``, then ``pjstat -H -E`` for those no longer
        active; a sub-job in neither list is DONE with ``job_substate`` ``unknown``."""
        if job.job_id is None:
            raise ValueError("the bulk job has not been submitted")
        states: dict[int, JobInfo] = {}
        for history in (False, True):
            missing = [number for number in job.numbers() if number not in states]
            if not missing:
                break
            command = self.scheduler.get_bulk_joblist_command(job.job_id, history=history)
            retval, stdout, stderr = self.transport.exec_command_wait(command)
            _, subjobs = self.scheduler.parse_bulk_joblist_output(job.job_id, retval, stdout, stderr)
            states.update({number: info for number, info in subjobs.items() if number in missing})
        for number in job.numbers():
            if number not in states:
                info = JobInfo()
                info.job_id, info.job_state, info.job_substate = job.subjob_id(number), JobState.DONE, "unknown"
                states[number] = info
        return states

    def fetch(self, job: BulkJob, number: int, destination: Path | str) -> Path:
        """Copy sub-job ``number``'s folder from the computer to ``destination`` (for :func:`import_subjob`)."""
        destination = Path(destination)
        self.transport.gettree(job.folder(number), str(destination))
        return destination


def import_subjob(builder: t.Any, folder: Path | str, computer: orm.Computer, *, job_id: str | None = None):
    """Run ``builder`` (the ``CalcJob`` whose folder ran as a sub-job) as an import of ``folder``; return its node.

    ``folder`` must be on this machine (``BulkSubmitter.fetch``; AiiDA imports through a local transport) and
    ``computer`` a computer of this machine for the ``RemoteData``. ``job_id`` is kept as the extra
    ``pjm_bulk_job_id``; the sub-job's exit status (``_bulk_exit_status``) as ``pjm_bulk_exit_status``.
    """
    from aiida import orm
    from aiida.engine import run_get_node

    folder = Path(folder).resolve()
    builder.metadata.dry_run, builder.metadata.store_provenance = False, True
    builder.remote_folder = orm.RemoteData(computer=computer, remote_path=str(folder))
    _, node = run_get_node(builder)
    if job_id is not None:
        node.base.extras.set("pjm_bulk_job_id", job_id)
    status = folder / "_bulk_exit_status"
    if status.exists():
        node.base.extras.set("pjm_bulk_exit_status", int(status.read_text().strip() or -1))
    return node
