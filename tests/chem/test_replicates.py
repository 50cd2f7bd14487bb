"""Run-to-run statistics over replicates (aiida_polymer/chem/replicates.py) on tables whose answer is known."""

import numpy as np
import pytest

from aiida_polymer.chem.replicates import aggregate


def _entry(value, stderr=0.01, flags=()):
    return {"value": value, "unit": "g/cm^3", "stderr": stderr, "flags": list(flags)}


def test_mean_sd_and_standard_error_of_the_mean():
    tables = [{"density": _entry(0.84)}, {"density": _entry(0.86, flags=["not_converged"])}, {"density": _entry(0.85)}]
    out = aggregate(tables)["density"]
    assert out["value"] == pytest.approx(0.85, abs=1e-12)
    assert out["run_to_run_sd"] == pytest.approx(0.01, abs=1e-12)  # sqrt(((-.01)² + .01² + 0)/2)
    assert out["stderr"] == pytest.approx(0.01 / np.sqrt(3), abs=1e-12)
    assert out["count"] == 3 and out["replicates"] == 3 and out["values"] == [0.84, 0.86, 0.85]
    assert out["flags"] == ["not_converged"] and out["unit"] == "g/cm^3"


def test_a_replicate_without_a_value_is_counted_out():
    tables = [{"k": _entry(0.4)}, {"k": _entry(None)}, {"k": _entry(float("nan"))}, {"k": _entry(0.6)}]
    out = aggregate(tables)["k"]
    assert out["value"] == pytest.approx(0.5) and out["count"] == 2 and out["replicates"] == 4
    assert out["values"] == [0.4, None, None, 0.6]
    assert out["run_to_run_sd"] == pytest.approx(np.std([0.4, 0.6], ddof=1))


def test_one_value_keeps_its_own_error_and_none_keeps_the_reason():
    one = aggregate([{"k": _entry(0.4, stderr=0.03)}, {"k": _entry(None)}])["k"]
    assert one["value"] == 0.4 and one["stderr"] == 0.03 and one["run_to_run_sd"] is None and one["count"] == 1
    skipped = {"value": None, "unit": "W/(m K)", "stderr": None, "flags": ["skipped"], "reason": "not_equilibrated"}
    none = aggregate([{"k": skipped}, {"k": skipped}])["k"]
    assert none["value"] is None and none["count"] == 0 and none["reason"] == "not_equilibrated"


def test_property_missing_from_a_replicate_and_no_tables():
    out = aggregate([{"a": _entry(1.0)}, {"a": _entry(3.0), "b": _entry(2.0)}])
    assert out["a"]["value"] == 2.0 and out["b"]["value"] == 2.0 and out["b"]["values"] == [None, 2.0]
    with pytest.raises(ValueError):
        aggregate([])
