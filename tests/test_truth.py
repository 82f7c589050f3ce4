"""Ground-truth scores: FSC against the truth, and what CtfRefine recovered."""

import json

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile

from relionbench.science import truth

BOX, PIXEL = 32, 3.0


def _map(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(BOX,) * 3)


def _lowpass(vol, resolution):
    freq = np.fft.fftfreq(BOX)
    radius = np.sqrt(sum(g ** 2 for g in np.meshgrid(freq, freq, freq, indexing='ij')))
    return np.fft.ifftn(np.fft.fftn(vol) * (radius <= PIXEL / resolution)).real


def _write(path, data):
    with mrcfile.new(path, overwrite=True) as mrc:
        mrc.set_data(data.astype(np.float32))
        mrc.voxel_size = PIXEL
    return path


def test_fsc_of_a_map_with_itself_is_one():
    vol = _map()
    assert np.allclose(truth.fsc(vol, vol), 1)


def test_fsc_resolution_follows_a_lowpass(tmp_path):
    vol = _map()
    (tmp_path / 'truth').mkdir()
    _write(tmp_path / 'truth' / 'map.mrc', vol)
    scores = truth.map_scores(_write(tmp_path / 'model.mrc', _lowpass(vol, 12.0)),
                              tmp_path / 'truth')
    # the FSC drops from 1 to 0 at the cut-off: 12 A is shell 8 of a 96 A box
    assert scores['truth_fsc05_resolution'] == pytest.approx(12.0, rel=0.15)
    assert scores['truth_fsc0143_resolution'] == pytest.approx(12.0, rel=0.15)
    same = truth.map_scores(tmp_path / 'truth' / 'map.mrc', tmp_path / 'truth')
    assert same['truth_fsc05_resolution'] == 2 * PIXEL     # never drops: Nyquist


def test_resolution_interpolates_between_shells():
    curve = np.array([1.0, 0.9, 0.7, 0.3, 0.1])
    assert truth.resolution_at(curve, 0.5, BOX, PIXEL) == pytest.approx(BOX * PIXEL / 2.5)


def test_an_inverted_map_has_no_resolution_against_the_truth(tmp_path):
    """Its FSC starts at -1: the worst score (the box length), never an extrapolated one."""
    vol = _map()
    (tmp_path / 'truth').mkdir()
    _write(tmp_path / 'truth' / 'map.mrc', vol)
    scores = truth.map_scores(_write(tmp_path / 'inverted.mrc', -vol), tmp_path / 'truth')
    assert scores == {'truth_fsc05_resolution': BOX * PIXEL,
                      'truth_fsc0143_resolution': BOX * PIXEL}


def test_ctf_scores(tmp_path):
    (tmp_path / 'truth').mkdir()
    (tmp_path / 'truth' / 'planted.json').write_text(json.dumps({
        'beam_tilt_x_mrad': 3.0, 'beam_tilt_y_mrad': 0.0,
        'micrographs': [
            {'micrograph': 'M/mic_001.mrc', 'defocus_u_written': 10500, 'defocus_v_written': 10300,
             'defocus_u_true': 10100, 'defocus_v_true': 9900},
            {'micrograph': 'M/mic_002.mrc', 'defocus_u_written': 20100, 'defocus_v_written': 19900,
             'defocus_u_true': 20400, 'defocus_v_true': 20200}]}))
    refined = [10080, 10120, 20260, 20240]           # 80 % of each planted error removed
    particles = pd.DataFrame({
        'rlnMicrographName': ['M/mic_001.mrc'] * 2 + ['M/mic_002.mrc'] * 2,
        'rlnDefocusU': refined, 'rlnDefocusV': refined})
    optics = pd.DataFrame({'rlnOpticsGroup': [1], 'rlnBeamTiltX': [2.0], 'rlnBeamTiltY': [2.0]})
    starfile.write({'optics': optics, 'particles': particles}, tmp_path / 'p.star')
    scores = truth.ctf_scores(tmp_path / 'p.star', tmp_path / 'truth')
    assert scores['truth_defocus_r'] > 0.99
    assert scores['truth_defocus_removed'] == pytest.approx(0.8, abs=0.02)
    assert scores['truth_tilt_angle_error'] == pytest.approx(45.0)
    assert scores['truth_tilt_magnitude_error'] == pytest.approx(3.0 - 8 ** 0.5)
