"""A synthetic miniature of the aldolase workflow, simulated with numpy from a known truth.

``generate(out, seed)`` writes a ground truth (a pseudo-atomic model rendered to a map, a
decoy, every particle's true view and CTF, the planted beam tilt, drift and defocus errors),
the dose-fractionated movies a detector would have recorded, and the STAR files the programs
outside RELION would have written (import, CTFFIND, a picker). The same seed always gives
byte-identical files. The modules: ``physics`` (RELION's conventions: CTF, beam tilt, Euler
matrix, damage), ``models`` (the pseudo-atomic truth and decoy, their maps and projections),
``experiment`` (views, layout, drift, defocus, the movies) and ``files`` (names, writers);
the settings and size presets are in ``relionbench.data.sizes``, and the names callers use
are re-exported here.

Checked against RELION 3.1.3: ``relion_project`` of ``truth/map.mrc`` matches
``projection_spectra`` (r > 0.9998), ``relion_ctf_refine --fit_beamtilt`` finds the planted
tilt's direction, motion correction finds the planted drift, and int8 (mode 0) movies load.
"""

import time
from pathlib import Path

import numpy as np

from relionbench.data.sizes import (
    APIX,
    BEAM_TILT_MRAD,
    BOX,
    CONTRAST,
    COORD_DIR,
    COORD_SUFFIX,
    DECOY_FRACTION,
    DOSE_PER_FRAME,
    LOWPASS_REFERENCE,
    MOVIE_SIZE,
    N_FRAMES,
    N_MOVIES,
    Size,
)
from relionbench.data.synthetic import experiment, files, models
from relionbench.data.synthetic.experiment import layout
from relionbench.data.synthetic.files import (
    coordinate_file,
    micrograph_name,
    movie_name,
    read_planted,
)
from relionbench.data.synthetic.models import render_map, truth_atoms
from relionbench.data.synthetic.physics import ctf

__all__ = [
    'APIX', 'BOX', 'COORD_DIR', 'COORD_SUFFIX', 'DECOY_FRACTION', 'DOSE_PER_FRAME', 'MOVIE_SIZE',
    'N_FRAMES', 'N_MOVIES', 'Size', 'coordinate_file', 'ctf', 'generate', 'layout',
    'micrograph_name', 'movie_name', 'read_planted', 'render_map', 'truth_atoms',
]


def generate(out, seed=0, size=None):
    """Write the truth, movies and external programs' STAR files under ``out``, at ``size``
    (a ``Size``; the default preset when None).

    Returns a summary: particle counts, the planted beam tilt, seconds taken.
    """
    start_time = time.perf_counter()
    out, size = Path(out), size or Size()
    n_particles, apix, box = size.particles, size.apix, size.projection_box
    model_rng, view_rng, exp_rng, *noise_rngs = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3 + size.movies))
    truth, decoy = models.truth_atoms(model_rng), models.decoy_atoms(model_rng)
    truth_map = models.render_map(truth, size.box, apix)
    decoy_map = models.render_map(decoy, size.box, apix)

    coords = experiment.layout(exp_rng, size)
    angles = experiment.random_angles(view_rng, n_particles)
    classes = np.ones(n_particles, int)
    classes[view_rng.choice(n_particles, round(DECOY_FRACTION * n_particles), replace=False)] = 2
    ctfs = experiment.micrograph_ctfs(exp_rng, size.movies)
    direction = exp_rng.uniform(0, 2 * np.pi)
    tilt = BEAM_TILT_MRAD * np.array([np.cos(direction), np.sin(direction)])
    shifts = [experiment.drift(exp_rng, size) for _ in range(size.movies)]

    scale = CONTRAST / models.projection_peak(truth, size)
    start = 0
    for i, xy in enumerate(coords):
        n = len(xy)
        views, kinds = angles[start:start + n], classes[start:start + n]
        spectra = np.empty((n, box, box // 2 + 1), np.complex128)
        for kind, atoms in ((1, truth), (2, decoy)):
            if (kinds == kind).any():
                spectra[kinds == kind] = models.projection_spectra(
                    atoms, views[kinds == kind], box, apix)
        filters = experiment.frame_filters(
            *ctfs.iloc[i][['defocus_u', 'defocus_v', 'defocus_angle']], *tilt,
            shape=(size.movie_size,) * 2, apix=apix)
        movie = experiment.simulate_movie(
            noise_rngs[i], spectra, experiment.positions(xy, shifts[i], size=size), filters,
            scale, size)
        files.write_mrc(out / files.movie_name(i), movie, apix, stack=True)
        start += n

    files.write_mrc(out / 'truth' / 'map.mrc', truth_map, apix)
    files.write_mrc(out / 'truth' / 'decoy.mrc', decoy_map, apix)
    files.write_mrc(out / 'Reference' / 'initial_model.mrc',
                    models.lowpass(truth_map, apix, LOWPASS_REFERENCE), apix)
    files.write_star(out / 'truth' / 'particles.star',
                     files.truth_table(coords, angles, classes, ctfs))
    files.write_planted(out, files.planted(seed, tilt, ctfs, shifts, size))
    files.write_movies_star(out, size.movies, apix)
    files.write_ctffind_star(out, ctfs, apix)
    files.write_coordinates(out, coords)
    return {'out': str(out), 'particles': n_particles, 'decoys': int((classes == 2).sum()),
            'beam_tilt_mrad': tilt.tolist(), 'seconds': time.perf_counter() - start_time}
