"""Plots (aiida_polymer.database.plots, plot_data, reference; `aiida-polymer plot`): the Pareto front and parity
statistics against known answers, the reference tables, valid PNG and SVG files of every figure, and the CLI on a
synthetic campaign and a synthetic run (the node pattern a real run leaves)."""

from __future__ import annotations

import ast
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from aiida import orm
from aiida.common.links import LinkType
from click.testing import CliRunner
from PIL import Image

from aiida_polymer.campaign.submission import DESCRIPTION, KEY, LIBRARY
from aiida_polymer.chem.analysis import moving_average_sd
from aiida_polymer.chem.flags import shown_flags
from aiida_polymer.cli import cli
from aiida_polymer.database import plots
from aiida_polymer.database.reference import load_reference, reference_values

PNG = b"\x89PNG\r\n\x1a\n"


def _valid(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 1000, path
    if path.suffix == ".png":
        assert path.read_bytes()[:8] == PNG
        with Image.open(path) as image:
            image.verify()
    else:
        root = ET.parse(path).getroot()
        assert root.tag.endswith("svg")


# ---------------------------------------------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------------------------------------------


def test_pareto_front_known():
    x = [1.0, 2.0, 3.0, 4.0, 2.0, math.nan, 0.5]
    y = [4.0, 3.0, 2.0, 1.0, 2.0, 9.0, 0.5]
    # both maximised: the staircase (1,4) (2,3) (3,2) (4,1); (2,2) and (0.5,0.5) dominated; NaN never on it
    assert plots.pareto_front(x, y).tolist() == [True, True, True, True, False, False, False]
    # x maximised, y minimised: (4,1) dominates every point but (0.5, 0.5), which has the smallest y
    assert plots.pareto_front(x, y, (True, False)).tolist() == [False, False, False, True, False, False, True]
    # identical points are both on the front
    assert plots.pareto_front([1, 1, 0], [1, 1, 0]).tolist() == [True, True, False]


def test_parity_statistics_hand_computed():
    stats = plots.parity_statistics([1.0, 2.0, 4.0, math.nan], [1.0, 3.0, 3.0, 5.0])
    # differences 0, -1, +1: MAE 2/3, bias 0; r = cov/(sd sd) = (24/9)/sqrt(42/9 * 24/9) = sqrt(4/7)
    assert stats["n"] == 3
    assert stats["mae"] == pytest.approx(2.0 / 3.0)
    assert stats["bias"] == pytest.approx(0.0)
    assert stats["r"] == pytest.approx(math.sqrt(4.0 / 7.0))
    shifted = plots.parity_statistics([1.5, 2.5, 3.5], [1.0, 2.0, 3.0])
    assert (shifted["mae"], shifted["bias"], shifted["r"]) == pytest.approx((0.5, 0.5, 1.0))
    assert plots.parity_statistics([1.0], [2.0])["r"] is None
    assert plots.parity_statistics([], [])["n"] == 0


def test_moving_average_is_what_the_convergence_check_measures():
    x = np.random.default_rng(1).normal(size=50).cumsum()
    assert plots.moving_average(x, 10).std() == pytest.approx(moving_average_sd(x, 10))


def test_parse_pareto_and_gates():
    assert plots.parse_pareto("thermal_conductivity,-density") == (("thermal_conductivity", "density"),
                                                                   (True, False))
    with pytest.raises(plots.PlotError):
        plots.parse_pareto("density")
    assert plots.is_gated("not_converged;noise") and not plots.is_gated("not_converged") and not plots.is_gated("")


def test_scaled_units():
    data = {"value": np.array([3.2e-10, 4e-10, np.nan]), "stderr": np.array([1e-11, 2e-11, np.nan]), "unit": "1/Pa"}
    shown = plots.scaled(data)
    assert shown["exponent"] == -10 and shown["unit"] == "1e-10 1/Pa"
    assert shown["value"][:2] == pytest.approx([3.2, 4.0]) and shown["stderr"][0] == pytest.approx(0.1)
    assert plots.scaled({**data, "value": np.array([0.85, 1.1])})["exponent"] == 0


def test_plots_module_has_no_aiida_import():
    tree = ast.parse(Path(plots.__file__).read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [name for name in names if name.split(".")[0] == "aiida"]


# ---------------------------------------------------------------------------------------------------------------
# Reference tables
# ---------------------------------------------------------------------------------------------------------------


def test_shipped_references_in_pipeline_units():
    experiment = reference_values(load_reference("experiment"))
    assert experiment[("*C*", "density")]["value"] == pytest.approx(0.85)  # PE's *CC* is the unit *C*
    assert experiment[("*C*", "heat_capacity_cp")]["value"] == pytest.approx(2250.0)  # 2.25 J/(g K)
    assert experiment[("*C*", "heat_capacity_cp")]["unit"] == "J/(kg K)"
    # aPS density: 1.05, the range 1.054-1.070 (midpoint 1.062, half range 0.008) and 1.050
    ps = experiment[("*CC(*)c1ccccc1", "density")]
    assert (ps["value"], ps["spread"], ps["n"]) == pytest.approx((1.054, 0.008, 3))
    assert experiment[("*CC(*)Cl", "volumetric_thermal_expansion")]["value"] == pytest.approx(2.1e-4)
    radonpy = reference_values(load_reference("radonpy"))
    pe = {name: radonpy[("*C*", name)]["value"] for name in ("dielectric_orientational", "dielectric_constant")}
    assert pe["dielectric_orientational"] == pytest.approx(1.0035, abs=1e-4)  # static_dielectric_const
    assert pe["dielectric_constant"] == pytest.approx(2.2906, abs=1e-4)  # dielectric_const_dc
    assert radonpy[("*C*", "density")]["spread"] == pytest.approx(0.00177663)


def test_user_reference_file(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("smiles,property,value,stderr,unit\n*CCCC*,density,0.9,0.01,g/cm^3\n*OCC*,density,1.1,,\n")
    values = reference_values(load_reference(path))
    assert values[("*C*", "density")]["value"] == pytest.approx(0.9)
    assert values[("*C*", "density")]["spread"] == pytest.approx(0.01)
    assert ("*CCO*", "density") in values


# ---------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------


def _thermo(n: int, seed: int, density: float = 0.8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {"step": np.arange(n) * 200, "time": np.arange(n) * 100.0}
    for name, mean in (("density", density), ("temp", 300.0), ("press", 1.0), ("etotal", 800.0), ("ke", 500.0),
                       ("ebond", 70.0), ("eangle", 350.0), ("edihed", 80.0), ("evdwl", -220.0), ("elong", -4.2)):
        out[name] = mean + 0.01 * abs(mean) * rng.normal(size=n)
    return out


def _com(frames: int = 40, chains: int = 4) -> tuple[np.ndarray, np.ndarray]:
    steps = np.random.default_rng(3).normal(scale=0.3, size=(frames, chains, 3))
    return np.arange(frames) * 200.0, steps.cumsum(axis=0)


def _profile(n: int = 20) -> np.ndarray:
    x = np.arange(n)
    return 300.0 + 40.0 * (1.0 - np.abs(x - n / 2) / (n / 4)) / 2  # cold at 0, hot at n/2, linear between


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_run_figures_are_valid_files(tmp_path, fmt):
    from aiida_polymer.chem.analysis import msd_multiple_origins

    segments = [_thermo(60, 1), _thermo(60, 2)]
    convergence = {"converged": False, "window": 0.5,
                   "checks": {"density": {"value": 2e-3, "threshold": 1e-3, "relative": True, "pass": False},
                              "etotal": {"value": 1e-4, "threshold": 5e-4, "relative": True, "pass": True}}}
    rg = [np.full((60, 3), 7.0), np.full((60, 3), 7.1)]
    time, com = _com()
    lag, msd = msd_multiple_origins(time, com, per_chain=True)
    stages = [("packing", _thermo(20, 4, 0.3)), *((f"compression_{i:02d}", _thermo(10, 5 + i)) for i in range(1, 4))]
    figures = {
        "thermo": plots.production_figure(segments, convergence, rg, "PE"),
        "nemd": plots.nemd_profile_figure(_profile(), 60.0, 1, np.array([_profile()] * 3),
                                          {"value": 0.3, "stderr": 0.05, "unit": "W/(m K)"}, ["asymmetric_profile"]),
        "msd": plots.msd_figure(lag, msd.mean(axis=1), (0.1 * lag[-1], 0.5 * lag[-1]), msd),
        "compression": plots.compression_figure(stages),
    }
    for name, figure in figures.items():
        _valid(plots.save_figure(figure, tmp_path / f"{name}.{fmt}"))
    again = plots.save_figure(figures["nemd"], tmp_path / f"again.{fmt}")
    assert again.read_bytes() == (tmp_path / f"nemd.{fmt}").read_bytes()  # the same data give the same file
    with pytest.raises(plots.PlotError, match="format"):
        plots.save_figure(figures["msd"], tmp_path / "msd.jpg")


def _rows() -> list[dict]:
    """Campaign table rows: five polymers, kappa and density known; one kappa gated (noise), one missing."""
    data = [("a", "*C*", 0.30, 0.80, ""), ("b", "*CCO*", 0.25, 1.10, ""), ("c", "*CC(*)Cl", 0.40, 1.35, ""),
            ("d", "*CC(*)C", 0.20, 0.90, ""), ("e", "*CC(*)c1ccccc1", 0.50, 1.00, "noise")]
    rows = []
    for ident, smiles, kappa, rho, flags in data:
        rows.append({"library_id": ident, "smiles": smiles,
                     "thermal_conductivity": kappa, "thermal_conductivity_stderr": 0.02,
                     "thermal_conductivity_unit": "W/(m K)", "thermal_conductivity_flags": flags,
                     "density": rho, "density_stderr": 0.01, "density_unit": "g/cm^3", "density_flags": ""})
    return rows


def test_campaign_figures_and_front(tmp_path):
    rows = _rows()
    _valid(plots.save_figure(plots.distribution_figure(rows, ["thermal_conductivity", "density"]),
                             tmp_path / "d.png"))
    figure, front = plots.scatter_figure(rows, "thermal_conductivity", ["density"], ("thermal_conductivity",
                                                                                    "density"), (True, False))
    _valid(plots.save_figure(figure, tmp_path / "s.svg"))
    # max kappa, min density among the results (e is gated): a (0.30, 0.80) and c (0.40, 1.35); b, d dominated
    assert front == ["a", "c"]
    # with the gated values, e (0.50, 1.00) joins and dominates c (0.40, 1.35)
    assert plots.scatter_figure(rows, "thermal_conductivity", ["density"], ("thermal_conductivity", "density"),
                                (True, False), include_gated=True)[1] == ["a", "e"]
    pairs = plots.parity_pairs(rows, {("*C*", "density"): {"value": 0.85, "unit": "g/cm3"},
                                      ("*CCO*", "density"): {"value": 1.13, "spread": 0.05, "unit": "g/cm^3"}},
                               ["density", "thermal_conductivity"])
    assert list(pairs) == ["density"] and pairs["density"]["labels"] == ["a", "b"]
    figure, stats = plots.parity_figure(pairs, "experiment")
    _valid(plots.save_figure(figure, tmp_path / "p.png"))
    assert stats["density"]["mae"] == pytest.approx(0.04) and stats["density"]["bias"] == pytest.approx(-0.04)
    with pytest.raises(plots.PlotError, match="in K"):
        plots.parity_pairs(rows, {("*C*", "density"): {"value": 1.0, "unit": "K"}}, ["density"])


# ---------------------------------------------------------------------------------------------------------------
# The CLI on synthetic nodes
# ---------------------------------------------------------------------------------------------------------------

LABEL = "plot-screen"


def _finished(node: orm.WorkflowNode, process_type: str) -> orm.WorkflowNode:
    node.set_process_type(process_type)
    node.set_process_state("finished")
    node.set_exit_status(0)
    return node


def _polymer(row: dict) -> orm.WorkflowNode:
    key = f"{row['smiles']}|fast|300K|1atm"
    workflow = _finished(orm.WorkflowNode(), "aiida.workflows:polymer.properties")
    workflow.description = DESCRIPTION + key
    workflow.store()
    workflow.base.extras.set_many({KEY: key, LIBRARY: [{"campaign": LABEL, "id": row["library_id"], "line": 2}]})
    table = {}
    for name in ("thermal_conductivity", "density"):
        flags = [f for f in row[f"{name}_flags"].split(";") if f]
        table[name] = {"value": row[name], "stderr": row[f"{name}_stderr"], "unit": row[f"{name}_unit"],
                       "flags": flags}
    properties = orm.Dict(table).store()
    properties.base.links.add_incoming(workflow, link_type=LinkType.RETURN, link_label="properties")
    workflow.seal()
    return workflow


@pytest.fixture
def campaign(aiida_profile_clean):
    group = orm.Group(LABEL).store()
    group.add_nodes([_polymer(row) for row in _rows()])
    yield group
    aiida_profile_clean.reset_storage()  # the synthetic runs must not reach other tests' `aiida-polymer list`


def test_cli_plot_campaign(campaign, tmp_path):
    result = CliRunner().invoke(cli, ["plot", "campaign", LABEL, "-o", str(tmp_path), "--pareto",
                                      "thermal_conductivity,-density", "--reference", "experiment"])
    assert result.exit_code == 0, result.output
    for name in ("distributions", "scatter", "parity_experiment"):
        _valid(tmp_path / f"{name}.png")
    assert "Pareto front of thermal_conductivity,-density (results): a, c" in result.output
    # density against experiment (the mean of the sources): a 0.80 vs PE 0.85; b 1.10 vs PEO (1.13, 1.00); c 1.35
    # vs PVC (1.38, 1.400); d 0.90 vs aPP (0.85, 0.86); e 1.00 vs aPS (1.05, 1.062, 1.050): differences -0.05,
    # +0.035, -0.04, +0.045, -0.054 (e's kappa is gated, its density is a result)
    assert "parity density: n=5 MAE=0.0448 bias=-0.0128" in result.output
    svg = CliRunner().invoke(cli, ["plot", "campaign", LABEL, "-o", str(tmp_path / "svg"), "--format", "svg"])
    assert svg.exit_code == 0, svg.output
    _valid(tmp_path / "svg" / "scatter.svg")


@pytest.mark.parametrize(("args", "message"), [
    (["plot", "campaign", "no-such-group", "-o", "x"], "no group 'no-such-group'"),
    (["plot", "campaign", LABEL, "-o", "x", "--pareto", "thermal_conductivity,colour"], "unknown property 'colour'"),
    (["plot", "campaign", LABEL, "-o", "x", "--reference", "nowhere.csv"], "no reference 'nowhere.csv'"),
    (["plot", "run", "999999", "-o", "x"], "no node 999999"),
])
def test_cli_plot_errors(campaign, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def _array(**arrays) -> orm.ArrayData:
    node = orm.ArrayData()
    for name, values in arrays.items():
        node.set_array(name, np.asarray(values))
    return node.store()


def _returns(workflow: orm.WorkflowNode, outputs: dict[str, orm.Data]) -> None:
    for label, data in outputs.items():
        data.base.links.add_incoming(workflow, link_type=LinkType.RETURN, link_label=label)


def _called(parent: orm.WorkflowNode, label: str, process_type: str, outputs: dict[str, orm.Data]):
    child = _finished(orm.WorkflowNode(), process_type)
    child.base.links.add_incoming(parent, LinkType.CALL_WORK, label)
    child.store()
    _returns(child, outputs)
    child.seal()
    return child


@pytest.fixture
def run_without_nemd(aiida_profile_clean):
    """A polymer.properties run with the equilibration's nodes (fused compression phase, two production segments)
    and no NEMD."""
    base = "aiida.workflows:polymer.lammps.base"
    run = _finished(orm.WorkflowNode(), "aiida.workflows:polymer.properties").store()
    equilibrate = _finished(orm.WorkflowNode(), "aiida.workflows:polymer.equilibrate")
    equilibrate.base.links.add_incoming(run, LinkType.CALL_WORK, "equilibrate")
    equilibrate.store()
    stages = {"packing": _thermo(20, 4, 0.3), **{f"compression_{i:02d}": _thermo(10, 5 + i) for i in range(1, 4)}}
    _called(equilibrate, "equilibration", base, {f"stage_thermo__{k}": _array(**v) for k, v in stages.items()})
    time, com = _com()
    for segment in (1, 2):
        _called(equilibrate, f"production_{segment:02d}", base,
                {"thermo": _array(**_thermo(60, segment)), "rg": _array(values=np.full((60, 4), 7.0)),
                 "com": _array(time=time, values=com)})
    convergence = {"converged": True, "window": 0.5,
                   "checks": {"density": {"value": 1e-4, "threshold": 1e-3, "relative": True, "pass": True}}}
    _returns(equilibrate, {"convergence": orm.Dict(convergence).store()})
    equilibrate.seal()
    run.seal()
    yield run
    aiida_profile_clean.reset_storage()


def test_cli_plot_run_without_nemd(run_without_nemd, tmp_path):
    result = CliRunner().invoke(cli, ["plot", "run", str(run_without_nemd.pk), "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert f"no nemd plot for {run_without_nemd.pk}: no NEMD in this run" in result.output
    assert "Traceback" not in result.output
    for name in ("thermo", "compression", "msd"):
        _valid(tmp_path / f"{name}.png")
    assert not (tmp_path / "nemd_profile.png").exists()
    only = CliRunner().invoke(cli, ["plot", "run", str(run_without_nemd.pk), "-o", str(tmp_path / "svg"),
                                    "--only", "msd", "--format", "svg"])
    assert only.exit_code == 0, only.output
    _valid(tmp_path / "svg" / "msd.svg")


@pytest.fixture
def bulk_campaign(aiida_profile_clean):
    from aiida_polymer.database.synthetic import synthetic_campaign

    made = synthetic_campaign(40, "plot-bulk")
    yield made
    aiida_profile_clean.reset_storage()


def test_cli_plot_bulk_campaign_front(bulk_campaign, tmp_path):
    """On the bulk generator's campaign (values known by construction): the front the CLI reports is the one of the
    generated values (every 10th polymer has no kappa, the excepted ones no properties)."""
    result = CliRunner().invoke(cli, ["plot", "campaign", "plot-bulk", "-o", str(tmp_path), "--pareto",
                                      "thermal_conductivity,-density"])
    assert result.exit_code == 0, result.output
    _valid(tmp_path / "scatter.png")
    _valid(tmp_path / "distributions.png")
    known = [p for p in bulk_campaign.polymers if (p["properties"].get("thermal_conductivity") or {}).get("value")]
    kappa = [p["properties"]["thermal_conductivity"]["value"] for p in known]
    density = [p["properties"]["density"]["value"] for p in known]
    usable = np.array([not any(plots.is_gated(shown_flags(p["properties"][name]))
                               for name in ("thermal_conductivity", "density")) for p in known])
    front = plots.pareto_front(np.where(usable, kappa, np.nan), np.where(usable, density, np.nan), (True, False))
    expected = sorted(p["library_id"] for p, on in zip(known, front, strict=True) if on)
    line = next(line for line in result.output.splitlines() if line.startswith("Pareto front"))
    assert sorted(line.split(": ", 1)[1].split(", ")) == expected and expected
