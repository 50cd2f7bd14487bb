"""The polymer property database: a campaign's results as a flat table, exported for reuse (CSV, Parquet, a
Frictionless Data package and the full-provenance AiiDA archive), with open and closed data.

From Python::

    from aiida_polymer.database import campaign_table, export_group
    table = campaign_table(group)           # one row per polymer; table.long() one row per polymer x property
    export_group(group, "out/", public=True)
    frame = query(group, where=["density>1.1"], sort="-thermal_conductivity")   # a pandas DataFrame
"""

from __future__ import annotations

from .access import is_closed, set_closed
from .export import ExportError, export_group
from .query import QueryError, query
from .table import Table, campaign_table

__all__ = ["ExportError", "QueryError", "Table", "campaign_table", "export_group", "is_closed", "query", "set_closed"]
