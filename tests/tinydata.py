"""Tiny deterministic cryo-EM inputs for running the real RELION in tests.

A blobby asymmetric map (a sum of small Gaussians), the STAR file of random views and
CTFs that ``relion_project --ang`` turns into particle images, and a micrograph with
particles pasted on a grid plus its coordinate file for ``relion_preprocess --extract``.
Everything is seeded, so every run sees the same numbers.
"""

import mrcfile
import numpy as np
import pandas as pd
import starfile

BOX = 40            #: px
APIX = 3.0          #: A/px
N_PARTICLES = 200
NOISE = 0.5         #: std of the white noise relion_project adds (signal std is about 0.5)
SEED = 0
DIAMETER = 96       #: A, 0.8 x box

OPTICS = {
    'rlnOpticsGroupName': ['opticsGroup1'],
    'rlnOpticsGroup': [1],
    'rlnMicrographOriginalPixelSize': [APIX],
    'rlnVoltage': [300.0],
    'rlnSphericalAberration': [2.7],
    'rlnAmplitudeContrast': [0.1],
}


def blob_map(box=BOX, n_blobs=30, seed=SEED):
    """Sum of ``n_blobs`` Gaussians of 0.8-1.2 px sigma scattered in an ellipsoid.

    Small blobs keep signal out to about 8 A, so refinement gets past 10 A and the
    auto B-factor fit of relion_postprocess has shells to fit.
    """
    rng = np.random.default_rng(seed)
    c = np.arange(box) - box // 2
    z, y, x = np.meshgrid(c, c, c, indexing='ij')
    points = rng.uniform(-1, 1, (n_blobs * 4, 3))
    points = points[np.linalg.norm(points, axis=1) < 1][:n_blobs]
    centres = points * np.array([11.0, 8.0, 6.0]) * box / 40
    vol = np.zeros((box, box, box), np.float32)
    for cx, cy, cz in centres:
        sigma = rng.uniform(0.8, 1.2)
        vol += np.exp(-((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2) / (2 * sigma ** 2))
    return vol


def lowpass(vol, apix, resolution):
    """``vol`` with a Gaussian low-pass whose amplitude falls to 1/2 at ``resolution`` A."""
    freqs = np.meshgrid(*(np.fft.fftfreq(n, d=apix) for n in vol.shape), indexing='ij')
    k2 = sum(f ** 2 for f in freqs)
    filt = np.exp(-np.log(2) * k2 * resolution ** 2)
    return np.real(np.fft.ifftn(np.fft.fftn(vol) * filt)).astype(np.float32)


def write_mrc(path, data, apix=APIX):
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(np.asarray(data, dtype=np.float32))
        mrc.voxel_size = apix


def views(n=N_PARTICLES, box=BOX, apix=APIX, seed=SEED, per_micrograph=20):
    """Blocks of a RELION 3.1 particle STAR file: uniform random views, small offsets, CTFs."""
    rng = np.random.default_rng(seed + 1)
    defocus = rng.uniform(5000, 15000, n)
    particles = pd.DataFrame({
        'rlnMicrographName': [f'mic{i // per_micrograph:03d}.mrc' for i in range(n)],
        'rlnAngleRot': rng.uniform(-180, 180, n),
        'rlnAngleTilt': np.degrees(np.arccos(rng.uniform(-1, 1, n))),
        'rlnAnglePsi': rng.uniform(-180, 180, n),
        'rlnOriginXAngst': rng.normal(0, apix, n),
        'rlnOriginYAngst': rng.normal(0, apix, n),
        'rlnDefocusU': defocus,
        'rlnDefocusV': defocus - 200,
        'rlnDefocusAngle': rng.uniform(0, 180, n),
        'rlnCtfBfactor': np.zeros(n),
        'rlnPhaseShift': np.zeros(n),
        'rlnOpticsGroup': np.ones(n, dtype=int),
    })
    optics = pd.DataFrame({**OPTICS, 'rlnImagePixelSize': [apix], 'rlnImageSize': [box],
                           'rlnImageDimensionality': [2]})
    return {'optics': optics, 'particles': particles}


def write_views(path, **kwargs):
    starfile.write(views(**kwargs), path, overwrite=True)


def micrograph(images, noise=NOISE, seed=SEED, per_row=4):
    """A micrograph of white noise with ``images`` pasted on a grid one box apart.

    Returns the micrograph and the particle centres as (x, y) pixel coordinates.
    """
    images = np.asarray(images)
    box = images.shape[-1]
    rows = -(-len(images) // per_row)
    rng = np.random.default_rng(seed + 2)
    mic = rng.normal(0, noise, ((rows + 2) * box, (per_row + 2) * box)).astype(np.float32)
    centres = []
    for i, image in enumerate(images):
        x, y = box + (i % per_row) * box, box + (i // per_row) * box
        mic[y - box // 2:y + box // 2, x - box // 2:x + box // 2] += image
        centres.append((float(x), float(y)))
    return mic, centres


def write_micrograph_project(folder, images, apix=APIX):
    """``folder``/Micrographs/mic001.mrc, its ``_pick.star`` coordinates, micrographs.star.

    Paths inside the STAR files are relative to the folder's parent, the project root
    RELION runs in. Returns (micrographs STAR path, list of centres).
    """
    mic, centres = micrograph(images)
    mics = folder / 'Micrographs'
    mics.mkdir(parents=True, exist_ok=True)
    write_mrc(mics / 'mic001.mrc', mic, apix)
    name = f'{folder.name}/Micrographs/mic001.mrc'
    starfile.write(pd.DataFrame({'rlnCoordinateX': [c[0] for c in centres],
                                 'rlnCoordinateY': [c[1] for c in centres]}),
                   mics / 'mic001_pick.star', overwrite=True)
    optics = pd.DataFrame({**OPTICS, 'rlnMicrographPixelSize': [apix]})
    table = pd.DataFrame({'rlnMicrographName': [name], 'rlnOpticsGroup': [1],
                          'rlnDefocusU': [10000.0], 'rlnDefocusV': [9800.0],
                          'rlnDefocusAngle': [10.0], 'rlnCtfBfactor': [0.0],
                          'rlnPhaseShift': [0.0]})
    star = folder / 'micrographs.star'
    starfile.write({'optics': optics, 'micrographs': table}, star, overwrite=True)
    return star, centres
