"""`aiida-polymer validate` on a small profile: `report` over campaigns of stored (fake) property Dicts, against
the shipped experiment and RadonPy tables, with replicates across two groups; `run` writes the library from the
reference and goes through `campaign submit` (dry run); bad input is one clean error line."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from aiida import orm
from aiida.common.links import LinkType
from click.testing import CliRunner
from PIL import Image

from aiida_polymer.campaign.submission import DESCRIPTION, KEY, LIBRARY
from aiida_polymer.chem.analysis import UNITS
from aiida_polymer.cli import cli

# per group: (library id, canonical unit, {property: (value, stderr, flags)})
POLYMERS = {
    "val-a": [
        ("PE", "*C*", {"density": (0.80, 0.004, []), "refractive_index": (1.50, None, []),
                       "dielectric_orientational": (1.01, 0.002, []), "dielectric_constant": (2.26, 0.002, []),
                       "heat_capacity_cp": (5000.0, 200.0, ["not_converged"])}),
        ("aPP", "*CC(*)C", {"density": (0.84, 0.005, []), "dielectric_constant": (2.25, 0.01, [])}),
        ("PVC", "*CC(*)Cl", {"density": (1.30, 0.01, ["unphysical"])}),  # gated: tabulated, not counted
        ("PVI", "*CC(*)I", {"density": (2.0, 0.01, [])}),  # poly(vinyl iodide): in neither shipped reference
    ],
    "val-b": [("PE", "*C*", {"density": (0.82, 0.003, [])})],  # a replicate of PE
}


def _finished(node: orm.WorkflowNode, process_type: str) -> orm.WorkflowNode:
    node.set_process_type(process_type)
    node.set_process_state("finished")
    node.set_exit_status(0)
    return node


def _polymer(label: str, ident: str, smiles: str, values: dict) -> orm.WorkflowNode:
    key = f"{smiles}|fast|300K|1atm" + ("|overrides=abc" if label == "val-b" else "")
    workflow = _finished(orm.WorkflowNode(), "aiida.workflows:polymer.properties")
    workflow.description = DESCRIPTION + key
    workflow.store()
    workflow.base.extras.set_many({KEY: key, LIBRARY: [{"campaign": label, "id": ident, "line": 2}]})
    table = {name: {"value": value, "stderr": se, "unit": UNITS[name], "flags": flags}
             for name, (value, se, flags) in values.items()}
    properties = orm.Dict(table).store()
    properties.base.links.add_incoming(workflow, link_type=LinkType.RETURN, link_label="properties")
    workflow.seal()
    return workflow


@pytest.fixture
def campaigns(aiida_profile_clean):
    for label, polymers in POLYMERS.items():
        group = orm.Group(label).store()
        group.add_nodes([_polymer(label, *p) for p in polymers])
    yield
    aiida_profile_clean.reset_storage()  # the fake runs must not reach other tests' `aiida-polymer list`


def _csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_report_against_the_shipped_references(campaigns, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["validate", "report", "val-a", "val-b", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = {(r["polymer"], r["property"]): r for r in _csv(out / "validation.csv")}
    pe = rows[("PE", "density")]
    # PE: two replicates 0.80 (SE .004) and 0.82 (SE .003): mean .81, SD .02/sqrt(2), SE sqrt(.004²+.003²)/2
    assert float(pe["ours"]) == pytest.approx(0.81) and pe["ours_n"] == "2"
    assert float(pe["ours_sd"]) == pytest.approx(0.02 / math.sqrt(2))
    assert float(pe["ours_stderr"]) == pytest.approx(0.0025)
    assert float(pe["experiment"]) == pytest.approx(0.85) and pe["experiment_sources"] == "AF"
    assert float(pe["radonpy"]) == pytest.approx(0.837972) and float(pe["radonpy_sd"]) == pytest.approx(0.00177663)
    assert pe["radonpy_id"] == "PI1" and pe["within_radonpy_sd"] == "no" and pe["radonpy_n"] == "5"
    # aPP: experiment 0.85 (AF) and 0.86 (CROW): mean .855, range .85-.86, ours .84 is .01 below it
    pp = rows[("aPP", "density")]
    assert (float(pp["experiment_low"]), float(pp["experiment_high"])) == pytest.approx((0.85, 0.86))
    assert float(pp["distance_to_range"]) == pytest.approx(0.01) and pp["radonpy_id"] == "PI2"
    # dielectric: ours (whole) against RadonPy's dielectric_const_dc, orientational against static_dielectric_const
    assert float(rows[("PE", "dielectric_constant")]["radonpy"]) == pytest.approx(2.29063)
    assert float(rows[("PE", "dielectric_orientational")]["radonpy"]) == pytest.approx(1.0035, abs=1e-4)
    assert "experiment" not in {k for k, val in rows[("PE", "dielectric_orientational")].items() if val}
    assert rows[("PVC", "density")]["ours_gated"] == "yes"
    assert rows[("PE", "heat_capacity_cp")]["ours_gated"] == "no"  # not_converged is no gate
    assert not any(polymer == "PVI" for polymer, _ in rows)
    stats = {(s["property"], s["compared"]): s for s in _csv(out / "stats.csv")}
    # density, ours vs experiment over PE and aPP (PVC gated): d = .81-.85, .84-.855; distances .04, .01
    s = stats[("density", "ours-experiment")]
    assert s["n"] == "2" and float(s["mae"]) == pytest.approx(0.0275) and float(s["bias"]) == pytest.approx(-0.0275)
    assert float(s["in_range_fraction"]) == 0.0 and float(s["mean_distance_to_range"]) == pytest.approx(0.025)
    s = stats[("density", "ours-radonpy")]
    assert float(s["bias"]) == pytest.approx(((0.81 - 0.837972) + (0.84 - 0.835732)) / 2)
    assert float(s["within_sd_fraction"]) == 0.0 and s["n_sd"] == "2"
    # RadonPy against experiment for the same polymers, PVC included (1.33267 vs 1.39)
    assert stats[("density", "radonpy-experiment")]["n"] == "3"
    for name in ("parity_experiment.png", "parity_radonpy.png"):
        with Image.open(out / name) as image:
            image.verify()
    summary = (out / "summary.md").read_text()
    # (0.81 - 0.837972) / 0.00177663 = -15.7 RadonPy SDs
    assert "| PE | fast | density | 0.81 ± 0.0025 | 0.014 (2) | 0.85 | 0.838 ± 0.0018 | -15.7 |" in summary
    # (5000 - 4699) / 139.683 = +2.2 RadonPy SDs
    assert "| PE | fast | heat_capacity_cp | 5000 ± 200 | — (1) | 2250 | 4699 ± 140 | +2.2 | not_converged |" in summary
    assert "No reference for: *CC(*)I." in summary
    assert "density ours-experiment: n=2 MAE=0.0275 bias=-0.0275" in result.output


def test_report_with_a_radonpy_file_and_no_experiment(campaigns, tmp_path):
    sample = Path(__file__).parent / "data" / "validation" / "radonpy_PI1070_sample.csv"
    result = CliRunner().invoke(cli, ["validate", "report", "val-a", "-o", str(tmp_path), "--experiment", "none",
                                      "--radonpy", str(sample)])
    assert result.exit_code == 0, result.output
    rows = {(r["polymer"], r["property"]): r for r in _csv(tmp_path / "validation.csv")}
    assert rows[("PE", "density")]["radonpy_n"] == "5" and rows[("PE", "density")]["experiment"] == ""
    assert not (tmp_path / "parity_experiment.png").exists() and (tmp_path / "parity_radonpy.png").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["validate", "report", "no-such-group", "-o", "x"], "no group 'no-such-group'"),
    (["validate", "report", "val-a", "-o", "x", "--experiment", "nowhere.csv"], "'nowhere.csv': no such file"),
    (["validate", "report", "val-a", "-o", "x", "--radonpy", "wrong.csv"], "RadonPy file wrong.csv: missing column"),
    (["validate", "report", "val-a", "-o", "x", "--experiment", "wrong.csv"],
     "experiment file wrong.csv: missing column(s) smiles, property"),
])
def test_report_bad_input(campaigns, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wrong.csv").write_text("name,value\nPE,1\n")
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0, result.output
    assert message in result.output and "Traceback" not in result.output


def test_run_writes_the_library_and_dry_runs(aiida_profile, polymer_codes, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate", "run", "experiment", "--group", "val-run", "--protocol", "fast",
                                      "--only", "PE,*C(C*)C", "--dry-run"])
    assert result.exit_code == 0, result.output
    library = _csv(tmp_path / "val-run-library.csv")
    assert [(r["id"], r["smiles"]) for r in library] == [("PE", "*C*"), ("aPP", "*CC(*)C")]
    assert "library of 2 polymers from experiment" in result.output
    assert "2 to submit" in result.output and "*C*|fast|300K|1atm" in result.output
    assert not orm.QueryBuilder().append(orm.Group, filters={"label": "val-run"}).count()  # dry run: nothing stored


@pytest.mark.parametrize(("args", "message"), [
    (["validate", "run", "radonpy", "--group", "g", "--dry-run"], "272 polymers: choose some with --only"),
    (["validate", "run", "experiment", "--group", "g", "--only", "PTFE", "--dry-run"], "not in the reference: PTFE"),
    (["validate", "run", "nowhere.csv", "--group", "g"], "neither experiment, radonpy nor a file"),
])
def test_run_bad_input(aiida_profile, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0, result.output
    assert message in result.output and "Traceback" not in result.output


def test_report_of_an_exported_table(tmp_path):
    """The exported table of the development campaign (3 of its polymers, fast protocol) without any profile:
    PE and aPP against both references, cis-polyisoprene against RadonPy's unspecified 1,4-polyisoprene."""
    table = Path(__file__).parent / "data" / "validation" / "polymers_fast.csv"
    result = CliRunner().invoke(cli, ["validate", "report", "--table", str(table), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = {(r["polymer"], r["property"]): r for r in _csv(tmp_path / "validation.csv")}
    pe = rows[("PE", "density")]
    assert float(pe["ours"]) == 0.77403425085 and float(pe["ours_stderr"]) == 0.0017172846094835
    assert pe["ours_flags"] == "not_converged" and pe["ours_gated"] == "no"
    assert float(pe["diff_experiment"]) == pytest.approx(0.77403425085 - 0.85)
    assert rows[("aPP", "density")]["radonpy_id"] == "PI2"  # library ids aPP;PP-again: named by the first
    pi = rows[("cis-PI", "density")]
    assert (pi["radonpy_id"], pi["radonpy_match"], pi["experiment_match"]) == ("PI522", "stereo ignored", "exact")
    assert (float(pi["experiment_low"]), float(pi["experiment_high"])) == (0.906, 0.916)


def test_report_needs_something_to_report(tmp_path):
    result = CliRunner().invoke(cli, ["validate", "report", "-o", str(tmp_path)])
    assert result.exit_code == 2 and "give the campaign(s) GROUPS or an exported --table" in result.output
    bad = tmp_path / "t.csv"
    bad.write_text("key,density\nx,1\n")
    result = CliRunner().invoke(cli, ["validate", "report", "--table", str(bad), "-o", str(tmp_path)])
    assert result.exit_code == 1 and "campaign table t.csv: missing column(s) smiles, protocol" in result.output
    assert "Traceback" not in result.output


def test_run_replicate_with_another_seed(aiida_profile, polymer_codes, tmp_path, monkeypatch):
    """A replicate is the same reference run with another cell seed: another polymer key (the overrides' hash)."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate", "run", "experiment", "--group", "val-rep", "--protocol", "fast",
                                      "--only", "PE", "--overrides", '{"equilibrate": {"cell": {"seed": 2}}}',
                                      "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "*C*|fast|300K|1atm|overrides=" in result.output and "1 to submit" in result.output
