"""The equilibration protocols expanded into MD stages."""

from aiida_polymer.chem import equilibration


def test_fast_compression_gives_the_barostat_time_to_respond():
    # 21 steps scaled to 1 % were 5-step... 50-step stages, shorter than the barostat's 1 ps damping time
    settings = equilibration.protocol("fast")
    stages = equilibration.compression_stages(settings)
    assert len(stages) == 21
    for stage in stages:
        duration_fs = stage.steps * stage.timestep
        assert duration_fs >= 2000.0, stage.name
        if stage.ensemble == "npt":
            assert duration_fs >= 2 * 1000 * stage.timestep  # at least two barostat damping times (default pdamp)
    assert stages[-1].steps == 8000  # the final 800 ps row, scaled to 1 %, is above the floor and kept


def test_the_floor_only_lengthens_short_stages():
    settings = equilibration.protocol("moderate")
    scaled = [s.steps for s in equilibration.compression_stages(settings)]
    settings["compression"]["min_duration"] = 2.0
    assert [s.steps for s in equilibration.compression_stages(settings)] == [max(n, 2000) for n in scaled]
