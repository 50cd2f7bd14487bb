"""The design loop in AiiDA: rounds recorded with their provenance, submitted as campaign rounds, resumable.

A design is a campaign (:mod:`aiida_polymer.campaign`: the group ``NAME`` of polymer workflows, one per polymer
key) that chooses its own polymers, a batch per round, from a candidate library by Bayesian optimisation
(:func:`aiida_polymer.design.select.propose`). What is stored:

- the group extra ``design``: objectives, constraints, budget, batch, seed, workflow, protocol and the library's
  sha256 (what a resumed design may not change);
- the group ``NAME/design``: the library, stored once as a SinglefileData (its sha256 as the extra
  ``design_library_sha256``; no node per candidate, so libraries of 10⁶ rows are streamed from it), and the round
  records;
- each round, a calcfunction ``polymer.design_round`` (labelled ``NAME round N``) whose inputs are the design's
  settings (a Dict, with the index of the training polymers: key, library id, SMILES, workflow UUID), the library
  node, the round number and the ``properties`` Dict of every training polymer (inputs ``train_0000``, ...); it
  returns one Dict (``result``): the picks (id, SMILES, line, key, score, mean, std), the model's settings and
  the hash of its state, the training set as a query (group and property names) with its keys, UUIDs and values,
  and what was excluded and why. Any pick can thus be traced to the exact data it was chosen from.
- the picks are then the campaign's new rows (:func:`~aiida_polymer.campaign.submission.prepare`,
  :func:`~aiida_polymer.campaign.submission.submit_batch`: identity keys, linking and adoption as for every
  campaign), and every workflow of a round gets the extras ``design_round`` and ``design_score``.

What the training uses, explicitly: the terminated workflows of the group. A workflow that did not finish ok
(failed, excepted, killed) is excluded, with its exit code and message; a property value that is missing or fails
its gate (:func:`aiida_polymer.chem.flags.failed_gate`: flagged as not a result) is missing (NaN) for the
surrogate, with the reason; a polymer with no usable objective value is excluded. Every candidate picked once
(computed, failed, rejected or a second row of the same polymer) is excluded from every later round.

Resuming (:func:`run_design` again, the same arguments, after any interruption): the latest round's picks are
submitted if some are not (identity dedupe: nothing twice); while its workflows run, wait (``watch``) or return
saying what runs; when all have ended, the next round is recorded; the loop stops when ``budget`` polymers have
been computed (failed ones count: they were paid for).
"""

from __future__ import annotations

import csv
import hashlib
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import calcfunction

from ..campaign.library import Entry, LibraryError, _entry, _is_csv
from ..campaign.submission import (
    ACTIVE,
    KEY,
    WORKFLOWS,
    Batch,
    CampaignError,
    Settings,
    group_workflows,
    load_settings,
    prepare,
    submit_batch,
)
from ..chem.flags import failed_gate

DESIGN = "design"  # the group extra with the design's settings
RECORDS = "/design"  # + the design's label: the group of its library node and round records
ROUND = "design_round"  # the extra of each workflow (and the round record's label: "NAME round N")
SCORE = "design_score"
LIBRARY_SHA = "design_library_sha256"
LIBRARY_ROWS = "design_library_rows"
LIBRARY_INVALID = "design_library_invalid"  # [[line, id, reason], ...]: rows that are not repeat units to compute
PROCESS_TYPE = "aiida.calculations:polymer.design_round"
FIXED = ("objectives", "constraints", "library_sha256", "workflow", "protocol", "temperature", "pressure",
         "overrides", "seed")  # what a resumed design cannot change
TRIES = 5  # proposals per round while picks are dropped (invalid rows, a second row of a polymer)
DEFAULT_INTERVAL = 10.0


class DesignError(ValueError):
    """A design that cannot be started or resumed as asked; the message says why."""


@dataclass
class Design:
    """What a design optimises and how; the group extra ``design``."""

    objectives: list[dict]
    constraints: list[dict] = field(default_factory=list)
    budget: int = 12
    batch: int = 4
    seed: int = 0
    workflow: str = "properties"
    protocol: str = "fast"
    temperature: float = 300.0
    pressure: float = 1.0
    overrides: dict = field(default_factory=dict)
    max_concurrent: int | None = None
    codes: dict = field(default_factory=dict)  # lmp, psi4, antechamber, parmchk2 -> LABEL@COMPUTER (campaign's)
    library_sha256: str = ""
    library_name: str = ""
    chunk: int = 20000

    def columns(self) -> list[str]:
        """The surrogate's columns (:func:`aiida_polymer.design.select.value_columns`): the objectives'
        properties, then each constraint property once."""
        return value_columns(self.objectives, self.constraints)

    def campaign_settings(self) -> Settings:
        return Settings(protocol=self.protocol, workflow=self.workflow, overrides=dict(self.overrides),
                        codes=dict(self.codes),
                        temperature=self.temperature, pressure=self.pressure,
                        max_concurrent=self.max_concurrent or self.batch, library=self.library_name)


# ---------------------------------------------------------------------------------------------------------------
# Objectives and the library
# ---------------------------------------------------------------------------------------------------------------


