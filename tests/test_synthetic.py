"""The miniature's generator: deterministic, small, fast, and the planted drift, CTF and
defocus errors are really in the data."""

import hashlib
import json
import time

import mrcfile
import numpy as np
import pytest
import starfile

from relionbench import synthetic


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp('gen')
    start = time.perf_counter()
    synthetic.generate(out, seed=0)
    return out, time.perf_counter() - start


def _digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob('*')) if p.is_file()}


def _movie(out, i=0):
    with mrcfile.open(out / synthetic.movie_name(i)) as mrc:
        return mrc.data.astype(np.float64)


def test_same_seed_same_bytes_other_seed_other_data(generated, tmp_path):
    out, _ = generated
    synthetic.generate(tmp_path / 'again', seed=0)
    assert _digests(tmp_path / 'again') == _digests(out)
    synthetic.generate(tmp_path / 'other', seed=1)
    other = _digests(tmp_path / 'other')
    assert other[synthetic.movie_name(0)] != _digests(out)[synthetic.movie_name(0)]


def test_fast_and_small(generated):
    out, seconds = generated
    size = sum(p.stat().st_size for p in out.rglob('*') if p.is_file())
    assert seconds < 15 and size < 40e6, (seconds, size)


def test_layout(generated):
    out, _ = generated
    for path in ('truth/map.mrc', 'truth/decoy.mrc', 'truth/particles.star', 'truth/planted.json',
                 'movies.star', 'CtfFind/job003/micrographs_ctf.star',
                 'Reference/initial_model.mrc', synthetic.coordinate_file(0)):
        assert (out / path).is_file(), path
    truth = next(iter(starfile.read(out / 'truth/particles.star', always_dict=True).values()))
    assert len(truth) == synthetic.N_PARTICLES
    decoys = (truth['rlnClassNumber'] == 2).mean()
    assert decoys == pytest.approx(synthetic.DECOY_FRACTION, abs=0.05)
    assert _movie(out).shape == (synthetic.N_FRAMES, synthetic.MOVIE_SIZE, synthetic.MOVIE_SIZE)


def _shift(a, b):
    """Integer shift (x, y) of ``b`` relative to ``a`` by cross-correlation."""
    xc = np.fft.ifft2(np.fft.fft2(a - a.mean()).conj() * np.fft.fft2(b - b.mean())).real
    y, x = np.unravel_index(np.argmax(xc), xc.shape)
    n = a.shape[0]
    return np.array([(x + n // 2) % n - n // 2, (y + n // 2) % n - n // 2])


def test_planted_drift_is_in_the_movie(generated):
    out, _ = generated
    movie = _movie(out)
    planted = json.loads((out / 'truth/planted.json').read_text())
    shifts = np.array(planted['global_shifts_px'][synthetic.movie_name(0)])
    early, late = movie[:4].sum(0), movie[-4:].sum(0)
    expected = shifts[-4:].mean(0) - shifts[:4].mean(0)
    assert np.linalg.norm(expected) > 2                      # a drift worth correcting
    assert np.abs(_shift(early, late) - expected).max() <= 1.0


def _particle_power(out, planted, box=64):
    """Radial power spectrum of the particle boxes of micrograph 1 (frames shifted back by the
    planted drift and summed): Thon rings stand out where the particles are."""
    movie = _movie(out)
    shifts = np.rint(planted['global_shifts_px'][synthetic.movie_name(0)]).astype(int)
    summed = sum(np.roll(frame, (-dy, -dx), axis=(0, 1)) for frame, (dx, dy) in zip(movie, shifts))
    truth = next(iter(starfile.read(out / 'truth/particles.star', always_dict=True).values()))
    truth = truth[truth['rlnMicrographName'] == planted['micrographs'][0]['micrograph']]
    half = box // 2
    boxes = [summed[int(y) - half:int(y) + half, int(x) - half:int(x) + half]
             for x, y in zip(truth['rlnCoordinateX'], truth['rlnCoordinateY'])]
    power = np.mean([np.abs(np.fft.fft2(b - b.mean())) ** 2 for b in boxes
                     if b.shape == (box, box)], axis=0)
    freq = np.fft.fftfreq(box)
    radius = np.rint(np.hypot(*np.meshgrid(freq, freq)) * box).astype(int)
    profile = np.bincount(radius.ravel(), power.ravel()) / np.bincount(radius.ravel())
    return profile[:half], np.arange(half) / (box * synthetic.APIX)


def test_thon_rings_match_the_true_defocus(generated):
    out, _ = generated
    planted = json.loads((out / 'truth/planted.json').read_text())
    profile, k = _particle_power(out, planted)
    band = (k > 1 / 30) & (k < 1 / 7)
    signal = (profile - np.convolve(profile, np.ones(5) / 5, 'same'))[band]

    def fit(defocus):
        return np.corrcoef(signal, synthetic.ctf(k, 0 * k, defocus, defocus, 0)[band] ** 2)[0, 1]

    mic = planted['micrographs'][0]
    true = (mic['defocus_u_true'] + mic['defocus_v_true']) / 2
    assert fit(true) > 0.3
    assert fit(true) > fit(true * 0.8) + 0.2 and fit(true) > fit(true * 1.25) + 0.2


def test_ctffind_file_carries_the_planted_defocus_error(generated):
    out, _ = generated
    planted = json.loads((out / 'truth/planted.json').read_text())
    table = starfile.read(out / 'CtfFind/job003/micrographs_ctf.star',
                          always_dict=True)['micrographs']
    for row, mic in zip(table.itertuples(), planted['micrographs']):
        assert row.rlnMicrographName == mic['micrograph']
        error = row.rlnDefocusU - mic['defocus_u_true']
        assert 150 <= abs(error) <= 600
        assert error == pytest.approx(mic['defocus_error'], abs=0.05)
