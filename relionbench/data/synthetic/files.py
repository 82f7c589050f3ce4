"""The files: where each one lives, and writing (and reading back) MRC, STAR and JSON.

The names are those RELION's jobs and the programs outside it (import, CTFFIND, a picker)
would have used; the writers leave out time stamps, so the same seed always gives
byte-identical files. Movies are int8 (MRC mode 0) stacks, which RELION 3.1.3 loads.
"""

import json
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import starfile

from relionbench.data.sizes import (
    AMPLITUDE_CONTRAST,
    APIX,
    COORD_DIR,
    COORD_SUFFIX,
    CS,
    CTFFIND,
    FIELD_ROTATION_DEG,
    MOTIONCORR,
    N_MOVIES,
    OPTICS_GROUP,
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


def write_planted(out, planted_truth):
    """``truth/planted.json`` under ``out``: ``planted_truth`` (what ``planted`` returns)."""
    (out / 'truth' / 'planted.json').write_text(json.dumps(planted_truth, indent=1) + '\n')


def read_planted(out):
    """``truth/planted.json`` of the miniature in ``out``."""
    return json.loads((Path(out) / 'truth' / 'planted.json').read_text())
