"""Pure science: monomers, GAFF2 typing glue, chains, cells and LAMMPS files (no AiiDA imports)."""
