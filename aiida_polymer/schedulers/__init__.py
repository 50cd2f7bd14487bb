"""Scheduler plugins shipped with aiida-polymer (``polymer.pjm``: Fujitsu PJM on Fugaku and other A64FX systems)."""
