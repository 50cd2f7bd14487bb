"""Validation against experiment and RadonPy (aiida_polymer.database.validation): statistics on tables whose answers
are worked out by hand, the readers of both reference formats with their traps (ranges, units, RadonPy's
orientational dielectric constant, its SMILES), matching by canonical repeat unit on real pairs, and the library
written for `aiida-polymer validate run`."""

from __future__ import annotations

import ast
import csv
import math
from pathlib import Path

import pytest

from aiida_polymer.campaign.identity import canonical_repeat_unit
from aiida_polymer.campaign.library import read_library
from aiida_polymer.database import plots
from aiida_polymer.database import validation as v

DATA = Path(__file__).parent / "data" / "validation"
SAMPLE = DATA / "radonpy_PI1070_sample.csv"  # 7 rows of RadonPy's PI1070.csv, verbatim


# ---------------------------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------------------------


def test_ranks_average_ties():
    assert v.ranks([3.0, 1.0, 3.0, 2.0]).tolist() == [3.5, 1.0, 3.5, 2.0]
    assert v.ranks([5.0, 5.0, 5.0]).tolist() == [2.0, 2.0, 2.0]


def test_statistics_by_hand():
    # d = ours - ref = 0, -1, +1 (the NaN pair is dropped): MAE 2/3, bias 0, relative bias (0 - 1/3 + 1/3)/3 = 0
    # Pearson sqrt(4/7) (cov 8/9... as in test_database_plots); Spearman: ranks (1,2,3) vs (1,2.5,2.5):
    # deviations (-1,0,1) and (-1,.5,.5), cov 1/2, SDs sqrt(2/3) and sqrt(1/2): r = sqrt(3)/2
    # SD: 0.5 (|0| <= .5 in), 0.9 (|-1| > .9 out), 0 (no SD: not counted): 1 of 2
    # ranges [0.5,1.5] (1 inside), [2.5,2.8] (2 is 0.5 below), [3.5,3.9] (4 is 0.1 above): 1 of 3 in, mean 0.2
    stats = v.statistics([1.0, 2.0, 4.0, math.nan], [1.0, 3.0, 3.0, 5.0], sd=[0.5, 0.9, 0.0, 1.0],
                         low=[0.5, 2.5, 3.5, 4.0], high=[1.5, 2.8, 3.9, 6.0])
    assert stats["n"] == 3
    assert stats["mae"] == pytest.approx(2.0 / 3.0)
    assert stats["bias"] == pytest.approx(0.0, abs=1e-15)
    assert stats["relative_bias"] == pytest.approx(0.0, abs=1e-15)
    assert stats["pearson"] == pytest.approx(math.sqrt(4.0 / 7.0))
    assert stats["spearman"] == pytest.approx(math.sqrt(3.0) / 2.0)
    assert (stats["n_sd"], stats["within_sd_fraction"]) == (2, 0.5)
    assert (stats["n_range"], stats["in_range_fraction"]) == (3, pytest.approx(1.0 / 3.0))
    assert stats["mean_distance_to_range"] == pytest.approx(0.2)
    # the same MAE, bias and Pearson r as the parity plots print
    same = plots.parity_statistics([1.0, 2.0, 4.0], [1.0, 3.0, 3.0])
    assert (same["mae"], same["bias"], same["r"]) == pytest.approx((stats["mae"], stats["bias"], stats["pearson"]))


def test_statistics_shifted_and_relative():
    # every value 10 % above its reference: bias +0.15 (mean of .1,.2), relative bias +0.1, r = 1, Spearman 1
    stats = v.statistics([1.1, 2.2], [1.0, 2.0])
    assert (stats["mae"], stats["bias"], stats["relative_bias"]) == pytest.approx((0.15, 0.15, 0.1))
    assert stats["pearson"] == pytest.approx(1.0) and stats["spearman"] == pytest.approx(1.0)
    # reversed order: Spearman -1
    assert v.statistics([1.0, 2.0, 3.0], [30.0, 20.0, 10.0])["spearman"] == pytest.approx(-1.0)
    one = v.statistics([1.0], [2.0])
    assert one["pearson"] is None and one["spearman"] is None and one["within_sd_fraction"] is None
    assert v.statistics([], [])["n"] == 0


