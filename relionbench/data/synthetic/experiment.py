"""The experiment: views, particle layout, drift, defocus, and the movies a detector records.

Each particle's projection is moved to its sub-pixel place in each frame by a phase ramp;
CTF, beam tilt and the frame's radiation-damage B-factor then filter the whole frame (they do
not depend on position, and no box truncates the CTF's delocalisation). The recorded counts
are ``dose * (1 - contrast * image)``, so particles are dark and extraction needs
``--invert_contrast``.
"""

import numpy as np
import pandas as pd

from relionbench.data.sizes import (
    APIX,
    ASTIGMATISM_RANGE,
    DEFOCUS_ERROR_RANGE,
    DEFOCUS_RANGE,
    DOSE_PER_FRAME,
    DRIFT_RANGE,
    FIELD_ROTATION_DEG,
    MOVIE_SIZE,
    N_FRAMES,
    N_MOVIES,
    Size,
)
from relionbench.data.synthetic import physics


def random_angles(rng, n):
    """Uniformly distributed views as RELION Euler angles (degrees)."""
    return np.column_stack([rng.uniform(-180, 180, n),
                            np.degrees(np.arccos(rng.uniform(-1, 1, n))),
                            rng.uniform(-180, 180, n)])


def drift(rng, size=None):
    """Global shifts (n_frames, 2) in px of the specimen relative to the first frame: fast at
    first, then slower, slightly curved."""
    px = (size or Size())._px
    t = np.arange(N_FRAMES) / (N_FRAMES - 1)
    s = (1 - np.exp(-3 * t)) / (1 - np.exp(-3))
    a = rng.uniform(0, 2 * np.pi)
    along, across = np.array([np.cos(a), np.sin(a)]), np.array([-np.sin(a), np.cos(a)])
    length, bow = rng.uniform(*DRIFT_RANGE), rng.uniform(-1, 1)
    return np.outer(px(length) * s, along) + np.outer(px(bow * 4) * t * (1 - t), across)


def positions(coords, shifts, rotation_deg=None, size=None):
    """Particle centres (n_frames, n, 2) in px: the first-frame ``coords`` rotated about the
    frame centre by a growing fraction of ``rotation_deg`` (``FIELD_ROTATION_DEG``) and moved
    by the global shift. The particles' own in-plane rotation (0.1 px at their rim) is left
    out."""
    rotation_deg = FIELD_ROTATION_DEG if rotation_deg is None else rotation_deg
    centre = (size or Size()).movie_size / 2
    out = []
    for f, shift in enumerate(shifts):
        a = np.radians(rotation_deg) * f / (N_FRAMES - 1)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        out.append(centre + (coords - centre) @ rot.T + shift)
    return np.array(out)


def layout(rng, size=None):
    """Integer particle centres (x, y) in the first frame of each movie, one box apart or more."""
    size = size or Size()
    start, step, jitter = size.grid
    slots = start + step * np.arange((size.movie_size - 2 * start) // step + 1)
    grid = np.array([(x, y) for y in slots for x in slots])
    counts = np.full(size.movies, size.particles // size.movies)
    counts[:size.particles % size.movies] += 1
    per_movie = []
    for n in counts:
        chosen = grid[np.sort(rng.choice(len(grid), n, replace=False))]
        per_movie.append(chosen + rng.integers(-jitter, jitter + 1, chosen.shape))
    return per_movie


def micrograph_ctfs(rng, n=N_MOVIES):
    """Per micrograph: true DefocusU, DefocusV, DefocusAngle and the error written for them."""
    mean = rng.permutation(np.linspace(*DEFOCUS_RANGE, n)) + rng.uniform(-500, 500, n)
    astig = rng.uniform(*ASTIGMATISM_RANGE, n)
    error = rng.uniform(*DEFOCUS_ERROR_RANGE, n) * rng.choice([-1, 1], n)
    return pd.DataFrame({'defocus_u': mean + astig / 2, 'defocus_v': mean - astig / 2,
                         'defocus_angle': rng.uniform(0, 180, n), 'error': error})


def frame_filters(defocus_u, defocus_v, angle, tilt_x, tilt_y, shape=(MOVIE_SIZE, MOVIE_SIZE),
                  apix=APIX):
    """Per frame, the rfft2 filter of the microscope: CTF, beam tilt, radiation damage."""
    ky = np.fft.fftfreq(shape[0], d=apix)[:, None]
    kx = np.fft.rfftfreq(shape[1], d=apix)[None, :]
    base = (physics.ctf(kx, ky, defocus_u, defocus_v, angle)
            * physics.beam_tilt_phase(kx, ky, tilt_x, tilt_y))
    k2 = kx ** 2 + ky ** 2
    return [base * np.exp(-physics.damage_bfactor(f) * k2 / 4) for f in range(N_FRAMES)]


def paste(frame, images, centres):
    """Add each square image to ``frame`` with its pixel ``box // 2`` on ``centres``."""
    box = images.shape[-1]
    for image, (x, y) in zip(images, centres):
        x0, y0 = int(x) - box // 2, int(y) - box // 2
        frame[y0:y0 + box, x0:x0 + box] += image


def simulate_movie(rng, spectra, centres, filters, scale, size=None):
    """Counts (n_frames, ny, nx) as int8: Poisson noise around ``dose * (1 - scale * image)``
    with every particle at its sub-pixel position of each frame."""
    size = size or Size()
    box, side = size.projection_box, size.movie_size
    ky, kx = np.fft.fftfreq(box)[:, None], np.fft.rfftfreq(box)[None, :]
    dose = DOSE_PER_FRAME * size.apix ** 2
    movie = np.empty((N_FRAMES, side, side), np.int8)
    for f in range(N_FRAMES):
        whole = np.floor(centres[f])
        frac = centres[f] - whole
        ramps = np.exp(-2j * np.pi * (frac[:, 0, None, None] * kx + frac[:, 1, None, None] * ky))
        images = np.fft.irfft2(spectra * ramps, s=(box, box))
        frame = np.zeros((side, side))
        paste(frame, images, whole)
        image = np.fft.irfft2(np.fft.rfft2(frame) * filters[f], s=frame.shape)
        counts = rng.poisson(np.clip(dose * (1 - scale * image), 0, None))
        if counts.max() > 127:
            raise ValueError(f'frame {f}: {counts.max()} counts do not fit int8')
        movie[f] = counts
    return movie
