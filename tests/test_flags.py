"""Flags are explained in words, and a value that failed its own checks is not shown as a result."""

import re
from pathlib import Path

import pytest

from aiida_polymer.chem import flags
from aiida_polymer.cli.tables import format_properties

README = Path(__file__).parents[1] / "README.md"

TABLE = {
    "density": {"value": 0.851, "unit": "g/cm^3", "stderr": 0.002, "flags": ["not_converged"]},
    "self_diffusion": {"value": -3e-11, "unit": "m^2/s", "stderr": 2e-11, "flags": ["non_positive_msd_slope"]},
    "heat_capacity_cp": {"value": 1900.0, "unit": "J/(kg K)", "stderr": 1500.0, "flags": []},
    "thermal_conductivity": {"value": 12.15, "unit": "W/(m K)", "stderr": 3.0,
                             "flags": ["asymmetric_profile", "nonlinear_profile"]},
    "thermal_diffusivity": {"value": None, "unit": "m^2/s", "stderr": None, "flags": ["skipped", "not_equilibrated"],
                            "reason": "not_equilibrated: failing checks density"},
}


@pytest.mark.parametrize(("name", "reason"), [
    ("density", None),
    ("self_diffusion", "MSD not growing"),
    ("heat_capacity_cp", "noise"),  # SE 1500 on 1900: not a result
    ("thermal_conductivity", "profile not linear"),
    ("thermal_diffusivity", "skipped: not equilibrated"),
])
def test_failed_gate(name, reason):
    assert flags.failed_gate(TABLE[name]) == reason


def test_noise_is_relative_to_the_standard_error():
    assert flags.shown_flags({"value": 1.0, "stderr": 0.49, "flags": []}) == []
    assert flags.shown_flags({"value": -1.0, "stderr": 0.5, "flags": []}) == ["noise"]


def test_table_shows_failed_values_as_such_and_explains_every_flag():
    text = format_properties(TABLE, converged=False)
    rows = {line.split()[0]: line for line in text.splitlines() if line.split() and line.split()[0] in TABLE}
    assert "0.851 ± 0.002" in rows["density"]
    assert "— (profile not linear)" in rows["thermal_conductivity"] and "12.15" not in rows["thermal_conductivity"]
    assert "— (MSD not growing)" in rows["self_diffusion"]
    assert "— (noise)" in rows["heat_capacity_cp"]
    notes = text[text.index("Flags:"):]
    for flag in ("not_converged", "non_positive_msd_slope", "noise", "asymmetric_profile", "nonlinear_profile",
                 "skipped", "not_equilibrated"):
        assert f"{flag}: {flags.describe(flag)}" in notes


def test_readme_glossary_lists_every_flag():
    text = README.read_text()
    glossary = text[text.index("## Flags"):]
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", glossary, re.M))
    assert listed == set(flags.FLAGS)