def test_spearman_against_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    x = [0.3, 1.2, 1.2, 5.0, 2.2, 0.1, 7.5]
    y = [1.0, 0.5, 2.0, 2.0, 2.0, -1.0, 9.0]
    assert v.spearman(x, y) == pytest.approx(scipy_stats.spearmanr(x, y).statistic)


def test_distance_to_range():
    assert v.distance_to_range(1.0, 0.5, 1.5) == 0.0
    assert v.distance_to_range(0.25, 0.5, 1.5) == 0.25
    assert v.distance_to_range(2.0, 0.5, 1.5) == 0.5


def test_parse_value_ranges():
    assert v.parse_value("1.054-1.070") == (1.054, 1.070)
    assert v.parse_value("0.85") == (0.85, 0.85)
    assert v.parse_value("1.5e-4-2.1e-4") == (1.5e-4, 2.1e-4)
    assert v.parse_value("-5") == (-5.0, -5.0)
    assert v.parse_value("2.4 - 2.7") == (2.4, 2.7)
    with pytest.raises(ValueError):
        v.parse_value("about 3")


def test_combine_replicates():
    # three results 1.0, 1.2, 1.4 (SE .1 .2 .2) and a gated value 9: mean 1.2, SD 0.2, SE sqrt(.01+.04+.04)/3 = .1
    entries = [{"value": 1.0, "stderr": 0.1, "unit": "g/cm^3", "flags": ""},
               {"value": 1.2, "stderr": 0.2, "unit": "g/cm^3", "flags": "not_converged"},
               {"value": 1.4, "stderr": 0.2, "unit": "g/cm^3", "flags": ""},
               {"value": 9.0, "stderr": 0.1, "unit": "g/cm^3", "flags": "noise"}]
    ours = v.combine_replicates(entries)
    assert (ours.value, ours.sd, ours.stderr, ours.n, ours.gated) == pytest.approx((1.2, 0.2, 0.1, 3, False))
    assert ours.flags == "noise;not_converged"
    single = v.combine_replicates(entries[:1])
    assert (single.value, single.stderr, single.sd, single.n) == (1.0, 0.1, None, 1)
    only_gated = v.combine_replicates(entries[3:])
    assert (only_gated.value, only_gated.gated) == (9.0, True)
    assert v.combine_replicates([{"value": None, "unit": "1"}]).value is None


# ---------------------------------------------------------------------------------------------------------------
# The table, on synthetic rows and references whose answers are known
# ---------------------------------------------------------------------------------------------------------------


def _ours(smiles: str, density: float | None, se: float | None = 0.01, flags: str = "", library_id: str = "x",
          protocol: str = "fast", temperature: float = 300.0, **more) -> dict:
    row = {"smiles": smiles, "protocol": protocol, "temperature": temperature, "pressure": 1.0,
           "tacticity": "atactic", "head_group": "*C", "tail_group": "*C", "library_id": library_id,
           "density": density, "density_stderr": se, "density_unit": "g/cm^3", "density_flags": flags}
    row.update(more)
    return row


def _ref(smiles: str, value: float, low: float | None = None, high: float | None = None, sd: float | None = None,
         polymer: str = "", name: str = "density", unit: str = "g/cm^3") -> v.Reference:
    return v.Reference(polymer=polymer or smiles, smiles=smiles, property=name, value=value, unit=unit,
                       low=value if low is None else low, high=value if high is None else high, sd=sd)


