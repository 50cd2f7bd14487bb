"""A synthetic polymer database, generated in bulk: N polymers with the nodes and links a ``polymer.properties`` run
leaves where the database reads them, and property values known by construction (for tests and benchmarks).

Per polymer, as a real run of a campaign stores them:

- the workflow node (``polymer.properties``, finished; the key in its description and extras ``polymer_key`` and
  ``library``, and ``polymer_values``, the summary of its properties that the run writes (:mod:`.summary`); the
  ``version`` attribute), a member of the campaign group;
- its ``merge_properties`` calcfunction (``CALL_CALC`` link ``CALL`` from the workflow);
- the ``properties`` Dict, created by the calcfunction (``CREATE`` ``result``) and returned by the workflow
  (``RETURN`` ``properties``): every property of a real run, ``{value, unit, stderr, flags}``.

Every 10th polymer's NEMD is skipped (thermal conductivity and diffusivity ``None``, flagged ``skipped``); every
100th workflow excepted before it returned anything (no calcfunction, no properties). The rest of a real run's
graph (its QM and MD jobs, structures, files) is not made: nothing here reads it.

The nodes, links and group memberships are written with the storage backend's ``bulk_insert`` in batches (one
transaction per batch), as ``verdi archive import`` writes them; the ids come back in the order of the rows,
which the archive import relies on too. ``synthetic_campaign(100_000)`` takes minutes, not hours.
"""

from __future__ import annotations

import random
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiida import orm
from aiida.common.links import LinkType
from aiida.orm.entities import EntityTypes

from ..calcfunctions.nemd import UNITS as NEMD_UNITS
from ..campaign.submission import DESCRIPTION, KEY, LIBRARY, SETTINGS
from ..chem.analysis import UNITS as EQUILIBRIUM_UNITS
from .summary import SUMMARY, summarise

UNITS = {**EQUILIBRIUM_UNITS, **NEMD_UNITS}
NEMD = tuple(NEMD_UNITS)
# (low, high) of the uniform values per property; thermal conductivity 0.1..0.6 W/(m K), density 0.8..1.5 g/cm^3
RANGES = {
    "density": (0.8, 1.5),
    "heat_capacity_cp": (1000.0, 2500.0),
    "heat_capacity_cv": (900.0, 2300.0),
    "heat_capacity_cp_quantum": (700.0, 2000.0),
    "heat_capacity_cv_quantum": (600.0, 1800.0),
    "isothermal_compressibility": (2e-10, 8e-10),
    "isentropic_compressibility": (1.8e-10, 7e-10),
    "isothermal_bulk_modulus": (1.2e9, 5e9),
    "isentropic_bulk_modulus": (1.4e9, 5.5e9),
    "volumetric_thermal_expansion": (2e-4, 9e-4),
    "linear_thermal_expansion": (0.7e-4, 3e-4),
    "self_diffusion": (1e-12, 1e-10),
    "rg": (4.0, 15.0),
    "nematic_order": (0.0, 0.12),
    "dielectric_orientational": (1.0, 1.5),
    "refractive_index": (1.35, 1.75),
    "dielectric_constant": (2.0, 4.0),
    "thermal_conductivity": (0.1, 0.6),
    "thermal_diffusivity": (0.5e-7, 3e-7),
}
FRAGMENTS = ("C", "CC(C)", "O", "C(F)(F)", "C(Cl)", "N")  # the repeat units: distinct words of these
PROTOCOLS = ("fast",) * 6 + ("moderate",) * 3 + ("precise",)  # by index % 10
WORKFLOW_TYPE = ("process.workflow.workchain.WorkChainNode.", "aiida.workflows:polymer.properties")
CALCFUNCTION_TYPE = (
    "process.calculation.calcfunction.CalcFunctionNode.",
    "aiida.calculations:polymer.merge_properties",
)
DICT_TYPE = "data.core.dict.Dict."
VERSION = {"core": "2.9.4", "plugin": "0.1.0"}
BATCH = 2000  # polymers per transaction


@dataclass
class Synthetic:
    """The group and, per polymer in order of creation, what was stored: ``pk``, ``key``, ``smiles``,
    ``protocol``, ``temperature``, ``pressure``, ``state``, ``exit_status``, ``library_id``, ``workflow_uuid``,
    ``properties_uuid`` (``""`` without properties) and ``properties`` (the Dict's content, ``{}`` without)."""

    group: orm.Group
    polymers: list[dict] = field(default_factory=list)


def smiles_of(index: int, width: int = 7) -> str:
    """A repeat unit per index, distinct for every index below ``6**width``."""
    words = []
    for _ in range(width):
        index, digit = divmod(index, len(FRAGMENTS))
        words.append(FRAGMENTS[digit])
    return "*" + "".join(words) + "*"


