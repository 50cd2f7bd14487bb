"""aiida-polymer: polymer properties from a repeat-unit SMILES by all-atom MD, with AiiDA provenance."""

__version__ = "0.1.0"