def test_validation_table_known():
    ours = [
        _ours("*C*", 0.80, library_id="PE"),
        _ours("*CC(*)C", 0.84, library_id="PP-a"), _ours("*CC(*)C", 0.86, library_id="PP-b"),  # replicates
        _ours("*CC(*)Cl", 1.40, flags="noise"),  # gated: tabulated, not counted
        _ours("*CCO*", 1.00, temperature=350.0),  # another state point: left out
        _ours("*CC(*)F", 1.2),  # no reference
    ]
    experiment = v.index_references([_ref("*C*", 0.85, polymer="PE"), _ref("*CC(*)C", 0.84, 0.83, 0.845),
                                     _ref("*CC(*)C", 0.86), _ref("*CC(*)Cl", 1.39)], combine=True)
    radonpy = v.index_references([_ref("*C*", 0.838, sd=0.002, polymer="PI1"),
                                  _ref("*CC(*)C", 0.836, sd=0.002, polymer="PI2"),
                                  _ref("*CC(*)Cl", 1.353, sd=0.003, polymer="PI509")], combine=False)
    result = v.validation_rows(ours, ["density"], experiment, radonpy)
    assert result.unmatched == ["*CC(*)F"] and len(result.skipped) == 1 and "*CCO*" in result.skipped[0]
    rows = {r["smiles"]: r for r in result.rows}
    assert set(rows) == {"*C*", "*CC(*)C", "*CC(*)Cl"}
    pe, pp, pvc = rows["*C*"], rows["*CC(*)C"], rows["*CC(*)Cl"]
    assert pe["polymer"] == "PE" and pe["radonpy_id"] == "PI1" and pe["ours_n"] == 1 and pe["ours_sd"] is None
    assert pe["diff_experiment"] == pytest.approx(-0.05) and pe["distance_to_range"] == pytest.approx(0.05)
    assert pe["diff_radonpy"] == pytest.approx(-0.038) and pe["within_radonpy_sd"] is False
    assert pe["diff_radonpy_in_sd"] == pytest.approx(-19.0)  # -0.038 / 0.002
    # PP: two replicates, mean 0.85, SD sqrt(2) * 0.01, SE sqrt(2) * 0.01 / 2; experiment: the mean of 0.84 (range
    # .83-.845, counted as the value given) and 0.86 = 0.85, range .83-.86 (0.85 inside)
    assert (pp["ours"], pp["ours_sd"], pp["ours_stderr"], pp["ours_n"]) == pytest.approx(
        (0.85, math.sqrt(2) * 0.01, math.sqrt(2) * 0.01 / 2, 2))
    assert (pp["experiment"], pp["experiment_low"], pp["experiment_high"]) == pytest.approx((0.85, 0.83, 0.86))
    assert pp["distance_to_range"] == 0.0
    assert pp["diff_radonpy"] == pytest.approx(0.014) and pp["within_radonpy_sd"] is False
    assert pvc["ours_gated"] is True and pvc["ours_flags"] == "noise"
    stats = {s["compared"]: s for s in result.stats}
    # ours vs experiment over PE and PP (PVC gated): d = -0.05, 0
    assert stats["ours-experiment"]["n"] == 2
    assert stats["ours-experiment"]["mae"] == pytest.approx(0.025)
    assert stats["ours-experiment"]["bias"] == pytest.approx(-0.025)
    assert (stats["ours-experiment"]["in_range_fraction"], stats["ours-experiment"]["mean_distance_to_range"]) == (
        pytest.approx(0.5), pytest.approx(0.025))
    assert stats["ours-radonpy"]["n"] == 2 and stats["ours-radonpy"]["within_sd_fraction"] == 0.0
    assert stats["ours-radonpy"]["bias"] == pytest.approx((-0.038 + 0.014) / 2)
    # RadonPy vs experiment over all three (no gate on a reference): d = -0.012, -0.014, -0.037
    assert stats["radonpy-experiment"]["n"] == 3
    assert stats["radonpy-experiment"]["bias"] == pytest.approx((-0.012 - 0.014 - 0.037) / 3)


