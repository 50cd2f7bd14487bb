"""A campaign's state from the database, by QueryBuilder projections only (no node is loaded)."""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from aiida import orm

from .submission import ACTIVE, BATCH, KEY, group_workflows, load_settings

STATES = ("to submit", "created", "waiting", "running", "finished", "failed", "excepted", "killed")


@dataclass
class Status:
    """Counts by state, failures by exit code, time used and left, the slowest stages."""

    label: str
    rows: int  # library rows accepted
    keys: int  # distinct polymers among them
    rejected: int
    counts: dict[str, int] = field(default_factory=dict)
    exit_codes: list[tuple[int | str, str, int]] = field(default_factory=list)  # (code, message, count)
    wall_hours: float = 0.0  # summed over finished workflows (creation to end)
    cpu_hours: float = 0.0  # summed over their jobs: job wall time x MPI processes
    eta_hours: float | None = None  # at the rate of the last finished workflows
    slowest: list[tuple[str, float, int]] = field(default_factory=list)  # (stage, mean hours, jobs)
    jobs: dict[str, float] = field(default_factory=dict)  # scheduler jobs (CalcJobs) per finished polymer, by kind
    failures: list[tuple[int, str, str]] = field(default_factory=list)  # (pk, library id, reason)


def campaign_status(group: orm.Group) -> Status:
    settings = load_settings(group)
    rows = sum(len(entries) for entries in settings.entries.values())
    status = Status(group.label, rows, len(settings.entries), len(settings.rejected))
    query = group_workflows(group, ["id", "label", f"extras.{KEY}", "attributes.process_state",
                                    "attributes.exit_status", "attributes.exit_message", "attributes.process_status",
                                    "ctime", "mtime"])
    counts: Counter = Counter()
    codes: Counter = Counter()
    messages: dict = {}
    finished_at = []
    seen, finished_ok = set(), set()
    for pk, label, key, state, exit_status, message, process_status, ctime, mtime in query.iterall():
        seen.add(key)
        kind = _kind(state, exit_status)
        counts[kind] += 1
        if kind == "finished":
            finished_ok.add(pk)
        if kind in ("failed", "excepted", "killed"):
            code = exit_status if kind == "failed" else kind
            codes[code] += 1
            reason = message if kind == "failed" else process_status
            messages.setdefault(code, reason or kind)
            shown = f"[{exit_status}] {reason}" if kind == "failed" else f"{kind}: {reason}"
            status.failures.append((pk, label, shown))
        if state not in ACTIVE:
            status.wall_hours += (mtime - ctime).total_seconds() / 3600
            finished_at.append(mtime)
    counts["to submit"] = len(set(settings.entries) - seen)
    status.counts = {state: counts.get(state, 0) for state in STATES}
    status.exit_codes = sorted(((code, messages[code], n) for code, n in codes.items()), key=lambda t: -t[2])
    status.cpu_hours, status.slowest, status.jobs = _jobs(group, finished_ok)
    status.eta_hours = _eta(finished_at, status.counts)
    return status


def _kind(state: str | None, exit_status: int | None) -> str:
    if state == "finished":
        return "finished" if exit_status == 0 else "failed"
    return state or "created"


def _jobs(group: orm.Group, finished_ok: set[int]) -> tuple[float, list[tuple[str, float, int]], dict[str, float]]:
    """CPU hours of the campaign's jobs (scheduler wall time, else the job's lifetime, x MPI processes), the three
    stages with the longest mean job time, and the jobs per finished polymer by calculation (a cached job counts:
    it is no submission, but AiiDA records it the same way). The jobs are found down the CALL links, one query
    per level."""
    parents = group_workflows(group, "id").all(flat=True)
    cpu, per_stage, seen, jobs = 0.0, defaultdict(list), set(parents), Counter()
    root = {pk: pk for pk in parents}
    names: dict[int, str] = {}  # process -> its stage name: its call-link label, or its caller's for a restart
    while parents:
        children = []
        for start in range(0, len(parents), BATCH):
            query = orm.QueryBuilder().append(orm.ProcessNode, filters={"id": {"in": parents[start:start + BATCH]}},
                                              tag="parent", project="id").append(
                orm.ProcessNode, with_incoming="parent", edge_filters={"type": {"in": ["call_calc", "call_work"]}},
                tag="child", edge_tag="link", edge_project="label",
                project=["id", "node_type", "attributes.process_label", "attributes.process_state",
                         "attributes.last_job_info", "attributes.resources", "ctime", "mtime"])
            for row in query.dict():
                parent, link = row["parent"]["id"], row["link"]["label"]
                pk, node_type, process, state, info, resources, ctime, mtime = row["child"].values()
                if pk in seen:
                    continue
                seen.add(pk)
                children.append(pk)
                label = names.get(parent, process) if link.startswith("iteration_") else link
                names[pk], root[pk] = label, root[parent]
                if node_type.startswith("process.calculation.calcjob") and root[pk] in finished_ok:
                    jobs[process] += 1
                if node_type.startswith("process.calculation.calcjob") and state == "finished":
                    seconds = float((info or {}).get("wallclock_time_seconds") or (mtime - ctime).total_seconds())
                    cpu += seconds * _processes(resources or {}) / 3600
                    per_stage[label or "?"].append(seconds / 3600)
        parents = children
    slowest = sorted(((stage, sum(h) / len(h), len(h)) for stage, h in per_stage.items()), key=lambda t: -t[1])
    per_polymer = {name: n / len(finished_ok) for name, n in jobs.most_common()} if finished_ok else {}
    return cpu, slowest[:3], per_polymer


def _processes(resources: dict) -> int:
    if "tot_num_mpiprocs" in resources:
        return int(resources["tot_num_mpiprocs"])
    return int(resources.get("num_machines", 1)) * int(resources.get("num_mpiprocs_per_machine", 1) or 1)


def _eta(finished_at: list[datetime.datetime], counts: dict[str, int]) -> float | None:
    """Hours to finish at the rate of the last (up to 20) workflows that ended."""
    left = sum(counts[state] for state in ("to submit", "created", "waiting", "running"))
    if not left:
        return 0.0
    recent = sorted(finished_at)[-20:]
    if len(recent) < 2 or recent[-1] == recent[0]:
        return None
    rate = (len(recent) - 1) / ((recent[-1] - recent[0]).total_seconds() / 3600)
    return left / rate
