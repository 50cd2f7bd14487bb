"""Campaigns: a library of polymers computed as one AiiDA group, submitted in throttled batches.

The submission is aiida-submission-controller's (:class:`PolymerController`, one ``polymer_key`` extra per
workflow); around it this module adds what a campaign of 10⁴ polymers needs:

- the campaign's settings and its library (the checked rows, by key) are stored on the group (extra ``campaign``)
  before anything is submitted, so ``status``, ``retry`` and a resumed ``submit`` need neither the file nor the
  command line again;
- a polymer already computed (finished ok) or running at the same key, in any group, is linked (added to this
  group) rather than computed again; so is a second library row with the key of an earlier one;
- every workflow carries its key from the moment it is stored (its description, written with the node in one
  transaction), so a controller killed between submitting a workflow and setting its extras finds it again
  ("adopts" it) instead of submitting a duplicate;
- a row whose builder cannot be made is rejected with the reason, never retried in a loop;
- every submission goes to the broker that runs now: the embedded ZeroMQ broker listens on a new socket each time
  the daemon starts, and a long-running ``--watch`` connected before a daemon restart would otherwise send its
  tasks to the old socket, where nothing receives them (workflows stored, never run).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aiida import orm
from aiida.common.exceptions import NotExistent
from aiida_submission_controller import BaseSubmissionController
from pydantic import PrivateAttr

from .library import Entry, Rejected

KEY = "polymer_key"
SETTINGS = "campaign"  # the group extra that holds the campaign's settings and library
LIBRARY = "library"  # the workflow extra: [{"campaign", "id", "line", "metadata"}, ...]
DESCRIPTION = "aiida-polymer polymer key: "  # + the key: the workflow's description, stored with the node
WORKFLOWS = {"properties": "aiida.workflows:polymer.properties", "cell": "aiida.workflows:polymer.amorphous_cell",
             "synthetic": "aiida.workflows:polymer.design.synthetic"}  # synthetic: the design loop's stand-in
ACTIVE = ("created", "waiting", "running")
BATCH = 500  # keys per query (SQLite's limit on bound parameters)
DEFAULT_CONCURRENT = 4


def group_workflows(group: orm.Group, project, filters: dict | None = None) -> orm.QueryBuilder:
    """A query of the workflows in ``group``, projecting ``project``."""
    return orm.QueryBuilder().append(orm.Group, filters={"id": group.pk}, tag="group").append(
        orm.WorkflowNode, with_group="group", filters=filters or {}, project=project)


class CampaignError(ValueError):
    """A campaign that cannot be created or resumed as asked; the message says why."""


@dataclass
class Settings:
    """What a campaign computes and with what; stored as the group's ``campaign`` extra."""

    protocol: str = "fast"
    workflow: str = "properties"
    codes: dict[str, str] = field(default_factory=dict)  # lmp, psi4, antechamber, parmchk2 -> LABEL@COMPUTER
    options: dict = field(default_factory=dict)  # metadata.options per stage (see cli/jobs.job_options)
    overrides: dict = field(default_factory=dict)
    temperature: float = 300.0
    pressure: float = 1.0
    max_concurrent: int | None = None  # None: the stored campaign's, else DEFAULT_CONCURRENT
    library: str = ""
    entries: dict[str, list[dict]] = field(default_factory=dict)  # key -> the rows with that key
    rejected: list[dict] = field(default_factory=list)  # {"line", "id", "reason"}

    def key(self, entry: Entry) -> str:
        return entry.key(self.protocol, self.temperature, self.pressure, self.overrides or None)


def load_settings(group: orm.Group) -> Settings:
    stored = group.base.extras.get(SETTINGS, None)
    if stored is None:
        raise CampaignError(f"group {group.label!r} is not a campaign (no {SETTINGS!r} extra)")
    return Settings(**stored)


def store_settings(group: orm.Group, settings: Settings) -> None:
    group.base.extras.set(SETTINGS, settings.__dict__)


FIXED = ("protocol", "workflow", "temperature", "pressure", "overrides")  # what a resumed campaign cannot change


