"""A synthetic miniature of the aldolase workflow, simulated with numpy from a known truth.

``generate(out, seed)`` writes a ground truth (a pseudo-atomic model rendered to a map, a
decoy, every particle's true view and CTF, the planted beam tilt, drift and defocus errors),
the dose-fractionated movies a detector would have recorded, and the STAR files the programs
outside RELION would have written (import, CTFFIND, a picker). The same seed always gives
byte-identical files.

Conventions are RELION's: an image spectrum is ``CTF * exp(i phase) * P`` with the CTF of
``relion/src/ctf.h`` (positive at its first peak for underfocus), the beam-tilt phase of
``jaz/ctf/tilt_helper.cpp`` and projections along z of atoms rotated by the Euler matrix
of ``Euler_angles2matrix``. The recorded counts are ``dose * (1 - contrast * image)``, so
particles are dark and extraction needs ``--invert_contrast``.

A particle's projection is the exact central slice of its model's Fourier transform (a sum
of Gaussian atoms, evaluated, not interpolated), moved to its sub-pixel place in each frame
by a phase ramp; CTF, beam tilt and the frame's radiation-damage B-factor then filter the
whole frame (they do not depend on position, and no box truncates the CTF's delocalisation).
Checked against RELION 3.1.3: ``relion_project`` of ``truth/map.mrc`` matches
``projection_spectra`` (r > 0.9998), ``relion_ctf_refine --fit_beamtilt`` finds the planted
tilt's direction, motion correction finds the planted drift, and int8 (mode 0) movies load.
"""

import json
import time
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import starfile

from relionbench.data.sizes import (
    AMPLITUDE_CONTRAST,
    APIX,
    ASTIGMATISM_RANGE,
    ATOM_SIGMA,
    B_PER_DOSE,
    BEAM_TILT_MRAD,
    BOX,
    CONTRAST,
    COORD_DIR,
    COORD_SUFFIX,
    CS,
    CTFFIND,
    DECOY_FRACTION,
    DEFOCUS_ERROR_RANGE,
    DEFOCUS_RANGE,
    DOSE_PER_FRAME,
    DRIFT_RANGE,
    FIELD_ROTATION_DEG,
    LOWPASS_REFERENCE,
    MOTIONCORR,
    MOVIE_SIZE,
    N_FRAMES,
    N_MOVIES,
    OPTICS_GROUP,
    PROJECTION_BOX,
    VOLTAGE,
    Size,
    settings,
)


def micrograph_name(i):
    """The corrected micrograph of movie ``i`` (0-based), as MotionCorr/job002 writes it."""
    return f'{MOTIONCORR}/Movies/mic_{i + 1:03d}.mrc'


def movie_name(i):
    return f'Movies/mic_{i + 1:03d}.mrcs'


def coordinate_file(i):
    """Where relion_preprocess 3.1.3 looks with ``--coord_dir Picks/ --coord_suffix _pick.star``:
    coord_dir + the micrograph name without its ``Job/jobNNN/`` and extension + suffix."""
    return f'{COORD_DIR}/Movies/mic_{i + 1:03d}{COORD_SUFFIX}'


# -- physics ---------------------------------------------------------------------------------

def wavelength(kv=VOLTAGE):
    """Relativistic electron wavelength in A."""
    volts = kv * 1e3
    return 12.2643247 / np.sqrt(volts * (1 + 0.978466e-6 * volts))


def euler_matrix(rot, tilt, psi):
    """RELION's ``Euler_angles2matrix`` (ZYZ, degrees); the rows of the result are the image
    axes, so ``A @ r`` is an atom's position in the particle's frame."""
    a, b, g = np.radians([rot, tilt, psi])
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    return np.array([[cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb],
                     [-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb],
                     [sc, ss, cb]])


def ctf(kx, ky, defocus_u, defocus_v, angle):
    """RELION's CTF at spatial frequencies ``kx``, ``ky`` (1/A): ``sin(chi + asin(Q))``."""
    lam, cs = wavelength(), CS * 1e7
    k2 = kx ** 2 + ky ** 2
    azimuth = np.arctan2(ky, kx) - np.radians(angle)
    defocus = 0.5 * (defocus_u + defocus_v) + 0.5 * (defocus_u - defocus_v) * np.cos(2 * azimuth)
    chi = np.pi * lam * defocus * k2 - 0.5 * np.pi * cs * lam ** 3 * k2 ** 2
    q = AMPLITUDE_CONTRAST
    return np.sqrt(1 - q ** 2) * np.sin(chi) + q * np.cos(chi)


def beam_tilt_phase(kx, ky, tilt_x, tilt_y):
    """``exp(i phase)`` RELION multiplies a prediction by for a beam tilt in mrad."""
    scale = 2e-3 * np.pi * CS * 1e7 * wavelength() ** 2
    return np.exp(-1j * scale * (kx ** 2 + ky ** 2) * (kx * tilt_x + ky * tilt_y))


