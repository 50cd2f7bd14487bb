"""Shared fixtures: a temporary AiiDA profile (SQLite, no services) from aiida-core's pytest fixtures."""

import pytest

pytest_plugins = ["aiida.tools.pytest_fixtures"]


@pytest.fixture
def polymer_codes(aiida_localhost):
    """The real executables (antechamber, parmchk2, lmp, psi4 where installed) as codes on localhost."""
    from aiida_polymer.codes import ensure_codes

    return ensure_codes(aiida_localhost)


@pytest.fixture(scope="module")
def polymer_codes_module(aiida_profile):
    """Module-scoped codes on a localhost computer (for expensive module-scoped runs)."""
    from aiida_polymer.codes import ensure_codes, localhost

    return ensure_codes(localhost("localhost-test"))