def prepare(label: str, entries: Iterable[Entry], rejected: Iterable[Rejected], settings: Settings) -> orm.Group:
    """The campaign's group with its settings and library, created, or (same label) resumed and extended by new
    rows; ``settings`` come without entries. Resuming with other settings (protocol, workflow, state point,
    overrides) is refused: that is a new campaign, with a new label."""
    if settings.workflow not in WORKFLOWS:
        raise CampaignError(f"unknown workflow {settings.workflow!r}; choose from {', '.join(WORKFLOWS)}")
    group, created = orm.Group.collection.get_or_create(label)
    stored = group.base.extras.get(SETTINGS, None)
    if stored is None and not created and group.count():
        raise CampaignError(f"group {label!r} exists and is not a campaign: choose another name")
    if stored is not None:
        old = Settings(**stored)
        changed = [name for name in FIXED if getattr(old, name) != getattr(settings, name)]
        if changed:
            raise CampaignError(f"campaign {label!r} was started with other settings ("
                                + ", ".join(f"{name} {getattr(old, name)!r}, now {getattr(settings, name)!r}"
                                            for name in changed) + "): give the new campaign another name")
        settings.entries, settings.rejected = old.entries, old.rejected
        for name in ("codes", "options", "max_concurrent"):  # kept unless given again
            setattr(settings, name, getattr(settings, name) or getattr(old, name))
    settings.max_concurrent = settings.max_concurrent or DEFAULT_CONCURRENT
    known = {row["id"] for rows in settings.entries.values() for row in rows}  # a row keeps its first key (retry
    for entry in entries:  # --protocol may have changed it)
        if entry.id not in known:
            settings.entries.setdefault(settings.key(entry), []).append(entry.as_dict())
            known.add(entry.id)
    seen = {(r["line"], r["id"]) for r in settings.rejected}
    settings.rejected += [r.__dict__ for r in rejected if (r.line, r.id) not in seen]
    store_settings(group, settings)
    return group


class PolymerController(BaseSubmissionController):
    """aiida-submission-controller over a campaign's group: one workflow per polymer key."""

    unique_extra_keys: tuple = (KEY,)
    _settings: Settings = PrivateAttr()
    _codes: dict = PrivateAttr(default_factory=dict)
    _failed: dict = PrivateAttr(default_factory=dict)

    @classmethod
    def for_group(cls, group: orm.Group, max_concurrent: int | None = None) -> PolymerController:
        settings = load_settings(group)
        controller = cls(group_label=group.label,
                         max_concurrent=max_concurrent or settings.max_concurrent or DEFAULT_CONCURRENT)
        controller._settings = settings
        return controller

    def get_all_extras_to_submit(self) -> set[tuple[str]]:
        return {(key,) for key in self._settings.entries}

    def get_inputs_and_processclass_from_extras(self, extras_values):
        key = extras_values[0]
        try:
            builder = make_builder(self._settings, Entry.from_dict(self._settings.entries[key][0]), self.codes())
        except Exception as exc:
            self._failed[key] = f"{type(exc).__name__}: {exc}"
            raise
        builder.metadata.description = DESCRIPTION + key
        builder.metadata.label = self._settings.entries[key][0]["id"][:255]
        return builder

    def codes(self) -> dict:
        if not self._codes:
            self._codes = load_codes(self._settings)
        return self._codes


def load_codes(settings: Settings) -> dict:
    """The campaign's codes (stored as LABEL@COMPUTER), defaults on localhost; a missing one is a CampaignError."""
    names = ("lmp", "antechamber", "parmchk2") + (("psi4",) if settings.workflow == "properties" else ())
    if settings.workflow == "synthetic":  # no code: the stand-in computes in the daemon worker
        names = ()
    codes = {}
    for name in names:
        label = settings.codes.get(name) or f"{name}@localhost"
        try:
            codes[name] = orm.load_code(label)
        except (NotExistent, ValueError) as exc:
            raise CampaignError(f"no code {label!r} for {name} ({exc}); create it or pass --code-{name}") from None
    return codes


def make_builder(settings: Settings, entry: Entry, codes: dict):
    """The builder of one polymer's workflow; bad input raises ValueError (ProtocolError, MonomerError)."""
    from ..workchains.equilibrate import EquilibrateWorkChain
    from ..workchains.properties import PropertiesWorkChain

    protocol = entry.protocol or settings.protocol
    if settings.workflow == "synthetic":
        from ..design.synthetic_workflow import SyntheticPropertiesWorkChain

        return SyntheticPropertiesWorkChain.get_builder_from_protocol(list(entry.units), protocol, settings.overrides)
    overrides = _merge(settings.overrides, {"equilibrate": {"cell": entry.cell()}} if entry.cell() else {})
    if settings.workflow == "properties":
        return PropertiesWorkChain.get_builder_from_protocol(
            codes, list(entry.units), protocol, overrides or None, settings.options or None,
            temperature=settings.temperature, pressure=settings.pressure)
    from ..workchains.amorphous_cell import AmorphousCellWorkChain

    equilibrate = EquilibrateWorkChain.get_builder_from_protocol(
        codes["lmp"], list(entry.units), protocol, overrides.get("equilibrate"),
        antechamber=codes["antechamber"], parmchk2=codes["parmchk2"])
    builder = AmorphousCellWorkChain.get_builder()
    builder._data = dict(equilibrate.cell._data)
    return builder


