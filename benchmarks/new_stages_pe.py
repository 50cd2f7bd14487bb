"""Polyethylene through the new stages — quantum-corrected Cp, uniaxial deformation (E, ν), stepwise cooling (Tg) —
with 2 replicates, on ``fast`` with a 50 ps production (what two cores afford in minutes; the values are noise and
flagged so, the point is that every stage runs and every value reaches the table). In the project profile::

    AIIDA_PATH=<repo>/.aiida .venv/bin/python benchmarks/new_stages_pe.py   # after make demo (or aiida-polymer setup)

Prints the table (value ± SE, unit, run-to-run SD, count, flags) and writes it to pe_new_stages.json.
"""
import json
import time

from aiida import load_profile, orm
from aiida.engine import run_get_node
from aiida.manage.caching import enable_caching
from aiida.plugins import WorkflowFactory

load_profile("aiida-polymer")
codes = {name: orm.load_code(f"{name}@localhost") for name in ("psi4", "lmp", "antechamber", "parmchk2")}
Properties = WorkflowFactory("polymer.properties")
overrides = {"mechanics": {}, "glass_transition": {}, "replicates": 2,
             "equilibrate": {"production": {"duration": 50, "max_segments": 1}}}
builder = Properties.get_builder_from_protocol(codes, "*CC*", protocol="fast", overrides=overrides)
builder.metadata.label = "PE new stages (fast, 50 ps production, 2 replicates)"
start = time.time()
with enable_caching():
    results, node = run_get_node(builder)
print(f"pk {node.pk} exit {node.exit_status} {node.exit_message} in {time.time() - start:.0f} s")
table = results["properties"].get_dict()
for name in sorted(table):
    e = table[name]
    print(f"{name:32s} {e.get('value')!s:>24s} ± {e.get('stderr')!s:24s} {e.get('unit'):10s} "
          f"sd={e.get('run_to_run_sd')} n={e.get('count')} {','.join(e.get('flags', []))}")
with open("pe_new_stages.json", "w") as handle:
    json.dump(table, handle, indent=1)