def damage_bfactor(frame):
    """B-factor (A^2) of frame ``frame`` (0-based) at the exposure of its middle."""
    return B_PER_DOSE * DOSE_PER_FRAME * (frame + 0.5)


# -- the models ------------------------------------------------------------------------------

def helix(rng, centre, direction, n):
    """Pseudo-atoms at the C-alpha positions of an ideal alpha helix of ``n`` residues."""
    direction = direction / np.linalg.norm(direction)
    u = np.cross(direction, [1.0, 0.0, 0.0] if abs(direction[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(direction, u)
    t = np.arange(n) - (n - 1) / 2
    phase = np.radians(100.0) * t + rng.uniform(0, 2 * np.pi)
    return (centre + np.outer(1.5 * t, direction)
            + 2.3 * (np.outer(np.cos(phase), u) + np.outer(np.sin(phase), v)))


def domain(rng, centre, radii, n_atoms):
    """A bundle of randomly oriented helices inside an ellipsoid, ``n_atoms`` in all; each
    helix starts at the best of 16 random points (the farthest from the helices so far)."""
    atoms, starts, left = [], [], n_atoms
    while left > 0:
        candidates = centre + rng.uniform(-0.7, 0.7, (16, 3)) * radii
        if starts:
            gaps = np.linalg.norm(candidates[:, None] - np.array(starts)[None], axis=2).min(1)
            candidates = candidates[[np.argmax(gaps)]]
        n = min(int(rng.integers(9, 15)), left)
        atoms.append(helix(rng, candidates[0], rng.normal(size=3), n))
        starts.append(candidates[0])
        left -= n
    return np.concatenate(atoms)


def truth_atoms(rng):
    """Four domains of different sizes around an asymmetric core, about 90 A across."""
    layout = [((-26.0, -12.0, -8.0), (15, 12, 11), 90), ((12.0, -22.0, 10.0), (12, 10, 10), 70),
              ((24.0, 16.0, -12.0), (13, 11, 10), 75), ((-8.0, 20.0, 16.0), (10, 9, 9), 55)]
    return np.concatenate([domain(rng, np.array(c), np.array(r, float), n)
                           for c, r, n in layout])


def decoy_atoms(rng):
    """A flat ring of eight small bundles with one knob: nothing like the truth."""
    parts = []
    for k in range(8):
        a = 2 * np.pi * k / 8
        parts.append(domain(rng, np.array([30 * np.cos(a), 30 * np.sin(a), 0.0]),
                            np.array([6.0, 6.0, 5.0]), 32))
    parts.append(domain(rng, np.array([30.0, 0.0, 14.0]), np.array([6.0, 6.0, 6.0]), 30))
    return np.concatenate(parts)


def _atom_factor(k2_px, sigma_px):
    """Fourier transform of a unit Gaussian atom, cut at Nyquist (band-limited sampling)."""
    return np.where(k2_px < 0.25, np.exp(-2 * np.pi ** 2 * sigma_px ** 2 * k2_px), 0.0)


def render_map(atoms, box=None, apix=None, sigma=None):
    """The band-limited map of ``atoms`` (A, about the box centre ``box // 2``), in z, y, x;
    ``BOX``, ``APIX`` and ``ATOM_SIGMA`` by default."""
    box, apix, sigma = box or BOX, apix or APIX, sigma or ATOM_SIGMA
    kz, ky = np.fft.fftfreq(box), np.fft.fftfreq(box)
    kx = np.fft.rfftfreq(box)
    pos = atoms / apix + box // 2
    ex = np.exp(-2j * np.pi * np.outer(pos[:, 0], kx))
    ey = np.exp(-2j * np.pi * np.outer(pos[:, 1], ky))
    ez = np.exp(-2j * np.pi * np.outer(pos[:, 2], kz))
    spectrum = np.einsum('az,ay,ax->zyx', ez, ey, ex, optimize=True)
    k2 = kz[:, None, None] ** 2 + ky[None, :, None] ** 2 + kx[None, None, :] ** 2
    spectrum *= _atom_factor(k2, sigma / apix)
    return np.fft.irfftn(spectrum, s=(box,) * 3, axes=(0, 1, 2)).astype(np.float32)


def lowpass(vol, apix, resolution):
    """``vol`` with a Gaussian low-pass whose amplitude falls to 1/2 at ``resolution`` A."""
    freqs = np.meshgrid(*(np.fft.fftfreq(n, d=apix) for n in vol.shape), indexing='ij')
    k2 = sum(f ** 2 for f in freqs)
    filt = np.exp(-np.log(2) * k2 * resolution ** 2)
    return np.real(np.fft.ifftn(np.fft.fftn(vol) * filt)).astype(np.float32)


def projection_spectra(atoms, angles, box=None, apix=None, sigma=None):
    """rfft2 spectra (n, box, box//2+1) of the projections of ``atoms`` along z after
    rotation by each (rot, tilt, psi), centred on pixel ``box // 2``: the exact central
    slices of the model's Fourier transform (no interpolation). ``PROJECTION_BOX``,
    ``APIX`` and ``ATOM_SIGMA`` by default."""
    box, apix, sigma = box or PROJECTION_BOX, apix or APIX, sigma or ATOM_SIGMA
    ky, kx = np.fft.fftfreq(box), np.fft.rfftfreq(box)
    factor = _atom_factor(ky[:, None] ** 2 + kx[None, :] ** 2, sigma / apix)
    out = np.empty((len(angles), box, box // 2 + 1), np.complex128)
    for i, (rot, tilt, psi) in enumerate(angles):
        xy = (atoms @ euler_matrix(rot, tilt, psi).T)[:, :2] / apix + box // 2
        ey = np.exp(-2j * np.pi * np.outer(xy[:, 1], ky))
        ex = np.exp(-2j * np.pi * np.outer(xy[:, 0], kx))
        out[i] = (ey.T @ ex) * factor
    return out


def projection_peak(atoms, size=None):
    """Maximum of the projection along z: the unit the particle contrast is given in."""
    size = size or Size()
    spectrum = projection_spectra(atoms, [(0, 0, 0)], size.projection_box, size.apix)[0]
    return float(np.fft.irfft2(spectrum).max())


# -- the experiment --------------------------------------------------------------------------

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
    base = ctf(kx, ky, defocus_u, defocus_v, angle) * beam_tilt_phase(kx, ky, tilt_x, tilt_y)
    k2 = kx ** 2 + ky ** 2
    return [base * np.exp(-damage_bfactor(f) * k2 / 4) for f in range(N_FRAMES)]


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


# -- files -----------------------------------------------------------------------------------

def write_mrc(path, data, apix=APIX, stack=False):
    """An MRC file with no time stamp in its labels (byte-identical reruns)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data)
        if stack:
            mrc.set_image_stack()
        mrc.voxel_size = apix
        mrc.header.label[0] = b'relionbench synthetic'


def write_star(path, blocks):
    """starfile.write without its time-stamped first comment line (byte-identical reruns)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    starfile.write(blocks, path, overwrite=True)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(''.join(lines[1:] if lines[0].startswith('# Created by') else lines))


def optics_table(apix=APIX, **extra):
    table = {'rlnOpticsGroupName': [OPTICS_GROUP], 'rlnOpticsGroup': [1],
             'rlnMicrographOriginalPixelSize': [apix], 'rlnVoltage': [VOLTAGE],
             'rlnSphericalAberration': [CS], 'rlnAmplitudeContrast': [AMPLITUDE_CONTRAST]}
    return pd.DataFrame({**table, **{k: [v] for k, v in extra.items()}})


def write_movies_star(out, n=N_MOVIES, apix=APIX):
    movies = pd.DataFrame({'rlnMicrographMovieName': [movie_name(i) for i in range(n)],
                           'rlnOpticsGroup': 1})
    write_star(out / 'movies.star', {'optics': optics_table(apix), 'movies': movies})


def write_ctffind_star(out, ctfs, apix=APIX):
    """What CTFFIND would have written: the true CTF plus the planted defocus error."""
    names = [micrograph_name(i) for i in range(len(ctfs))]
    table = pd.DataFrame({
        'rlnMicrographName': names,
        'rlnMicrographMetadata': [n[:-len('.mrc')] + '.star' for n in names],
        'rlnOpticsGroup': 1,
        'rlnDefocusU': ctfs.defocus_u + ctfs.error,
        'rlnDefocusV': ctfs.defocus_v + ctfs.error,
        'rlnCtfAstigmatism': ctfs.defocus_u - ctfs.defocus_v,
        'rlnDefocusAngle': ctfs.defocus_angle,
        'rlnCtfFigureOfMerit': 0.25,
        'rlnCtfMaxResolution': 2.5 * apix,
    })
    write_star(out / CTFFIND / 'micrographs_ctf.star',
               {'optics': optics_table(apix, rlnMicrographPixelSize=apix), 'micrographs': table})


def write_coordinates(out, coords):
    for i, xy in enumerate(coords):
        write_star(out / coordinate_file(i),
                   pd.DataFrame({'rlnCoordinateX': xy[:, 0].astype(float),
                                 'rlnCoordinateY': xy[:, 1].astype(float)}))


def truth_table(coords, angles, classes, ctfs):
    """One row per particle: where it is, its true view and CTF, 1 = true particle, 2 = decoy."""
    mic = np.repeat(np.arange(len(coords)), [len(c) for c in coords])
    xy = np.concatenate(coords).astype(float)
    return pd.DataFrame({
        'rlnMicrographName': [micrograph_name(i) for i in mic],
        'rlnCoordinateX': xy[:, 0], 'rlnCoordinateY': xy[:, 1],
        'rlnAngleRot': angles[:, 0], 'rlnAngleTilt': angles[:, 1], 'rlnAnglePsi': angles[:, 2],
        'rlnDefocusU': ctfs.defocus_u.to_numpy()[mic],
        'rlnDefocusV': ctfs.defocus_v.to_numpy()[mic],
        'rlnDefocusAngle': ctfs.defocus_angle.to_numpy()[mic],
        'rlnClassNumber': classes,
    })


def planted(seed, tilt, ctfs, shifts, size=None):
    """The contents of ``truth/planted.json``."""
    mics = [{'micrograph': micrograph_name(i), 'movie': movie_name(i),
             'defocus_u_true': round(float(c.defocus_u), 2),
             'defocus_v_true': round(float(c.defocus_v), 2),
             'defocus_angle': round(float(c.defocus_angle), 3),
             'defocus_u_written': round(float(c.defocus_u + c.error), 2),
             'defocus_v_written': round(float(c.defocus_v + c.error), 2),
             'defocus_error': round(float(c.error), 2)}
            for i, c in enumerate(ctfs.itertuples())]
    return {
        'seed': seed,
        'beam_tilt_x_mrad': round(float(tilt[0]), 4),
        'beam_tilt_y_mrad': round(float(tilt[1]), 4),
        'field_rotation_deg': FIELD_ROTATION_DEG,
        'field_rotation_note': 'specimen rotation about the frame centre, linear in frame '
                               'number, 0 in the first frame',
        'shifts_note': 'global specimen shift (x, y) in px of each frame relative to the '
                       'first; RELION reports the correcting shift, its negative',
        'micrographs': mics,
        'global_shifts_px': {movie_name(i): np.round(s, 4).tolist() for i, s in enumerate(shifts)},
        'settings': settings(size or Size()),
    }


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
    truth, decoy = truth_atoms(model_rng), decoy_atoms(model_rng)
    truth_map, decoy_map = render_map(truth, size.box, apix), render_map(decoy, size.box, apix)

    coords = layout(exp_rng, size)
    angles = random_angles(view_rng, n_particles)
    classes = np.ones(n_particles, int)
    classes[view_rng.choice(n_particles, round(DECOY_FRACTION * n_particles), replace=False)] = 2
    ctfs = micrograph_ctfs(exp_rng, size.movies)
    direction = exp_rng.uniform(0, 2 * np.pi)
    tilt = BEAM_TILT_MRAD * np.array([np.cos(direction), np.sin(direction)])
    shifts = [drift(exp_rng, size) for _ in range(size.movies)]

    scale = CONTRAST / projection_peak(truth, size)
    start = 0
    for i, xy in enumerate(coords):
        n = len(xy)
        views, kinds = angles[start:start + n], classes[start:start + n]
        spectra = np.empty((n, box, box // 2 + 1), np.complex128)
        for kind, atoms in ((1, truth), (2, decoy)):
            if (kinds == kind).any():
                spectra[kinds == kind] = projection_spectra(atoms, views[kinds == kind], box,
                                                            apix)
        filters = frame_filters(*ctfs.iloc[i][['defocus_u', 'defocus_v', 'defocus_angle']],
                                *tilt, shape=(size.movie_size,) * 2, apix=apix)
        movie = simulate_movie(noise_rngs[i], spectra, positions(xy, shifts[i], size=size),
                               filters, scale, size)
        write_mrc(out / movie_name(i), movie, apix, stack=True)
        start += n

    write_mrc(out / 'truth' / 'map.mrc', truth_map, apix)
    write_mrc(out / 'truth' / 'decoy.mrc', decoy_map, apix)
    write_mrc(out / 'Reference' / 'initial_model.mrc',
              lowpass(truth_map, apix, LOWPASS_REFERENCE), apix)
    write_star(out / 'truth' / 'particles.star', truth_table(coords, angles, classes, ctfs))
    (out / 'truth' / 'planted.json').write_text(
        json.dumps(planted(seed, tilt, ctfs, shifts, size), indent=1) + '\n')
    write_movies_star(out, size.movies, apix)
    write_ctffind_star(out, ctfs, apix)
    write_coordinates(out, coords)
    return {'out': str(out), 'particles': n_particles, 'decoys': int((classes == 2).sum()),
            'beam_tilt_mrad': tilt.tolist(), 'seconds': time.perf_counter() - start_time}


def read_planted(out):
    """``truth/planted.json`` of the miniature in ``out``."""
    return json.loads((Path(out) / 'truth' / 'planted.json').read_text())