def test_quantum_heat_capacity_against_experiment():
    """The measured Cp is compared with our quantum-corrected Cp (and the classical one); RadonPy's Cp is classical:
    only with ours classical."""
    experiment = v.index_references([_ref("*C*", 2250.0, name="heat_capacity_cp", unit="J/(kg K)")], combine=True)
    radonpy = v.index_references([_ref("*C*", 4699.0, sd=140.0, name="heat_capacity_cp", unit="J/(kg K)")],
                                 combine=False)
    row = _ours("*C*", 0.8, heat_capacity_cp=4800.0, heat_capacity_cp_stderr=100.0,
                heat_capacity_cp_unit="J/(kg K)", heat_capacity_cp_flags="", heat_capacity_cp_quantum=2400.0,
                heat_capacity_cp_quantum_stderr=120.0, heat_capacity_cp_quantum_unit="J/(kg K)",
                heat_capacity_cp_quantum_flags="harmonic_quantum_correction")
    result = v.validation_rows([row], ["heat_capacity_cp", "heat_capacity_cp_quantum"], experiment, radonpy)
    rows = {r["property"]: r for r in result.rows}
    assert rows["heat_capacity_cp_quantum"]["experiment"] == 2250.0 and rows["heat_capacity_cp_quantum"][
        "radonpy"] is None
    assert rows["heat_capacity_cp_quantum"]["diff_experiment"] == pytest.approx(150.0)
    assert (rows["heat_capacity_cp"]["experiment"], rows["heat_capacity_cp"]["radonpy"]) == (2250.0, 4699.0)


def test_unit_mismatch_is_an_error():
    experiment = v.index_references([_ref("*C*", 850.0, unit="kg/m^3")], combine=True)
    with pytest.raises(v.ValidationError, match="experiment is in kg/m\\^3, our campaign in g/cm\\^3"):
        v.validation_rows([_ours("*C*", 0.8)], ["density"], experiment, {})


def test_parity_pairs_ranges_as_error_bars():
    experiment = v.index_references([_ref("*C*", 0.85, 0.84, 0.9)], combine=True)
    result = v.validation_rows([_ours("*C*", 0.8)], ["density"], experiment, {})
    pairs = v.parity_pairs(result.rows, "experiment")
    assert pairs["density"]["spread"][:, 0].tolist() == pytest.approx([0.01, 0.05])  # value 0.85: [.84, .9]
    assert pairs["density"]["reference"].tolist() == pytest.approx([0.85])


# ---------------------------------------------------------------------------------------------------------------
# Reference files
# ---------------------------------------------------------------------------------------------------------------


def test_shipped_experiment_units_and_ranges():
    refs = v.read_experiment()
    assert all(r.property != "Tg" for r in refs)
    ps = [r for r in refs if r.polymer == "aPS" and r.property == "density"]
    assert sorted((r.low, r.high) for r in ps) == [(1.05, 1.05), (1.05, 1.05), (1.054, 1.07)]
    index = v.index_references(refs, combine=True)
    ps = index[("*CC(*)c1ccccc1", "density")]
    assert (ps.value, ps.low, ps.high) == pytest.approx(((1.05 + 1.062 + 1.05) / 3, 1.05, 1.07))
    assert index[("*CC(*)c1ccccc1", "heat_capacity_cp")].unit == "J/(kg K)"
    assert index[("*CC(*)c1ccccc1", "heat_capacity_cp")].low == pytest.approx(1210.0)  # 1.21 J/(g K)
    pvc = index[("*CC(*)Cl", "volumetric_thermal_expansion")]  # 1.8-2.4 (1e-4/K)
    assert (pvc.low, pvc.high) == pytest.approx((1.8e-4, 2.4e-4)) and pvc.unit == "1/K"
    assert index[("*CC(*)C", "dielectric_constant")].value == 2.2  # epsilon: the whole permittivity
    assert index[("*C*", "density")].polymer == "PE"  # *CC* is the unit *C*