def value_columns(objectives: list[dict], constraints: list[dict]) -> list[str]:
    """The objectives' properties, then each constraint property once (the order of ``train_values``)."""
    columns = [o["property"] for o in objectives]
    extra = list(dict.fromkeys(c["property"] for c in constraints))
    return columns + extra


def constraint_column(columns: list[str], constraint: dict, objectives: int) -> int:
    return columns.index(constraint["property"], objectives)


def known_properties() -> tuple[str, ...]:
    from ..database.synthetic import UNITS

    return tuple(UNITS)


def parse_goals(objectives: Iterable[Any], constraints: Iterable[Any]) -> tuple[list[dict], list[dict]]:
    """Objectives and constraints (texts such as ``max:thermal_conductivity``, ``density>1.0``, or the engine's
    objects) as dicts; an unknown property or bad text is a DesignError."""
    from .objectives import Constraint, Objective, check_objectives, parse_constraint, parse_objective

    names = known_properties()
    out = []
    for kind, items, parse, cls in (("objective", objectives, parse_objective, Objective),
                                    ("constraint", constraints, parse_constraint, Constraint)):
        parsed = []
        for item in items:
            try:
                goal = parse(item) if isinstance(item, str) else item if isinstance(item, cls) else cls.from_dict(item)
            except (ValueError, TypeError, KeyError) as exc:
                raise DesignError(f"bad {kind} {item!r}: {exc}") from None
            if goal.property not in names:
                import difflib

                close = difflib.get_close_matches(goal.property, names, n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise DesignError(f"unknown property {goal.property!r} in {kind} {item!r}{hint}; properties: "
                                  f"{', '.join(names)}")
            parsed.append(goal.to_dict())
        out.append(parsed)
    if not out[0]:
        raise DesignError("no objective: give at least one, e.g. max:thermal_conductivity")
    try:
        check_objectives([Objective.from_dict(o) for o in out[0]])
    except ValueError as exc:
        raise DesignError(str(exc)) from None
    return out[0], out[1]


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_rows(handle: TextIO, name: str) -> Iterator[tuple[int, dict]]:
    """The rows of a library file as :func:`aiida_polymer.campaign.library.read_library` reads them (a CSV with
    ``id`` and ``smiles`` columns, or a SMILES file), streamed: (line, row) one at a time."""
    head = handle.readline().lstrip("\ufeff")
    if _is_csv(Path(name), head):  # the header is the first line, as read_library reads it
        reader = csv.DictReader(_chain([head], handle), dialect=csv.excel_tab if "\t" in head else csv.excel)
        names = [column.strip().lower() for column in reader.fieldnames or []]
        missing = [column for column in ("id", "smiles") if column not in names]
        if missing:
            raise LibraryError(f"the library has no {' and no '.join(repr(m) for m in missing)} column "
                               f"(columns: {', '.join(reader.fieldnames or []) or 'none'}; required: id, smiles)")
        reader.fieldnames = names
        for row in reader:
            if any((value or "").strip() for value in row.values() if isinstance(value, str)):
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k and isinstance(v, str)}
        return
    stem = Path(name).stem
    for line, raw in enumerate(_chain([head], handle), start=1):
        words = raw.split("#", 1)[0].split()
        if words:
            yield line, {"smiles": words[0], "id": " ".join(words[1:]) or f"{stem}-{line}"}


def _chain(first: list[str], rest: Iterable[str]) -> Iterator[str]:
    yield from first
    yield from rest


def candidates(rows: Iterable[tuple[int, dict]], skipped: Counter, invalid: set[int] = frozenset()
               ) -> Iterator[tuple[str, str]]:
    """(id, SMILES) of the library's homopolymer rows; the others (and the ``invalid`` lines) are counted in
    ``skipped`` by reason."""
    for line, row in rows:
        reason = "not a repeat unit the pipeline computes" if line in invalid else _skip_reason(row)
        if reason:
            skipped[reason] += 1
        else:
            yield row["id"], row["smiles"]


def _skip_reason(row: dict) -> str | None:
    if not row.get("id") or not row.get("smiles"):
        return "empty id or smiles"
    if "." in row["smiles"] or row.get("copolymer"):
        return "copolymer (the design computes homopolymers)"
    return None


def check_library(path: str | Path) -> tuple[int, Counter, list[list]]:
    """One pass over a library file: the number of candidates, the rows skipped by reason, and the rows that are
    not repeat units the pipeline computes (``[line, id, reason]``; checked once, skipped in every round)."""
    from ..chem.monomer import MonomerError, parse_repeat_unit

    path = Path(path)
    count, skipped, invalid = 0, Counter(), []
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for line, row in library_rows(handle, path.name):
            reason = _skip_reason(row)
            if reason:
                skipped[reason] += 1
                continue
            try:
                parse_repeat_unit(row["smiles"])
            except Exception as exc:  # MonomerError, and RDKit's own (e.g. KekulizeException)
                invalid.append([line, row["id"], str(exc) if isinstance(exc, MonomerError) else
                                f"{type(exc).__name__}: {exc}"])
                continue
            count += 1
    return count, skipped, invalid