def polymer(index: int, rng: random.Random, width: int = 7) -> dict:
    """The stored values of polymer ``index`` (key fields, state, properties) from ``rng``."""
    protocol = PROTOCOLS[index % len(PROTOCOLS)]
    temperature = 350.0 if index % 7 == 0 else 300.0
    smiles = smiles_of(index, width)
    key = f"{smiles}|{protocol}|{temperature:g}K|1atm"
    excepted = index % 100 == 99
    properties = {}
    if not excepted:
        skipped = index % 10 == 3
        for name, unit in UNITS.items():
            low, high = RANGES[name]
            value = round(low + (high - low) * rng.random(), 12)
            stderr = round(value * 0.2 * rng.random(), 12)
            flags = ["not_converged"] if protocol == "fast" else []
            entry = {"value": value, "unit": unit, "stderr": stderr, "flags": flags}
            if name in NEMD and skipped:
                entry = {"value": None, "unit": unit, "stderr": None, "flags": ["skipped", "not_equilibrated"],
                         "reason": "not_equilibrated"}
            properties[name] = entry
    return {
        "key": key,
        "smiles": smiles,
        "protocol": protocol,
        "temperature": temperature,
        "pressure": 1.0,
        "state": "excepted" if excepted else "finished",
        "exit_status": None if excepted else 0,
        "library_id": f"p{index:06d}",
        "properties": properties,
    }


def synthetic_campaign(
    count: int,
    label: str = "synthetic",
    *,
    seed: int = 0,
    start: int = 0,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> Synthetic:
    """Make the group ``label`` with ``count`` synthetic polymers, those of indices ``start`` to ``start + count``
    (see the module; distinct indices, distinct keys); ``progress(done)`` after each batch. The same arguments give
    the same keys and values."""
    width = 7
    while len(FRAGMENTS) ** width < start + count:
        width += 1
    backend = orm.User.collection.get_default().backend
    user_id = orm.User.collection.get_default().pk
    group = orm.Group(label=label).store()
    rng = random.Random(seed)
    polymers = [polymer(index, rng, width) for index in range(start, start + count)]
    group.base.extras.set(
        SETTINGS,
        {
            "protocol": "fast",
            "library": "synthetic.csv",
            "entries": {
                p["key"]: [{"id": p["library_id"], "line": i + 2, "metadata": {"source": "synthetic"}}]
                for i, p in enumerate(polymers)
            },
        },
    )
    for first in range(0, count, batch):
        _store(backend, user_id, group, label, polymers[first : first + batch], first)
        if progress:
            progress(min(first + batch, count))
    return Synthetic(group, polymers)


def _node(node_type: tuple[str, str | None], label: str, description: str, attributes: dict, extras: dict,
          user_id: int, now: datetime) -> dict:
    return {
        "uuid": str(uuidlib.uuid4()),
        "node_type": node_type[0],
        "process_type": node_type[1],
        "label": label,
        "description": description,
        "ctime": now,
        "mtime": now,
        "attributes": attributes,
        "extras": extras,
        "repository_metadata": {},
        "user_id": user_id,
        "dbcomputer_id": None,
    }


def _store(backend, user_id: int, group: orm.Group, label: str, polymers: list[dict], offset: int) -> None:
    now = datetime.now(UTC)
    workflows, calcs, dicts = [], [], []
    for i, p in enumerate(polymers):
        done = p["state"] == "finished"
        attributes = {"process_state": p["state"], "process_label": "PropertiesWorkChain", "version": VERSION,
                      "sealed": True, **({"exit_status": 0, "stepper_state_info": "5:results"} if done else {})}
        extras = {KEY: p["key"], LIBRARY: [{"campaign": label, "id": p["library_id"], "line": offset + i + 2,
                                             "metadata": {"source": "synthetic"}}]}
        workflow = _node(WORKFLOW_TYPE, "", DESCRIPTION + p["key"], attributes, extras, user_id, now)
        workflows.append(workflow)
        if done:
            dicts.append(_node((DICT_TYPE, None), "", "", p["properties"], {}, user_id, now))
            extras[SUMMARY] = summarise(workflow["uuid"], dicts[-1]["uuid"], p["properties"])
        else:  # sealed without properties, as the run's own summary would say
            extras[SUMMARY] = summarise(workflow["uuid"], None, None)
        if done:
            calcs.append(_node(CALCFUNCTION_TYPE, "merge_properties", "", {
                "process_state": "finished", "process_label": "merge_properties", "version": VERSION,
                "function_name": "merge_properties", "function_namespace": "aiida_polymer.calcfunctions.collect",
                "exit_status": 0, "sealed": True}, {}, user_id, now))
    with backend.transaction():
        workflow_ids = backend.bulk_insert(EntityTypes.NODE, workflows, allow_defaults=True)
        calc_ids = backend.bulk_insert(EntityTypes.NODE, calcs, allow_defaults=True)
        dict_ids = backend.bulk_insert(EntityTypes.NODE, dicts, allow_defaults=True)
        links, done = [], iter(zip(calc_ids, dict_ids, dicts, strict=True))
        for p, workflow_id, workflow in zip(polymers, workflow_ids, workflows, strict=True):
            p.update(pk=workflow_id, workflow_uuid=workflow["uuid"], properties_uuid="")
            if p["state"] != "finished":
                continue
            calc_id, dict_id, properties = next(done)
            p["properties_uuid"] = properties["uuid"]
            links += [
                {"input_id": workflow_id, "output_id": calc_id, "label": "CALL", "type": LinkType.CALL_CALC.value},
                {"input_id": calc_id, "output_id": dict_id, "label": "result", "type": LinkType.CREATE.value},
                {"input_id": workflow_id, "output_id": dict_id, "label": "properties", "type": LinkType.RETURN.value},
            ]
        backend.bulk_insert(EntityTypes.LINK, links)
        backend.bulk_insert(EntityTypes.GROUP_NODE, [{"dbgroup_id": group.pk, "dbnode_id": pk} for pk in workflow_ids])
