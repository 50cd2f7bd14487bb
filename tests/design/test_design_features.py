"""Repeat-unit features: shape, determinism, periodic invariance, invalid SMILES."""

import numpy as np
import pytest

from aiida_polymer.design.features import (
    DESCRIPTORS,
    FEATURES,
    N_FEATURES,
    N_FINGERPRINT,
    featurise,
    periodic_key,
)

UNITS = ["*CC(*)c1ccccc1", "*OCCOC(=O)c1ccc(cc1)C(=O)*", "*NCCCCCC(=O)*", "*CC(*)(C)C(=O)OC", "*Oc1ccc(*)cc1"]


def test_shape_dtype_determinism():
    X = featurise(UNITS)
    assert X.shape == (len(UNITS), N_FEATURES) and X.dtype == np.float32
    assert N_FINGERPRINT + len(DESCRIPTORS) == N_FEATURES and "2048" in FEATURES
    np.testing.assert_array_equal(X, featurise(UNITS))
    np.testing.assert_array_equal(X[2], featurise(UNITS[2:3])[0])  # a row does not depend on its neighbours
    assert np.all(X[:, :N_FINGERPRINT] == np.round(X[:, :N_FINGERPRINT]))  # counts
    assert np.all(np.isfinite(X)) and len({row.tobytes() for row in X}) == len(UNITS)
    assert featurise([]).shape == (0, N_FEATURES)


def test_periodic_environments():
    """The same chain written from another origin (or with a doubled period) has the same fingerprint (doubled);
    the connection points matter: para and meta linkage differ."""
    fp = featurise(["*CC*", "*CCCC*", "*CC(*)C", "*C(C)C*", "*Oc1ccc(*)cc1", "*Oc1cccc(*)c1"])[:, :N_FINGERPRINT]
    np.testing.assert_array_equal(2 * fp[0], fp[1])
    np.testing.assert_array_equal(fp[2], fp[3])
    assert np.abs(fp[4] - fp[5]).sum() > 0
    # Polyethylene: each of the two CH2 of the period contributes one environment per radius 0, 1, 2.
    assert fp[0].sum() == 2 * 3
    assert periodic_key("*CC(*)C") == periodic_key("*C(C)C*") != periodic_key("*CC(*)CC")


def test_descriptors_scaled():
    X = featurise(["*CC(*)c1ccccc1", "*CC*"])
    d = dict(zip(DESCRIPTORS, X[0, N_FINGERPRINT:], strict=True))
    assert d["mass_per_backbone_atom/100"] == pytest.approx(104.15 / 2 / 100, rel=1e-3)  # styrene, 2 backbone atoms
    assert d["aromatic_fraction"] == pytest.approx(6 / 8)
    assert d["backbone_fraction"] == pytest.approx(2 / 8)
    assert X[1, N_FINGERPRINT + DESCRIPTORS.index("fraction_csp3")] == pytest.approx(1.0)
    assert np.all(X[:, N_FINGERPRINT:] >= 0) and np.all(X[:, N_FINGERPRINT:] < 5)


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        ("CCC", "exactly two '\\*'"),
        ("*CC(*)C*", "exactly two '\\*'"),
        ("*C1CC", "cannot parse"),
        ("**", "one real atom"),
    ],
)
def test_invalid_smiles_names_index_and_smiles(smiles, reason):
    with pytest.raises(ValueError, match=reason):
        featurise(["*CC*", smiles])
    with pytest.raises(ValueError, match="candidate 1") as err:
        featurise(["*CC*", smiles])
    assert repr(smiles) in str(err.value)