def test_radonpy_file_format_and_dielectric_trap(tmp_path):
    refs = v.read_radonpy(SAMPLE)
    by = {(r.polymer, r.property): r for r in refs}
    with open(SAMPLE, newline="") as handle:
        raw = {row["monomer_ID"]: row for row in csv.DictReader(handle)}
    pe = raw["PI1"]
    # static_dielectric_const is only the orientational part; dielectric_const_dc is static - 1 + n^2 (the mean of
    # it over RadonPy's runs, so it differs from the product of the means by at most var(n))
    assert by[("PI1", "dielectric_orientational")].value == float(pe["static_dielectric_const"])
    assert by[("PI1", "dielectric_constant")].value == float(pe["dielectric_const_dc"])
    for row in raw.values():
        n, n_sd = float(row["refractive_index"]), float(row["refractive_index_std"])
        dc = float(row["static_dielectric_const"]) - 1.0 + n**2
        assert abs(dc - float(row["dielectric_const_dc"])) <= n_sd**2 + 1e-8
    assert by[("PI1", "dielectric_constant")].value == pytest.approx(2.2906, abs=1e-4)
    assert by[("PI1", "density")].sd == float(pe["density_std"]) and by[("PI1", "density")].n == 5
    assert by[("PI1", "volumetric_thermal_expansion")].unit == "1/K"
    # RadonPy's SMILES are other frames of our canonical units
    units = {r.polymer: r.smiles for r in refs}
    assert units["PI1"] == "*C*" and units["PI2"] == "*CC(*)C" and units["PI82"] == "*CC(*)c1ccccc1"
    assert units["PI437"] == canonical_repeat_unit("*CC(*)(C)C(=O)OC") and units["PI509"] == "*CC(*)Cl"
    # a file without dielectric_const_dc: computed from the two means
    stripped = tmp_path / "no_dc.csv"
    with open(SAMPLE, newline="") as handle, open(stripped, "w", newline="") as out:
        reader = csv.DictReader(handle)
        keep = [c for c in reader.fieldnames if not c.startswith("dielectric_const_dc")]
        writer = csv.DictWriter(out, keep, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(reader)
    computed = {(r.polymer, r.property): r for r in v.read_radonpy(stripped)}
    n = float(pe["refractive_index"])
    assert computed[("PI1", "dielectric_constant")].value == pytest.approx(
        float(pe["static_dielectric_const"]) - 1.0 + n**2, rel=1e-12)


def test_radonpy_prefilter_keeps_what_is_wanted():
    wanted = ["*CC(*)Cl", "*CC(*)c1ccccc1"]
    refs = v.read_radonpy(SAMPLE, wanted=wanted)
    assert {r.polymer for r in refs} == {"PI509", "PI82"}
    assert v.formula_key("*CCCC*") == v.formula_key("*C*") == "C1,H2"


def test_shipped_radonpy_is_the_file_format():
    """The shipped long table says what PI1070.csv says for the same units."""
    shipped = {(r.smiles, r.property): r for r in v.read_radonpy()}
    for ref in v.read_radonpy(SAMPLE):
        if ref.polymer == "PI522":
            continue
        got = shipped[(ref.smiles, ref.property)]
        assert got.value == pytest.approx(ref.value, rel=1e-5), (ref.polymer, ref.property)
        assert (got.sd or 0.0) == pytest.approx(ref.sd or 0.0, rel=1e-5, abs=1e-30)
        assert got.n == ref.n


def test_matching_on_the_shipped_files():
    """Our units as the pipeline writes them (canonical) find PE, PP, PS, PMMA, PVC and PEO in both shipped files;
    cis-polyisoprene (stereo marks) finds RadonPy's PI522 (double bond unspecified) with its marks ignored, never
    RadonPy's trans isomer PI517 (*/C(=C/CC*)C, a unit with marks of its own)."""
    experiment = v.index_references(v.read_experiment(), combine=True)
    radonpy = v.index_references(v.read_radonpy(), combine=False)
    written = {"PE": "*CCCC*", "aPP": "*C(C*)C", "aPS": "*C(C*)c1ccccc1", "PMMA": "*C(C*)(C(=O)OC)C",
               "PVC": "*C(C*)Cl", "PEO": "*OCC*", "cis-PI": "*C/C(C)=C\\C*"}
    ours = [_ours(canonical_repeat_unit(smiles), 1.0, library_id=name) for name, smiles in written.items()]
    result = v.validation_rows(ours, ["density"], experiment, radonpy)
    rows = {r["polymer"]: r for r in result.rows}
    assert set(rows) == set(written) and not result.unmatched
    ids = {name: rows[name]["radonpy_id"] for name in rows}
    assert ids == {"PE": "PI1", "aPP": "PI2", "aPS": "PI82", "PMMA": "PI437", "PVC": "PI509", "PEO": "PI524",
                   "cis-PI": "PI522"}
    assert rows["cis-PI"]["radonpy_match"] == "stereo ignored" and rows["cis-PI"]["experiment_match"] == "exact"
    assert rows["PE"]["radonpy"] == pytest.approx(0.837972) and rows["PE"]["experiment"] == pytest.approx(0.85)


@pytest.mark.parametrize(("text", "message"), [
    ("polymer,smiles,value\nPE,*CC*,0.85\n", "missing column(s) property"),
    ("polymer,property,value\nPE,density,0.85\n", "missing column(s) smiles"),
    ("polymer,smiles,property,value,unit\nPE,*CC*,density,850,kg/m3\n", "line 2: density in 'kg/m3'"),
    ("polymer,smiles,property,value,unit\nPE,*CC*,density,dense,g/cm3\n", "line 2: value 'dense' is not a number"),
    ("polymer,smiles,property,value,unit\nPE,CC,density,0.85,g/cm3\n", "line 2: smiles 'CC'"),
    ("", "empty"),
])
def test_bad_experiment_files(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(v.ValidationError) as info:
        v.read_experiment(path)
    assert message in str(info.value) and "bad.csv" in str(info.value)


def test_missing_and_bad_radonpy_files(tmp_path):
    with pytest.raises(v.ValidationError, match="not found"):
        v.read_radonpy(tmp_path / "nowhere.csv")
    path = tmp_path / "bad.csv"
    path.write_text("monomer_ID,smiles,colour\nPI1,*CC*,red\n")
    with pytest.raises(v.ValidationError, match="none of the property columns"):
        v.read_radonpy(path)
    path.write_text("name,value\nPE,1\n")
    with pytest.raises(v.ValidationError, match="missing column"):
        v.read_radonpy(path)


def test_pipeline_names_accepted_in_experiment(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("smiles,property,value,unit\n*CC*,density,0.86-0.88,g/cm^3\n*CC*,heat_capacity_cp,2100,"
                    "J/(kg K)\n*CC*,Tg,195,K\n*CC*,refractive_index,,1\n")  # Tg and a blank value: left out
    refs = {r.property: r for r in v.read_experiment(path)}
    assert set(refs) == {"density", "heat_capacity_cp"}
    assert (refs["density"].low, refs["density"].high, refs["heat_capacity_cp"].value) == (0.86, 0.88, 2100.0)


# ---------------------------------------------------------------------------------------------------------------
# Library for `validate run`, summary, layering
# ---------------------------------------------------------------------------------------------------------------


def test_library_from_the_experiment(tmp_path):
    rows = v.library_rows(v.read_experiment())
    assert [r["id"] for r in rows] == ["PE", "aPP", "aPS", "PMMA", "PVC", "cis-PI", "PEO"]
    path = v.write_table(rows, ["id", "smiles", "reference_name"], tmp_path / "library.csv")
    entries, rejected = read_library(path)
    assert not rejected and len(entries) == 7 and entries[0].units == ("*C*",)
    only = v.library_rows(v.read_experiment(), only=["PE", "*C(C*)C"])  # a name and RadonPy's SMILES of PP
    assert [r["id"] for r in only] == ["PE", "aPP"]
    with pytest.raises(v.ValidationError, match="not in the reference: PTFE"):
        v.library_rows(v.read_experiment(), only=["PTFE"])


def test_summary_markdown_lists_everything():
    experiment = v.index_references([_ref("*C*", 0.85, 0.84, 0.86, polymer="PE")], combine=True)
    radonpy = v.index_references([_ref("*C*", 0.838, sd=0.002, polymer="PI1")], combine=False)
    result = v.validation_rows([_ours("*C*", 0.8, library_id="PE"), _ours("*CC(*)F", 1.0)], ["density"],
                               experiment, radonpy)
    text = v.summary_markdown(result, "Validation", ["aiida-polymer validate report g -o out"])
    assert "| PE | fast | density | 0.8 ± 0.01 | — (1) | 0.85 [0.84–0.86] | 0.838 ± 0.002 | -19.0 |" in text
    assert "| fast | density | ours-radonpy | 1 | 0.038 | -0.038 | -4.5 % |" in text
    assert "No reference for: *CC(*)F." in text and "aiida-polymer validate report g -o out" in text


def test_validation_module_has_no_aiida_import():
    tree = ast.parse(Path(v.__file__).read_text())
    names = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not any(name.split(".")[0] == "aiida" for name in names)