def _merge(base: dict, update: dict) -> dict:
    out = dict(base)
    for key, value in update.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@dataclass
class Batch:
    """What one ``submit`` did: keys submitted, linked (already computed or running elsewhere, or a repeated
    row), adopted (found again after an interruption), rejected now (no builder), and what is left."""

    submitted: dict[str, int] = field(default_factory=dict)
    linked: dict[str, int] = field(default_factory=dict)
    adopted: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    active: int = 0
    left: int = 0


def submit_batch(group: orm.Group, max_concurrent: int | None = None, batch: Batch | None = None) -> Batch:
    """Adopt and link what exists, then submit up to ``max_concurrent`` minus the active workflows; idempotent.

    ``batch``: the report of an attempt that failed part-way (e.g. SQLite's write lock), to which this one adds: the
    workflows it adopted are in the group already and would otherwise go unreported."""
    reconnect_if_restarted()
    controller = PolymerController.for_group(group, max_concurrent)
    settings = controller._settings
    batch = batch if batch is not None else Batch()
    in_group = controller.get_all_submitted_pks()
    missing = [key for key in settings.entries if (key,) not in in_group]
    for key, (pk, how) in find_existing(missing, WORKFLOWS[settings.workflow]).items():
        node = orm.load_node(pk)
        if KEY not in node.base.extras:
            node.base.extras.set(KEY, key)
        group.add_nodes([node])
        (batch.adopted if how == "adopted" else batch.linked)[key] = pk
    submitted = controller.submit_new_batch(sort=True)
    batch.submitted.update({extras[0]: node.pk for extras, node in submitted.items()})  # added to a failed try's
    for key, reason in controller._failed.items():
        batch.rejected[key] = reason
        settings.rejected += [{"line": row["line"], "id": row["id"], "reason": reason}
                              for row in settings.entries.pop(key)]
    if batch.rejected:
        store_settings(group, settings)
    record_library(group, settings)
    batch.active = controller.num_active_slots
    batch.left = controller.num_to_run
    return batch


def reconnect_if_restarted() -> bool:
    """Drop this process's broker connection (and the runner holding it) when the broker it connected to is no
    longer the one running: the ZeroMQ broker's endpoint changed (a daemon restart). True when it did. RabbitMQ's
    client reconnects by itself, so nothing is done there."""
    from aiida.manage import get_manager

    manager = get_manager()
    broker = manager._broker  # only a broker this process made: no connection, nothing to refresh
    communicator = getattr(getattr(broker, "_resources", None), "communicator", None)
    connected = getattr(communicator, "_router_endpoint", None)
    if connected is None or connected == broker._router_endpoint:
        return False
    manager.reset_runner()
    manager.reset_broker()
    return True


def find_existing(keys: list[str], process_type: str) -> dict[str, tuple[int, str]]:
    """Workflows of ``process_type`` for ``keys`` in any group that ran or run well: key -> (pk, how); ``how`` is
    "adopted" for one that never got its extras (its controller was interrupted), else "linked"."""
    found: dict[str, tuple[int, str]] = {}
    for start in range(0, len(keys), BATCH):
        chunk = keys[start:start + BATCH]
        query = orm.QueryBuilder().append(
            orm.WorkflowNode, project=["id", f"extras.{KEY}", "description", "attributes.process_state",
                                       "attributes.exit_status"],
            filters={"process_type": process_type,
                     "or": [{f"extras.{KEY}": {"in": chunk}},
                            {"description": {"in": [DESCRIPTION + key for key in chunk]}}]})
        for pk, extra, description, state, exit_status in query.order_by({orm.WorkflowNode: {"id": "asc"}}).all():
            if state not in ACTIVE and not (state == "finished" and exit_status == 0):
                continue
            key = extra or description[len(DESCRIPTION):]
            found.setdefault(key, (pk, "linked" if extra else "adopted"))
    return found


def record_library(group: orm.Group, settings: Settings) -> None:
    """Give every workflow of the group its rows of this campaign (extra ``library``), where missing."""
    for node, key, library in group_workflows(group, ["*", f"extras.{KEY}", f"extras.{LIBRARY}"]).iterall():
        rows = settings.entries.get(key)
        if not rows:
            continue
        library = list(library or [])
        known = {(item["campaign"], item["id"]) for item in library}
        new = [{"campaign": group.label, "id": row["id"], "line": row["line"], "metadata": row["metadata"]}
               for row in rows if (group.label, row["id"]) not in known]
        if new:
            node.base.extras.set(LIBRARY, library + new)


