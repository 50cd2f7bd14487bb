"""Shared fixtures: a temporary AiiDA profile (SQLite, no services) from aiida-core's pytest fixtures."""

import contextlib
import os
import sys
from pathlib import Path

import pytest

pytest_plugins = ["aiida.tools.pytest_fixtures"]

# The daemon is started with the `verdi` found on the PATH: this environment's.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")
    import aiida.engine.daemon.client as _daemon_client  # looked `verdi` up when first imported

    _daemon_client.VERDI_BIN = _daemon_client.VERDI_BIN or str(Path(_BIN) / "verdi")


@contextlib.contextmanager
def zeromq_daemon(aiida_config, aiida_profile_factory, name: str, workers: int = 1):
    """A profile of its own with the ZeroMQ broker (the session's test profile has none), and its daemon; the
    previous default profile is restored afterwards."""
    from aiida.engine.daemon.client import get_daemon_client
    from aiida.manage import get_manager

    previous = aiida_config.default_profile_name
    with aiida_profile_factory(aiida_config, broker_backend="core.zeromq", name=name) as profile:
        client = get_daemon_client(profile.name)
        client.start_daemon(number_workers=workers)
        get_manager().reset_runner()  # this process submits through the broker that the daemon runs
        try:
            yield client
        finally:
            _stop(client)
            aiida_config.set_default_profile(previous, overwrite=True)
            aiida_config.store()


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


def _stop(client) -> None:
    """Stop the daemon; on a loaded machine circus may not answer in time: then terminate it by its PID."""
    import signal

    from aiida.engine.daemon.client import DaemonException

    try:
        if client.is_daemon_running:
            client.stop_daemon(wait=True, timeout=60)
    except DaemonException:
        pid = client.get_daemon_pid()
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


@pytest.fixture(scope="session")
def daemon_profile():
    """:func:`zeromq_daemon`, for module fixtures: ``with daemon_profile(aiida_config, aiida_profile_factory,
    name) as client``."""
    return zeromq_daemon
