"""Scores against the ground truth of the synthetic miniature (no RELION benchmark has one).

The miniature dataset keeps its truth in ``truth/``: ``map.mrc``, ``particles.star`` (true
angles, defocus and class per particle) and ``planted.json`` (planted beam tilt, written
and true defocus per micrograph, drift; written by relionbench.data.synthetic). Run as
``python -m relionbench.science.truth best-class ...`` inside a job to pick the Class3D class that
is the true particle.
"""

import argparse
import json
import sys
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import starfile

from relionbench.science.star import last_iteration


def read_map(path):
    with mrcfile.open(path, permissive=True) as mrc:
        return mrc.data.astype(np.float64), float(mrc.voxel_size.x)


def fsc(a, b):
    """Fourier shell correlation of two equal cubic maps, one value per shell 0..box/2."""
    fa, fb = np.fft.fftn(a), np.fft.fftn(b)
    freq = np.fft.fftfreq(a.shape[0]) * a.shape[0]
    shell = np.rint(np.sqrt(sum(g ** 2 for g in np.meshgrid(freq, freq, freq,
                                                             indexing='ij')))).astype(int)
    n = a.shape[0] // 2 + 1
    cross = np.bincount(shell.ravel(), (fa * fb.conj()).real.ravel(), n + a.shape[0])[:n]
    pa = np.bincount(shell.ravel(), (np.abs(fa) ** 2).ravel(), n + a.shape[0])[:n]
    pb = np.bincount(shell.ravel(), (np.abs(fb) ** 2).ravel(), n + a.shape[0])[:n]
    return cross / np.sqrt(np.maximum(pa * pb, 1e-300))


def resolution_at(curve, threshold, box, pixel):
    """Resolution (A) where the FSC first falls below ``threshold`` after the DC term,
    interpolated between shells; Nyquist when it never does, the box length when it starts
    below (an inverted or unrelated map)."""
    if len(curve) < 2 or curve[1] < threshold:
        return float(box * pixel)
    for k in range(2, len(curve)):
        if curve[k] < threshold:
            f = (curve[k - 1] - threshold) / (curve[k - 1] - curve[k])
            return box * pixel / (k - 1 + f)
    return 2 * pixel


def map_scores(path, truth_dir):
    """FSC of a map against the true map: resolution at 0.5 and at 0.143."""
    model, pixel = read_map(path)
    truth, _ = read_map(Path(truth_dir) / 'map.mrc')
    curve = fsc(model, truth)
    return {'truth_fsc05_resolution': float(resolution_at(curve, 0.5, model.shape[0], pixel)),
            'truth_fsc0143_resolution': float(resolution_at(curve, 0.143, model.shape[0], pixel))}


def _mean_defocus(table):
    return (table['rlnDefocusU'].astype(float) + table['rlnDefocusV'].astype(float)) / 2


def ctf_scores(path, truth_dir):
    """How CtfRefine recovered what was planted: the correlation of its defocus corrections
    with the planted errors, the fraction of the error removed, and the beam tilt's error in
    direction (deg) and magnitude (mrad)."""
    blocks = starfile.read(path, always_dict=True)
    planted = json.loads((Path(truth_dir) / 'planted.json').read_text())
    written = {Path(m['micrograph']).name: (m['defocus_u_written'] + m['defocus_v_written']) / 2
               for m in planted['micrographs']}
    true = {Path(m['micrograph']).name: (m['defocus_u_true'] + m['defocus_v_true']) / 2
            for m in planted['micrographs']}
    particles = blocks['particles']
    mics = particles['rlnMicrographName'].map(lambda name: Path(name).name)  # any job folder
    refined = _mean_defocus(particles).to_numpy()
    start = mics.map(written).to_numpy()
    target = mics.map(true).to_numpy()
    removed = 1 - np.mean(np.abs(refined - target)) / np.mean(np.abs(start - target))
    optics = blocks['optics']
    got = np.array([optics['rlnBeamTiltX'].iloc[0], optics['rlnBeamTiltY'].iloc[0]], float)
    want = np.array([planted['beam_tilt_x_mrad'], planted['beam_tilt_y_mrad']], float)
    angle = np.degrees(np.arccos(np.clip(got @ want / max(np.linalg.norm(got) *
                                                          np.linalg.norm(want), 1e-12), -1, 1)))
    return {'truth_defocus_r': float(np.corrcoef(refined - start, target - start)[0, 1]),
            'truth_defocus_removed': float(removed),
            'truth_tilt_angle_error': float(angle),
            'truth_tilt_magnitude_error': float(abs(np.linalg.norm(got) - np.linalg.norm(want)))}


def particle_keys(table):
    """Micrograph file name and rounded coordinates: a particle's identity in any job folder."""
    return (table['rlnMicrographName'].astype(str).map(lambda name: Path(name).name) + ':' +
            table['rlnCoordinateX'].astype(float).round().astype(int).astype(str) + ':' +
            table['rlnCoordinateY'].astype(float).round().astype(int).astype(str))


def class_scores(prefix, truth_dir):
    """Class2D/Class3D against the truth: the purity of the classes (the share of particles
    whose class holds mostly particles of their own true kind, particle or decoy). Assigning
    classes at random scores the share of the larger kind (0.75 in the miniature)."""
    data = Path(str(last_iteration(prefix)).replace('_model.star', '_data.star'))
    particles = starfile.read(data, always_dict=True)['particles']
    table = starfile.read(Path(truth_dir) / 'particles.star', always_dict=True)
    true = next(iter(table.values()))
    kinds = pd.Series(true['rlnClassNumber'].to_numpy(), index=particle_keys(true))
    found = pd.DataFrame({'cls': particles['rlnClassNumber'].to_numpy(),
                          'kind': kinds.reindex(particle_keys(particles)).to_numpy()})
    if found['kind'].isna().any():
        raise ValueError(f'{data}: {int(found.kind.isna().sum())} particle(s) not in the truth')
    majority = found.groupby('cls')['kind'].agg(lambda k: k.value_counts().idxmax())
    return {'truth_purity': float((found['cls'].map(majority) == found['kind']).mean())}


SCORERS = {'map': map_scores, 'ctf': ctf_scores, 'classes': class_scores}


def best_class(prefix, truth_dir):
    """The class of the last iteration whose map correlates best with the true map."""
    model = starfile.read(last_iteration(prefix), always_dict=True)['model_classes']
    truth, _ = read_map(Path(truth_dir) / 'map.mrc')
    scores = []
    for number, name in enumerate(model['rlnReferenceImage'], start=1):
        density, _ = read_map(name.split('@')[-1])
        scores.append((np.corrcoef(density.ravel(), truth.ravel())[0, 1], number))
    return max(scores)[1]


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m relionbench.science.truth')
    sub = parser.add_subparsers(dest='command', required=True)
    pick = sub.add_parser('best-class', help='write the number of the truest Class3D class')
    pick.add_argument('--model', required=True, help='output prefix of the classification')
    pick.add_argument('--truth', default='truth', help='the truth folder')
    pick.add_argument('--out', required=True, help='file to write the class number to')
    args = parser.parse_args(argv)
    number = best_class(args.model, args.truth)
    Path(args.out).write_text(f'{number}\n')
    print(f'best class: {number}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
