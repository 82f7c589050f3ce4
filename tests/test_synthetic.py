"""The miniature's generator: deterministic, small, fast, and the planted drift, CTF and
defocus errors are really in the data; and (with RELION) the prepared project is complete."""

import hashlib
import json
import time

import mrcfile
import numpy as np
import pytest
import starfile

from relionbench.data import miniature, sizes, synthetic
from relionbench.science import truth


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
    assert len(truth) == sizes.N_PARTICLES
    decoys = (truth['rlnClassNumber'] == 2).mean()
    assert decoys == pytest.approx(synthetic.DECOY_FRACTION, abs=0.05)
    assert _movie(out).shape == (synthetic.N_FRAMES, synthetic.MOVIE_SIZE, synthetic.MOVIE_SIZE)


def _shift(a, b):
    """Sub-pixel shift (x, y) of ``b`` relative to ``a``: cross-correlation peak refined by
    a parabola through its neighbours on each axis."""
    xc = np.fft.ifft2(np.fft.fft2(a - a.mean()).conj() * np.fft.fft2(b - b.mean())).real
    n = a.shape[0]
    y, x = np.unravel_index(np.argmax(xc), xc.shape)

    def vertex(before, peak, after):
        return 0.5 * (before - after) / (before - 2 * peak + after)

    dx = vertex(xc[y, x - 1], xc[y, x], xc[y, (x + 1) % n])
    dy = vertex(xc[y - 1, x], xc[y, x], xc[(y + 1) % n, x])
    return np.array([(x + n // 2) % n - n // 2 + dx, (y + n // 2) % n - n // 2 + dy])


@pytest.mark.parametrize('i', range(synthetic.N_MOVIES))
def test_planted_drift_is_in_the_movie(generated, i):
    out, _ = generated
    movie = _movie(out, i)
    shifts = np.array(synthetic.read_planted(out)['global_shifts_px'][synthetic.movie_name(i)])
    early, late = movie[:4].sum(0), movie[-4:].sum(0)
    expected = shifts[-4:].mean(0) - shifts[:4].mean(0)
    assert np.linalg.norm(expected) > 2                      # a drift worth correcting
    assert np.abs(_shift(early, late) - expected).max() < 0.5


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


def _first_zero(defocus, k):
    """Spatial frequency (1/A) of the CTF's first zero for ``defocus`` (no astigmatism)."""
    ctf = synthetic.ctf(k, 0 * k, defocus, defocus, 0)
    i = np.nonzero(np.diff(np.sign(ctf)))[0][0]
    return k[i] + (k[i + 1] - k[i]) * ctf[i] / (ctf[i] - ctf[i + 1])


def _radial_power(out, i, planted):
    """Rotationally averaged power spectrum of movie ``i`` summed after undoing the drift."""
    movie = _movie(out, i)
    n = movie.shape[-1]
    ky, kx = np.fft.fftfreq(n)[:, None], np.fft.fftfreq(n)[None, :]
    shifts = planted['global_shifts_px'][synthetic.movie_name(i)]
    spectrum = sum(np.fft.fft2(frame - frame.mean()) * np.exp(2j * np.pi * (kx * dx + ky * dy))
                   for frame, (dx, dy) in zip(movie, shifts))
    radius = np.rint(np.hypot(kx, ky) * n).astype(int).ravel()
    power = np.bincount(radius, (np.abs(spectrum) ** 2).ravel()) / np.bincount(radius)
    return np.convolve(power[:n // 2], np.ones(3) / 3, 'same'), n * synthetic.APIX


@pytest.mark.parametrize('i', range(synthetic.N_MOVIES))
def test_first_thon_minimum_where_the_true_defocus_puts_it(generated, i):
    out, _ = generated
    planted = synthetic.read_planted(out)
    power, size = _radial_power(out, i, planted)
    mic = planted['micrographs'][i]
    expected = _first_zero((mic['defocus_u_true'] + mic['defocus_v_true']) / 2,
                           np.linspace(1e-3, 0.1, 20000)) * size      # in Fourier pixels
    lo, hi = int(expected * 0.8), int(expected * 1.2)
    m = lo + int(np.argmin(power[lo:hi]))
    before, peak, after = power[m - 1:m + 2]
    found = m + 0.5 * (before - after) / (before - 2 * peak + after)
    assert found == pytest.approx(expected, rel=0.03)
    assert peak < 0.85 * power[lo:hi].mean()                # a real dip, not noise


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


def _parses(path):
    if path.suffix == '.star':
        assert all(len(block) for block in starfile.read(path, always_dict=True).values()), path
    elif path.suffix in ('.mrc', '.mrcs'):
        with mrcfile.open(path) as mrc:
            assert mrc.data.size and np.isfinite(mrc.data).all(), path
    else:
        json.loads(path.read_text())


def _motion_error(out):
    """RMS distance (px) of MotionCorr's global shifts from the negated planted drift."""
    planted = synthetic.read_planted(out)['global_shifts_px']
    errors = []
    for i in range(synthetic.N_MOVIES):
        star = out / synthetic.micrograph_name(i).replace('.mrc', '.star')
        found = starfile.read(star)['global_shift'][['rlnMicrographShiftX', 'rlnMicrographShiftY']]
        errors.append(found.to_numpy() + np.array(planted[synthetic.movie_name(i)]))
    return float(np.sqrt((np.concatenate(errors) ** 2).sum(1).mean()))


@pytest.mark.requires('relion')
def test_prepare_writes_every_file_of_the_layout(tmp_path):
    summary = miniature.prepare(tmp_path, seed=0)
    for path in miniature.LAYOUT:
        assert (tmp_path / path).is_file(), path
        _parses(tmp_path / path)
    assert set(summary['paths']) == set(miniature.LAYOUT)
    assert {'motioncorr', 'extract', 'reconstruct_1', 'reconstruct_2', 'reconstruct_all',
            'mask_create', 'postprocess'} <= set(summary['relion_seconds'])
    # what RELION made of it (seed 0 on 2 cores: 0.29 px, 440 and 330, 8.5 A)
    assert _motion_error(tmp_path) < 0.5
    particles = {name: len(starfile.read(tmp_path / f'{name}/particles.star',
                                         always_dict=True)['particles'])
                 for name in ('Extract/job004', 'Select/job007')}
    decoys = round(synthetic.DECOY_FRACTION * sizes.N_PARTICLES)
    assert particles == {'Extract/job004': sizes.N_PARTICLES,
                         'Select/job007': sizes.N_PARTICLES - decoys}
    refined, _ = truth.read_map(tmp_path / 'Refine3D/job008/run_class001.mrc')
    true_map, _ = truth.read_map(tmp_path / 'truth/map.mrc')
    curve = truth.fsc(refined, true_map)
    assert truth.resolution_at(curve, 0.5, synthetic.BOX, synthetic.APIX) < 10


@pytest.mark.requires('relion')
def test_a_cached_miniature_is_copied_and_another_size_made_anew(tmp_path):
    cache, size = tmp_path / 'cache', synthetic.Size.parse('32x100')
    key, copied = miniature.prepare_cached(tmp_path / 'a', cache, 0, size)
    assert not copied and [p.name for p in cache.iterdir()] == [key]   # no half-made folder
    assert miniature.prepare_cached(tmp_path / 'b', cache, 0, size) == (key, True)
    made, copy = ({p.relative_to(d): p.read_bytes() for p in d.rglob('*') if p.is_file()}
                  for d in (tmp_path / 'a', tmp_path / 'b'))
    assert made == copy
    assert miniature.cache_key(1, size) != key != miniature.cache_key(0, synthetic.Size())


@pytest.mark.requires('relion')
def test_a_failing_relion_program_is_named_with_its_output(tmp_path):
    with pytest.raises(RuntimeError, match=r'relion_star_handler exited with code [1-9]'):
        miniature.run(['relion_star_handler', '--i', 'absent.star', '--o', 'x.star'],
                      tmp_path, 'run.log')


def test_a_size_preset_samples_the_same_specimen_finer(tmp_path):
    small, large = synthetic.Size(), synthetic.Size.parse('64x200')
    synthetic.generate(tmp_path, seed=0, size=large)
    with mrcfile.open(tmp_path / synthetic.movie_name(0)) as mrc:
        assert mrc.data.shape == (synthetic.N_FRAMES, 682, 682)
        assert float(mrc.voxel_size.x) == pytest.approx(2.25)      # the box stays 144 A
    truth_table = next(iter(starfile.read(tmp_path / 'truth/particles.star',
                                          always_dict=True).values()))
    assert len(truth_table) == 200
    # the 64 px map, cropped in Fourier space to 48 px, is the 48 px map: same specimen
    fine, apix = truth.read_map(tmp_path / 'truth/map.mrc')
    assert fine.shape == (64,) * 3 and apix == pytest.approx(2.25)
    coarse = synthetic.render_map(synthetic.truth_atoms(
        np.random.default_rng(np.random.SeedSequence(0).spawn(1)[0])))
    keep, k = np.r_[0:24, 40:64], np.fft.fftfreq(48)
    inside = k[:, None, None] ** 2 + k[None, :, None] ** 2 + k[None, None, :] ** 2 < 0.25
    cropped = np.fft.ifftn(np.fft.fftn(fine)[np.ix_(keep, keep, keep)] * inside).real
    assert np.corrcoef(cropped.ravel(), coarse.ravel())[0, 1] > 0.999
    assert small.options == {'box': 48, 'bg_radius': 18, 'apix': '3', 'offset_range': '3',
                             'offset_step': '1.5'}
    assert large.options == {'box': 64, 'bg_radius': 24, 'apix': '2.25', 'offset_range': '4',
                             'offset_step': '2'}


def test_more_particles_than_slots_fill_more_movies():
    size = synthetic.Size(48, 600)                  # 81 slots a movie
    assert size.movies == 8
    counts = [len(c) for c in synthetic.layout(np.random.default_rng(0), size)]
    assert len(counts) == 8 and sum(counts) == 600 and max(counts) <= 81


@pytest.mark.parametrize('text, message', [
    ('47x440', 'even box'), ('48x10', '100 to 20000'), ('huge', 'BOXxPARTICLES'),
    ('', 'BOXxPARTICLES')])
def test_a_bad_size_is_refused_with_what_to_give(text, message):
    with pytest.raises(ValueError, match=message):
        synthetic.Size.parse(text)
    assert synthetic.Size.parse('medium') == synthetic.Size(96, 440)


def test_a_resized_dataset_is_named_and_read_back():
    assert synthetic.Size(96).dataset('miniature') == 'miniature-96x440'
    assert synthetic.Size().dataset('miniature') == 'miniature'
    assert synthetic.Size.of_dataset('miniature-96x440') == synthetic.Size(96)
    for other in ('miniature', 'relion-benchmark', '', None, '-96x440'):
        assert synthetic.Size.of_dataset(other) is None