def find_rows(rows: Iterable[tuple[int, dict]], ids: set[str]) -> dict[str, tuple[int, dict]]:
    """The first (line, row) of each id in ``ids``."""
    found: dict[str, tuple[int, dict]] = {}
    for line, row in rows:
        ident = row.get("id", "")
        if ident in ids and ident not in found:
            found[ident] = (line, row)
            if len(found) == len(ids):
                break
    return found


@contextmanager
def _open_node(node: orm.SinglefileData):
    with node.open(mode="r") as handle:
        yield handle


# ---------------------------------------------------------------------------------------------------------------
# Values of the training set
# ---------------------------------------------------------------------------------------------------------------


def column_values(properties: dict, columns: list[str]) -> tuple[list[float], dict[str, str]]:
    """The values of ``columns`` in a properties table (NaN where missing or failing its gate) and the reasons."""
    values, reasons = [], {}
    for name in columns:
        entry = properties.get(name)
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(entry, dict):
            reasons[name] = "missing"
        elif not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            reasons[name] = failed_gate(entry) or "no value"
        elif (gate := failed_gate(entry)) is not None:
            reasons[name] = f"flagged: {gate}"
        values.append(float(value) if name not in reasons else math.nan)
    return values, reasons


def _json(value: Any) -> Any:
    """JSON-safe copy (NaN and infinities None, numpy scalars and arrays as Python values)."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _model_hash(record: dict) -> str:
    """One hash of the fitted models' states (those of the columns, :meth:`Surrogate.state_hash`); "" without a
    model (the first round's diverse choice)."""
    hashes = [h for h in record.get("state_hashes") or [] if h]
    if not hashes:
        return ""
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256("|".join(str(h) for h in record["state_hashes"]).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# One round: the proposal (plain data) and its record (the calcfunction)
# ---------------------------------------------------------------------------------------------------------------


def propose_round(config: dict, open_library: Callable[[], Any], training: dict[str, dict]) -> dict:
    """The round's record from its settings ``config`` (the ``settings`` input's content), the library (a context
    manager factory giving a text handle) and the training polymers' property tables (input label -> content)."""
    from . import select
    from .objectives import Constraint, Objective

    objectives = [Objective.from_dict(o) for o in config["objectives"]]
    constraints = [Constraint.from_dict(c) for c in config["constraints"]]
    columns = select.value_columns(objectives, constraints)
    invalid = set(config.get("invalid_lines", []))
    index, number, batch = config["training"], config["round"], config["batch"]
    used, excluded, smiles, rows = [], list(config.get("excluded", [])), [], []
    for label in sorted(training):
        item = index[label]
        values, reasons = column_values(training[label], columns)
        described = {**item, "input": label, "values": dict(zip(columns, values, strict=True)), "reasons": reasons}
        if all(math.isnan(v) for v in values[: len(objectives)]):
            excluded.append({**item, "reason": "no usable objective value (" + "; ".join(
                f"{k}: {v}" for k, v in reasons.items()) + ")"})
            continue
        used.append(described)
        smiles.append(item["smiles"])
        rows.append(values)
    exclude = dict(config["exclude"])
    known = dict(config["known_keys"])  # key -> library id, of every polymer computed, running or picked
    settings = Settings(protocol=config["protocol"], workflow=config["workflow"],
                        temperature=config["temperature"], pressure=config["pressure"],
                        overrides=config.get("overrides") or {})
    name = config["library_name"]
    picks, dropped, models, skipped = [], [], [], Counter()
    values = np.array(rows, dtype=float).reshape(len(rows), len(columns))
    for attempt in range(TRIES):
        want = batch - len(picks)
        if want <= 0:
            break
        seed = int(config["seed"]) * 1000 + int(number) * 10 + attempt
        with open_library() as handle:
            stream = candidates(library_rows(handle, name), skipped if attempt == 0 else Counter(), invalid)
            found, record = select.propose(smiles, values, objectives, constraints, stream, want, set(exclude),
                                           seed=seed, chunk=int(config.get("chunk", 20000)))
        models.append(record)
        if not found:
            break
        with open_library() as handle:
            lookup = find_rows(library_rows(handle, name), {pick.id for pick in found})
        for pick in found:
            line, row = lookup.get(pick.id, (0, {"id": pick.id, "smiles": pick.smiles}))
            try:
                entry = _entry(line, row)
                key = settings.key(entry)
            except Exception as exc:  # ValueError (MonomerError), and RDKit's own
                reason = f"line {line}: {exc}" if isinstance(exc, ValueError) else f"line {line}: " \
                    f"{type(exc).__name__}: {exc}"
                exclude[pick.id] = reason
                dropped.append({"id": pick.id, "smiles": pick.smiles, "line": line, "reason": reason})
                continue
            if key in known:
                reason = f"the same polymer as {known[key]} (key {key})"
                exclude[pick.id] = reason
                dropped.append({"id": pick.id, "smiles": pick.smiles, "line": line, "key": key, "reason": reason})
                continue
            known[key] = pick.id
            exclude[pick.id] = f"picked in round {number}"
            picks.append({"id": pick.id, "smiles": pick.smiles, "line": line, "key": key,
                          "score": pick.score, "mean": list(pick.mean), "std": list(pick.std),
                          "entry": entry.as_dict()})
    model = models[0] if models else {}
    return _json({
        "round": number, "batch": batch, "picks": picks, "model": model, "model_hash": _model_hash(model),
        "proposals": len(models),
        "objectives": config["objectives"], "constraints": config["constraints"],
        "training": {"query": {"group": config["group"], "workflows": "the group's terminated workflows",
                               "properties": columns, "values": "value where finite and not failing its gate"},
                     "polymers": used},
        "excluded": excluded, "dropped": dropped, "skipped_rows": dict(skipped),
        "library": {"sha256": config["library_sha256"], "name": name},
    })


@calcfunction
def design_round(settings: orm.Dict, library: orm.SinglefileData, round_number: orm.Int,
                 **training: orm.Dict) -> orm.Dict:
    """One round of the design loop: the surrogate fitted to the ``training`` polymers' properties, the next batch
    picked from ``library`` (see :func:`propose_round`)."""
    config = {**settings.get_dict(), "round": round_number.value}
    return orm.Dict(propose_round(config, lambda: _open_node(library),
                                  {label: node.get_dict() for label, node in training.items()}))


# ---------------------------------------------------------------------------------------------------------------
# The design's state in the database
# ---------------------------------------------------------------------------------------------------------------


def records_group(label: str) -> orm.Group:
    return orm.Group.collection.get_or_create(label + RECORDS)[0]


def load_design(group: orm.Group) -> Design:
    stored = group.base.extras.get(DESIGN, None)
    if stored is None:
        raise DesignError(f"group {group.label!r} is not a design (no {DESIGN!r} extra)")
    return Design(**stored)


def round_records(label: str) -> list[orm.CalcFunctionNode]:
    """The design's round records that finished ok, by round (the latest one of a round, should there be two)."""
    query = orm.QueryBuilder().append(orm.Dict, filters={"attributes.group": label}, tag="settings").append(
        orm.CalcFunctionNode, with_incoming="settings", edge_filters={"label": "settings"},
        filters={"process_type": PROCESS_TYPE, "attributes.process_state": "finished", "attributes.exit_status": 0},
        project="*")
    by_round: dict[int, orm.CalcFunctionNode] = {}
    for (node,) in query.order_by({orm.CalcFunctionNode: {"id": "asc"}}).iterall():
        by_round[node.outputs.result["round"]] = node
    return [by_round[n] for n in sorted(by_round)]


@dataclass
class Workflow:
    pk: int
    uuid: str
    key: str
    state: str
    exit_status: int | None
    message: str
    properties: orm.Dict | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def ok(self) -> bool:
        return self.state == "finished" and self.exit_status == 0

    def failure(self) -> str:
        if self.state == "finished":
            return f"failed [{self.exit_status}] {self.message}".strip()
        return self.state


def workflows(group: orm.Group) -> dict[str, Workflow]:
    """The group's workflows by key (the latest of a key), with their properties Dicts."""
    found: dict[str, Workflow] = {}
    query = group_workflows(group, ["id", "uuid", f"extras.{KEY}", "attributes.process_state",
                                    "attributes.exit_status", "attributes.exit_message"])
    for pk, uuid, key, state, exit_status, message in query.order_by({orm.WorkflowNode: {"id": "asc"}}).iterall():
        found[key or f"pk {pk}"] = Workflow(pk, str(uuid), key or "", state or "created", exit_status, message or "")
    by_pk = {w.pk: w for w in found.values()}
    with_dicts = orm.QueryBuilder().append(orm.Group, filters={"id": group.pk}, tag="group").append(
        orm.WorkflowNode, with_group="group", project="id", tag="workflow").append(
        orm.Dict, with_incoming="workflow", project="*",
        edge_filters={"label": "properties", "type": LinkType.RETURN.value})
    for pk, node in with_dicts.iterall():
        if pk in by_pk:
            by_pk[pk].properties = node
    return found


def _ids(settings: Settings, key: str) -> list[str]:
    return [row["id"] for row in settings.entries.get(key, [])]


def _smiles(settings: Settings, key: str) -> str:
    rows = settings.entries.get(key)
    return rows[0]["units"][0] if rows else key.split("|")[0]


# ---------------------------------------------------------------------------------------------------------------
# Starting, recording and submitting rounds
# ---------------------------------------------------------------------------------------------------------------


def start_design(label: str, library: str | Path, objectives: Iterable[Any], constraints: Iterable[Any] = (), *,
                 budget: int, batch: int, workflow: str = "properties", protocol: str = "fast", seed: int = 0,
                 temperature: float = 300.0, pressure: float = 1.0, overrides: dict | None = None,
                 max_concurrent: int | None = None, codes: dict[str, str] | None = None
                 ) -> tuple[orm.Group, orm.SinglefileData]:
    """Create the design ``label`` (group, campaign settings, library node), or check and resume it: its
    objectives, constraints, library, workflow, protocol, state point and seed cannot change; budget, batch,
    max_concurrent and codes (LABEL@COMPUTER per lmp, psi4, antechamber, parmchk2; default on localhost) can."""
    if workflow not in WORKFLOWS or workflow == "cell":
        raise DesignError(f"unknown workflow {workflow!r}: properties or synthetic")
    if budget < 1 or batch < 1:
        raise DesignError("budget and batch must be at least 1")
    parsed_objectives, parsed_constraints = parse_goals(objectives, constraints)
    path = Path(library)
    if not path.is_file():
        raise DesignError(f"no library file {str(path)!r}")
    design = Design(objectives=parsed_objectives, constraints=parsed_constraints, budget=budget, batch=batch,
                    seed=seed, workflow=workflow, protocol=protocol, temperature=float(temperature),
                    pressure=float(pressure), overrides=dict(overrides or {}), max_concurrent=max_concurrent,
                    codes=dict(codes or {}), library_sha256=sha256(path), library_name=path.name)
    from aiida.common.exceptions import NotExistent

    try:
        group = orm.Group.collection.get(label=label)
    except NotExistent:
        group = None
    stored = group.base.extras.get(DESIGN, None) if group is not None else None
    if group is not None and stored is None and (group.count() or "campaign" in group.base.extras):
        raise DesignError(f"group {label!r} exists and is not a design: choose another name")
    if stored is not None:
        old = Design(**stored)
        changed = [name for name in FIXED if getattr(old, name) != getattr(design, name)]
        if changed:
            what = {"library_sha256": "library (its sha256)"}
            raise DesignError(f"design {label!r} was started with another " + ", ".join(
                what.get(name, name) for name in changed) + ": give the new design another name")
        design.max_concurrent = max_concurrent or old.max_concurrent
        design.codes = design.codes or old.codes
    node = _library_node(label, path, design.library_sha256)  # checked before any group is made
    group = group or orm.Group.collection.get_or_create(label)[0]
    try:
        prepare(label, [], [], design.campaign_settings())
    except CampaignError as exc:
        raise DesignError(str(exc)) from None
    group.base.extras.set(DESIGN, asdict(design))
    return group, node


def _library_node(label: str, path: Path, digest: str) -> orm.SinglefileData:
    query = orm.QueryBuilder().append(orm.Group, filters={"label": label + RECORDS}, tag="g").append(
        orm.SinglefileData, with_group="g", filters={f"extras.{LIBRARY_SHA}": digest})
    found = query.first(flat=True)
    if found is not None:
        return found
    count, skipped, invalid = check_library(path)
    if not count:
        raise DesignError(f"the library {str(path)!r} has no homopolymer row to choose from"
                          + (f" ({dict(skipped)})" if skipped else "")
                          + (f" ({len(invalid)} rows are not repeat units, e.g. line {invalid[0][0]}: "
                             f"{invalid[0][2]})" if invalid else ""))
    records = records_group(label)
    node = orm.SinglefileData(file=path.absolute(), filename=path.name)
    node.label = f"{records.label} library"
    node.description = f"design candidate library {path.name} ({count} rows), sha256 {digest}"
    node.store()
    node.base.extras.set_many({LIBRARY_SHA: digest, LIBRARY_ROWS: count, LIBRARY_INVALID: invalid})
    records.add_nodes([node])
    return node


def library_node(label: str, digest: str) -> orm.SinglefileData:
    records = records_group(label)
    query = orm.QueryBuilder().append(orm.Group, filters={"id": records.pk}, tag="g").append(
        orm.SinglefileData, with_group="g", filters={f"extras.{LIBRARY_SHA}": digest})
    node = query.first(flat=True)
    if node is None:
        raise DesignError(f"design {label!r} has no stored library (sha256 {digest}): start it again with its "
                          f"library file")
    return node


def round_inputs(group: orm.Group, design: Design, number: int, batch: int) -> dict:
    """The inputs of round ``number``'s record: settings (with the training index and the exclusions), the
    library node, the training polymers' properties Dicts, the round number."""
    settings = load_settings(group)
    found = workflows(group)
    training, index, excluded, exclude, known = {}, {}, [], {}, {}
    library = library_node(group.label, design.library_sha256)
    for key in settings.entries:
        known[key] = _ids(settings, key)[0]
    for row in settings.rejected:
        exclude[row["id"]] = f"rejected: {row['reason']}"
    for record in round_records(group.label):
        result = record.outputs.result.get_dict()
        for pick in result["picks"]:
            exclude.setdefault(pick["id"], f"picked in round {result['round']}")
            known.setdefault(pick["key"], pick["id"])
        for item in result.get("dropped", []):
            exclude.setdefault(item["id"], item["reason"])
    for key, workflow in sorted(found.items(), key=lambda item: item[1].pk):
        if workflow.active:
            continue
        known.setdefault(key, (_ids(settings, key) or [f"pk {workflow.pk}"])[0])
        item = {"key": key, "id": ";".join(_ids(settings, key)), "smiles": _smiles(settings, key),
                "workflow": workflow.uuid}
        for ident in _ids(settings, key):
            exclude[ident] = f"computed (<{workflow.pk}>)" if workflow.ok else workflow.failure()
        if not workflow.ok:
            excluded.append({**item, "reason": workflow.failure()})
        elif workflow.properties is None:
            excluded.append({**item, "reason": "finished without properties"})
        else:
            label = f"train_{len(training):04d}"
            training[label] = workflow.properties
            index[label] = {**item, "properties": workflow.properties.uuid}
    config = {"group": group.label, "batch": batch, "objectives": design.objectives,
              "constraints": design.constraints, "seed": design.seed, "protocol": design.protocol,
              "workflow": design.workflow, "temperature": design.temperature, "pressure": design.pressure,
              "overrides": design.overrides, "chunk": design.chunk, "library_sha256": design.library_sha256,
              "library_name": design.library_name, "training": index, "excluded": excluded, "exclude": exclude,
              "known_keys": known,
              "invalid_lines": [line for line, _, _ in library.base.extras.get(LIBRARY_INVALID, [])]}
    return {"settings": orm.Dict(config), "round_number": orm.Int(number), "library": library, **training}


def record_round(group: orm.Group, design: Design, number: int, batch: int) -> orm.CalcFunctionNode:
    """Run and store round ``number``'s record (``design_round``); returns its node."""
    inputs = round_inputs(group, design, number, batch)
    _, node = design_round.run_get_node(**inputs, metadata={"label": f"{group.label} round {number}"})
    if not node.is_finished_ok:
        raise DesignError(f"round {number} of design {group.label!r} failed: {node.exit_message or node.exception}")
    records_group(group.label).add_nodes([node])
    return node


def submit_round(group: orm.Group, design: Design, record: orm.CalcFunctionNode,
                 batch_report: Batch | None = None) -> Batch:
    """Add the round's picks to the campaign and submit them (what is submitted, linked or adopted already is
    not again), then give the round's workflows their extras; idempotent."""
    result = record.outputs.result.get_dict()
    entries = [Entry.from_dict(pick["entry"]) for pick in result["picks"]]
    try:
        prepare(group.label, entries, [], design.campaign_settings())
    except CampaignError as exc:
        raise DesignError(str(exc)) from None
    report = submit_batch(group, design.max_concurrent or design.batch, batch_report)
    scores = {pick["key"]: pick["score"] for pick in result["picks"]}
    query = group_workflows(group, ["*", f"extras.{KEY}"], {f"extras.{KEY}": {"in": list(scores)}})
    for node, key in query.all() if scores else []:
        if ROUND not in node.base.extras:
            node.base.extras.set_many({ROUND: result["round"], SCORE: scores[key]})
    return report


@dataclass
class Progress:
    """Where :func:`run_design` left the design: ``state`` is ``running`` (workflows run or wait to be submitted),
    ``done`` (budget reached), ``exhausted`` (no candidate left) or ``paused`` (``max_rounds`` recorded)."""

    state: str
    rounds: int  # round records
    computed: int  # workflows of the group that ended
    active: int
    to_submit: int
    recorded: list[int] = field(default_factory=list)  # round numbers recorded by this call
    messages: list[str] = field(default_factory=list)


def run_design(label: str, library: str | Path, objectives: Iterable[Any], constraints: Iterable[Any] = (), *,
               budget: int, batch: int, workflow: str = "properties", protocol: str = "fast", seed: int = 0,
               temperature: float = 300.0, pressure: float = 1.0, overrides: dict | None = None,
               max_concurrent: int | None = None, codes: dict[str, str] | None = None, watch: bool = False,
               interval: float = DEFAULT_INTERVAL,
               max_rounds: int | None = None, echo: Callable[[str], None] = print) -> Progress:
    """Start or resume the design ``label`` and advance it as far as it can go now (see the module): record a
    round, submit its picks; with ``watch``, wait for them and go on to the next round until the budget is spent
    (or ``max_rounds`` rounds were recorded by this call). The same call again after any interruption goes on
    where it stopped and computes nothing twice."""
    group, _ = _retry_locked(lambda: start_design(
        label, library, objectives, constraints, budget=budget, batch=batch, workflow=workflow, protocol=protocol,
        seed=seed, temperature=temperature, pressure=pressure, overrides=overrides, max_concurrent=max_concurrent,
        codes=codes))
    with one_command(group):
        return advance(group, watch=watch, interval=interval, max_rounds=max_rounds, echo=echo)


@contextmanager
def one_command(group: orm.Group):
    """Hold the design's lock (a file lock in the profile's configuration folder) while a command advances it: a
    second command on the same design is refused instead of recording a round twice."""
    import fcntl
    import os

    from aiida.manage.configuration import get_config

    folder = Path(get_config().dirpath) / "locks"
    folder.mkdir(exist_ok=True)
    with open(folder / f"design-{group.uuid}.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise DesignError(f"design {group.label!r} is being advanced by another command (pid "
                              f"{handle.read().strip() or '?'}); wait for it to end, or stop it, and run this "
                              f"again") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def advance(group: orm.Group, *, watch: bool = False, interval: float = DEFAULT_INTERVAL,
            max_rounds: int | None = None, echo: Callable[[str], None] = print) -> Progress:
    """One call of the loop over a started design (see :func:`run_design`)."""
    design = load_design(group)
    recorded: list[int] = []
    while True:
        records = round_records(group.label)
        latest = records[-1] if records else None
        if latest is not None:
            attempt = Batch()
            report = _retry_locked(lambda latest=latest, attempt=attempt: submit_round(group, design, latest,
                                                                                        attempt))
            number = latest.outputs.result["round"]
            for what, keys in (("adopted (found again after an interruption)", report.adopted),
                               ("linked (already computed or running)", report.linked),
                               ("submitted", report.submitted)):
                for key, pk in keys.items():
                    echo(f"round {number}: {what} <{pk}> {key}")
            for key, reason in report.rejected.items():
                echo(f"round {number}: rejected {key}: {reason}")
        found = workflows(group)
        active = sum(1 for w in found.values() if w.active)
        to_submit = len(set(load_settings(group).entries) - set(found))
        computed = sum(1 for w in found.values() if not w.active)
        progress = Progress("running", len(records), computed, active, to_submit, recorded)
        if active or to_submit:
            if not watch:
                running = ", ".join(f"<{w.pk}>" for w in found.values() if w.active)
                echo(f"design {group.label!r}: round {len(records)} runs: {active} workflows active"
                     + (f" ({running})" if running else "") + (f", {to_submit} to submit" if to_submit else "")
                     + f"; {computed} of {design.budget} polymers computed. Run the same command again when they "
                       f"have ended (or add --watch); aiida-polymer design status {group.label}")
                return progress
            time.sleep(interval)
            continue
        if computed >= design.budget:
            echo(f"design {group.label!r}: done, {computed} polymers computed (budget {design.budget}) in "
                 f"{len(records)} rounds; aiida-polymer design status {group.label}")
            return Progress("done", len(records), computed, 0, 0, recorded)
        if latest is not None and not latest.outputs.result["picks"]:
            echo(f"design {group.label!r}: no candidate left in the library after round {len(records)}")
            return Progress("exhausted", len(records), computed, 0, 0, recorded)
        if max_rounds is not None and len(recorded) >= max_rounds:
            echo(f"design {group.label!r}: paused after {len(recorded)} new rounds; run the same command again to "
                 f"go on")
            return Progress("paused", len(records), computed, 0, 0, recorded)
        number = (latest.outputs.result["round"] if latest is not None else 0) + 1
        size = min(design.batch, design.budget - computed)
        node = _retry_locked(lambda number=number, size=size: record_round(group, design, number, size))
        result = node.outputs.result.get_dict()
        recorded.append(number)
        model = result["model_hash"][:16] or result["model"].get("mode") or "model"
        echo(f"round {number} recorded (<{node.pk}>, {model}): {len(result['picks'])} picks"
             + "".join(f"{', ' if i else ': '}{p['id']} ({_short(p['score'])})"
                       for i, p in enumerate(result["picks"]))
             + (f"; {len(result['dropped'])} dropped" if result["dropped"] else "")
             + (f"; {len(result['excluded'])} excluded from training" if result["excluded"] else ""))


def _short(value: Any) -> str:
    return "score —" if value is None else f"score {value:.3g}"


def _retry_locked(action: Callable[[], Any], patience: float = 300.0, pause: float = 1.0) -> Any:
    """``action()``, tried again while SQLite's write lock is held by the daemon's workers."""
    from aiida.manage import get_manager
    from sqlalchemy.exc import OperationalError

    start = time.monotonic()
    while True:
        try:
            return action()
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() - start > patience:
                raise
            get_manager().get_profile_storage().get_session().rollback()
            time.sleep(pause)


# ---------------------------------------------------------------------------------------------------------------
# Status
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class RoundStatus:
    number: int
    pk: int
    picks: int
    finished: int
    failed: int
    running: int
    to_submit: int
    model: str  # the model's state hash, or "random"
    training: int
    excluded: int


@dataclass
class DesignStatus:
    """A design's rounds, its best polymers so far and what was left out, from the database."""

    label: str
    design: Design
    rounds: list[RoundStatus] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)  # computed polymers in order: round, id, key, pk, values
    best: dict[str, dict] = field(default_factory=dict)  # objective property -> best feasible row
    front: list[dict] = field(default_factory=list)  # two objectives: the Pareto front's rows
    hypervolume: float | None = None
    excluded: list[dict] = field(default_factory=list)  # {"id", "key", "reason"}

    @property
    def computed(self) -> int:
        return len(self.history)


def design_status(label: str) -> DesignStatus:
    """The status of the design ``label`` (a DesignError if there is none)."""
    from aiida.common.exceptions import NotExistent

    from . import progress
    from .objectives import Constraint

    try:
        group = orm.Group.collection.get(label=label)
    except NotExistent:
        raise DesignError(f"no design {label!r} (groups: verdi group list)") from None
    design = load_design(group)
    settings = load_settings(group)
    found = workflows(group)
    columns = design.columns()
    constraints = [Constraint.from_dict(c) for c in design.constraints]
    status = DesignStatus(label, design)
    reasons = {row["id"]: f"rejected: {row['reason']}" for row in settings.rejected}
    for record in round_records(label):
        result = record.outputs.result.get_dict()
        counts = Counter()
        for pick in result["picks"]:
            workflow = found.get(pick["key"])
            if workflow is None:
                counts["rejected" if pick["id"] in reasons else "to submit"] += 1
                if pick["id"] in reasons:
                    status.excluded.append({"id": pick["id"], "key": pick["key"], "reason": reasons[pick["id"]]})
                continue
            if workflow.active:
                counts["running"] += 1
                continue
            counts["finished" if workflow.ok else "failed"] += 1
            values, why = column_values(workflow.properties.get_dict() if workflow.properties else {}, columns)
            if not workflow.ok:
                status.excluded.append({"id": pick["id"], "key": pick["key"], "pk": workflow.pk,
                                        "reason": workflow.failure()})
            k = len(design.objectives)
            feasible = workflow.ok and all(
                c.holds(values[constraint_column(columns, c.to_dict(), k)]) for c in constraints)
            status.history.append({"round": result["round"], "id": pick["id"], "key": pick["key"],
                                   "pk": workflow.pk, "ok": workflow.ok, "feasible": feasible,
                                   "values": dict(zip(columns, values, strict=True)), "reasons": why})
        status.excluded += [{"id": d["id"], "key": d.get("key", ""), "reason": d["reason"]}
                            for d in result.get("dropped", [])]
        status.rounds.append(RoundStatus(
            result["round"], record.pk, len(result["picks"]), counts["finished"], counts["failed"],
            counts["running"], counts["to submit"], result["model_hash"] or result["model"].get("mode", ""),
            len(result["training"]["polymers"]), len(result["excluded"])))
    table = progress.progress_table(status.history, design.objectives)
    for objective in design.objectives:
        name = objective["property"]
        best = table[f"utility.{name}"]
        if len(best) and not math.isnan(best[-1]):
            u = progress.utility(table[name], objective["goal"], objective.get("low"), objective.get("high"))
            i = int(np.flatnonzero(table["feasible"] & (u == best[-1]))[0])
            status.best[name] = status.history[i]
    if "hypervolume" in table:
        status.hypervolume = float(table["hypervolume"][-1]) if len(table["hypervolume"]) else 0.0
        status.front = [row for row, on in zip(status.history, table["front"], strict=True) if on]
    return status


def format_status(status: DesignStatus) -> str:
    """The status as text: the settings, a table of rounds, the best so far, what was excluded."""
    from ..cli.tables import grid

    d = status.design
    goals = ", ".join(_goal(o) for o in d.objectives)
    lines = [f"design {status.label!r}: {goals}" + (f" subject to {', '.join(_constraint(c) for c in d.constraints)}"
                                                   if d.constraints else ""),
             f"{status.computed} of {d.budget} polymers computed in {len(status.rounds)} rounds (batch {d.batch}, "
             f"workflow {d.workflow}, protocol {d.protocol}, library {d.library_name} sha256 "
             f"{d.library_sha256[:12]})", ""]
    rows = [[str(r.number), str(r.pk), str(r.picks), str(r.finished), str(r.failed), str(r.running),
             str(r.to_submit), str(r.training), str(r.excluded), r.model[:16]] for r in status.rounds]
    lines += grid(["round", "record", "picks", "finished", "failed", "running", "to submit", "trained on",
                   "excluded", "model"], rows)
    lines.append("")
    if d.constraints:
        feasible = sum(1 for row in status.history if row["feasible"])
        lines.append(f"{feasible} of {status.computed} computed polymers meet the constraints")
    for objective in d.objectives:
        name = objective["property"]
        row = status.best.get(name)
        if row is None:
            lines.append(f"best {name}: none yet")
        else:
            lines.append(f"best {name} so far: {row['values'][name]:.4g} ({row['id']}, round {row['round']}, "
                         f"<{row['pk']}>)")
    if status.hypervolume is not None:
        lines.append(f"Pareto front: {len(status.front)} polymers, hypervolume {status.hypervolume:.4g} (utility "
                     f"units, above the worst computed values)")
    if status.excluded:
        lines += ["", "excluded (never picked again):",
                  *(f"  {e['id']}: {e['reason']}" for e in status.excluded)]
    return "\n".join(lines)


def _goal(objective: dict) -> str:
    if objective["goal"] == "window":
        return f"{objective['property']} in [{objective.get('low')}, {objective.get('high')}]"
    return f"{'maximise' if objective['goal'] == 'max' else 'minimise'} {objective['property']}"


def _constraint(constraint: dict) -> str:
    return f"{constraint['property']}{constraint['op']}{constraint['value']:g}"


def plot_design(label: str, path: str | Path) -> Path:
    """The progress figure of the design ``label`` (best objective so far against polymers computed) at
    ``path`` (PNG or SVG)."""
    from ..database.plots import PlotError, save_figure
    from ..database.synthetic import UNITS
    from . import progress

    status = design_status(label)
    if not status.history:
        raise PlotError(f"design {label!r} has no computed polymer yet")
    table = progress.progress_table(status.history, status.design.objectives)
    figure = progress.progress_figure(table, status.design.objectives, title=f"design {label}", units=UNITS)
    return save_figure(figure, path)