@dataclass
class Plan:
    """What ``submit`` would do, decided without storing anything: per key the rows, and how it would be served."""

    submit: dict[str, list[dict]] = field(default_factory=dict)  # new polymers (in --max-concurrent batches)
    linked: dict[str, tuple[int, list[dict]]] = field(default_factory=dict)  # computed or running elsewhere
    in_campaign: dict[str, tuple[int, list[dict]]] = field(default_factory=dict)  # already in this campaign
    rejected: list[dict] = field(default_factory=list)  # {"line", "id", "reason"}


def plan(label: str, entries: list[Entry], rejected: list[Rejected], settings: Settings) -> Plan:
    """A dry run of :func:`prepare` + :func:`submit_batch`: every row checked, its builder made (not stored)."""
    result = Plan(rejected=[r.__dict__ for r in rejected])
    by_key: dict[str, list[dict]] = {}
    for entry in entries:
        by_key.setdefault(settings.key(entry), []).append(entry.as_dict())
    try:
        group = orm.Group.collection.get(label=label)
        members = dict(group_workflows(group, [f"extras.{KEY}", "id"]).all())
    except NotExistent:
        members = {}
    existing = find_existing([key for key in by_key if key not in members], WORKFLOWS[settings.workflow])
    codes = load_codes(settings)
    for key, rows in by_key.items():
        if key in members:
            result.in_campaign[key] = (members[key], rows)
        elif key in existing:
            result.linked[key] = (existing[key][0], rows)
        else:
            try:
                make_builder(settings, Entry.from_dict(rows[0]), codes)
            except Exception as exc:
                result.rejected += [{"line": row["line"], "id": row["id"], "reason": f"{type(exc).__name__}: {exc}"}
                                    for row in rows]
                continue
            result.submit[key] = rows
    result.rejected.sort(key=lambda r: r["line"])
    return result


FAILED = ("failed", "excepted", "killed")


def failed_workflows(group: orm.Group, exit_codes: Iterable[int | str] = ()) -> list[tuple[int, str, int | str]]:
    """(pk, key, exit code) of the group's workflows that did not finish ok; ``exit_codes`` (numbers, or
    "excepted"/"killed") select some of them."""
    wanted = {str(code) for code in exit_codes}
    query = group_workflows(group, ["id", f"extras.{KEY}", "attributes.process_state", "attributes.exit_status"])
    out = []
    for pk, key, state, exit_status in query.iterall():
        if state == "finished" and exit_status != 0:
            code = exit_status
        elif state in ("excepted", "killed"):
            code = state
        else:
            continue
        if not wanted or str(code) in wanted:
            out.append((pk, key, code))
    return out


def retry(group: orm.Group, exit_codes: Iterable[int | str] = (), protocol: str | None = None
          ) -> list[tuple[int, str, int | str]]:
    """Make the failed workflows (those with ``exit_codes``, or all) submittable again: each leaves the campaign's
    group for ``<label>/failed`` (kept, with its provenance) and the next ``submit`` computes its key anew; with
    ``protocol``, at that protocol (their rows get it, so their key changes)."""
    failed = failed_workflows(group, exit_codes)
    if failed:
        archive, _ = orm.Group.collection.get_or_create(f"{group.label}/failed")
        nodes = [orm.load_node(pk) for pk, _, _ in failed]
        archive.add_nodes(nodes)
        group.remove_nodes(nodes)
    if failed and protocol:
        settings = load_settings(group)
        for _, key, _ in failed:
            for row in settings.entries.pop(key, []):
                row["protocol"] = protocol
                settings.entries.setdefault(settings.key(Entry.from_dict(row)), []).append(row)
        store_settings(group, settings)
    return failed


def cancel(group: orm.Group, timeout: float = 120.0) -> tuple[list[int], list[int]]:
    """Kill the campaign's active workflows (the group keeps them: ``retry --exit-code killed`` resubmits); a
    workflow that no daemon worker has loaded yet cannot be reached, so the request is repeated until all have
    stopped or ``timeout`` seconds have passed. Returns the PKs asked to stop and those still active."""
    import time

    from aiida.engine.processes.control import kill_processes

    def active() -> list:
        return group_workflows(group, "*", {"attributes.process_state": {"in": list(ACTIVE)}}).all(flat=True)

    asked = active()
    deadline = time.monotonic() + timeout
    nodes = asked
    while nodes and time.monotonic() < deadline:
        kill_processes(nodes, msg_text=f"campaign {group.label!r} cancelled", timeout=10)
        time.sleep(1)
        nodes = active()
    return [node.pk for node in asked], [node.pk for node in nodes]
