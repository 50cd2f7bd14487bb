"""Many polymers as one campaign (an AiiDA group): library input, identity, throttled submission, status, retry.

From Python, the same as ``aiida-polymer campaign``::

    from aiida_polymer.campaign import submit_campaign, campaign_status
    batch = submit_campaign("pi-screen", "library.csv", protocol="fast", max_concurrent=4)  # again: tops it up
    print(campaign_status("pi-screen").counts)
"""

from __future__ import annotations

from pathlib import Path

from .identity import canonical_repeat_unit, polymer_key
from .library import Entry, read_library

__all__ = ["Entry", "campaign_status", "canonical_repeat_unit", "polymer_key", "read_library", "submit_campaign"]


def submit_campaign(label: str, library: str | Path, *, protocol: str = "moderate", workflow: str = "properties",
                    codes: dict[str, str] | None = None, options: dict | None = None, overrides: dict | None = None,
                    temperature: float = 300.0, pressure: float = 1.0, max_concurrent: int | None = None):
    """Create or resume the campaign ``label`` over ``library`` and submit one batch (call it again, or use
    ``aiida-polymer campaign submit --watch``, to top it up); returns the
    :class:`~aiida_polymer.campaign.submission.Batch`. ``codes``: LABEL@COMPUTER per ``lmp``, ``psi4``,
    ``antechamber``, ``parmchk2`` (default: those on localhost); ``options``: ``metadata.options`` per stage."""
    from .submission import Settings, prepare, submit_batch

    entries, rejected = read_library(library)
    settings = Settings(protocol=protocol, workflow=workflow, codes=dict(codes or {}), options=dict(options or {}),
                        overrides=dict(overrides or {}), temperature=temperature, pressure=pressure,
                        max_concurrent=max_concurrent, library=str(library))
    return submit_batch(prepare(label, entries, rejected, settings))


def campaign_status(label: str):
    """The :class:`~aiida_polymer.campaign.status.Status` of the campaign ``label``."""
    from aiida import orm

    from .status import campaign_status as status

    return status(orm.Group.collection.get(label=label))
