"""Joining the series of a stage run in pieces (aiida_polymer/chem/pieces.py), for a series of vectors per row
(the deformation's strains and pressures) as for scalars."""

import numpy as np

from aiida_polymer.chem.pieces import join


def test_pieces_of_a_vector_series_join_without_repeats_or_gaps():
    steps = np.arange(0, 100, 10)
    strain = np.c_[steps * 1e-4, -steps * 4e-5, -steps * 4e-5]
    # the first piece wrote rows to step 60 but its restart was at 40; the second went on from 40
    first = {"step": steps[:7], "strain": strain[:7]}
    second = {"step": steps[4:], "strain": strain[4:]}
    joined = join([first, second], starts=[0, 40])
    assert np.array_equal(joined["step"], steps)
    assert np.array_equal(joined["strain"], strain) and joined["strain"].shape == (10, 3)
