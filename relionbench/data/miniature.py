"""The miniature's "published project": simulated data plus the intermediates every stage
starts from, made by cheap real RELION runs (the expensive steps are the benchmark).

Layout (relative to the output folder), as the stage tables in relionbench.workflows read it:
``MotionCorr/job002`` (RELION's own motion correction), ``Extract/job004`` (all particles),
``Select/job007`` (the true particles), ``Refine3D/job008`` (true angles, half maps and map
by relion_reconstruct), ``MaskCreate/job009``, ``PostProcess/job010``, and
``CtfRefine/job011/particles_ctf_refine.star`` (the true particles with true angles and
defocus). ``layout(size)`` lists every file ``prepare`` guarantees at a size preset
(``sizes.Size``).
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import starfile

from relionbench import builds, sources
from relionbench.data import sizes, synthetic
from relionbench.science import truth

THREADS = 2

def layout(size=None):
    """Every file ``prepare`` writes that a stage or a score reads, relative to its folder."""
    movies = range((size or sizes.Size()).movies)
    return (
        'truth/map.mrc', 'truth/decoy.mrc', 'truth/particles.star', 'truth/planted.json',
        'movies.star', *(synthetic.movie_name(i) for i in movies),
        *(synthetic.coordinate_file(i) for i in movies),
        'CtfFind/job003/micrographs_ctf.star', 'Reference/initial_model.mrc',
        'MotionCorr/job002/corrected_micrographs.star',
        *(synthetic.micrograph_name(i) for i in movies),
        *(synthetic.micrograph_name(i)[:-len('.mrc')] + '.star' for i in movies),
        'Extract/job004/particles.star', 'Select/job007/particles.star',
        'Refine3D/job008/run_data.star', 'Refine3D/job008/run_class001.mrc',
        'Refine3D/job008/run_half1_class001_unfil.mrc',
        'Refine3D/job008/run_half2_class001_unfil.mrc',
        'MaskCreate/job009/mask.mrc', 'PostProcess/job010/postprocess.star',
        'PostProcess/job010/postprocess.mrc', 'CtfRefine/job011/particles_ctf_refine.star',
    )


LAYOUT = layout()
"""The files of the default size preset."""


def run(args, cwd, log):
    """Run a RELION program in ``cwd``; raise with the tail of its output when it fails.
    Returns the seconds it took."""
    start = time.perf_counter()
    with open(Path(cwd) / log, 'w') as out:
        rc = subprocess.call([str(a) for a in args], cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if rc != 0:
        tail = ''.join((Path(cwd) / log).read_text(errors='replace').splitlines(True)[-15:])
        raise RuntimeError(f'{args[0]} exited with code {rc} in {cwd}:\n{tail}')
    return round(time.perf_counter() - start, 2)


def _key(table):
    """Micrograph and rounded coordinates: matches extracted particles with the truth."""
    return (table['rlnMicrographName'].astype(str) + ':' +
            table['rlnCoordinateX'].astype(float).round().astype(int).astype(str) + ':' +
            table['rlnCoordinateY'].astype(float).round().astype(int).astype(str))


def _truth(out):
    table = starfile.read(out / 'truth' / 'particles.star', always_dict=True)
    return next(iter(table.values())).set_index(_key(next(iter(table.values()))))


def _write(blocks, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    starfile.write(blocks, path, overwrite=True)


def select_true(out):
    """Select/job007: the extracted particles that are not decoys. Raises unless extraction
    found every particle (relion_preprocess skips a micrograph without coordinates quietly)."""
    blocks = starfile.read(out / 'Extract/job004/particles.star', always_dict=True)
    truth = _truth(out)
    particles = blocks['particles']
    if len(particles) != len(truth):
        raise RuntimeError(f'relion_preprocess extracted {len(particles)} of {len(truth)} '
                           'particles (see Extract/job004/run.log)')
    keep = truth.loc[_key(particles), 'rlnClassNumber'].to_numpy() == 1
    _write({**blocks, 'particles': particles[keep].reset_index(drop=True)},
           out / 'Select/job007/particles.star')


def with_truth(out, labels):
    """The selected particles with their true ``labels`` (angles, defocus) from the truth."""
    blocks = starfile.read(out / 'Select/job007/particles.star', always_dict=True)
    particles = blocks['particles'].copy()
    truth = _truth(out).loc[_key(particles)]
    for label in labels:
        particles[label] = truth[label].to_numpy()
    return blocks, particles


ANGLES = ('rlnAngleRot', 'rlnAngleTilt', 'rlnAnglePsi')
DEFOCUS = ('rlnDefocusU', 'rlnDefocusV', 'rlnDefocusAngle')


def refined(out, labels=ANGLES):
    """The selected particles as a refinement leaves them: true angles (and ``labels``),
    centred, split into random halves."""
    blocks, particles = with_truth(out, labels)
    particles['rlnOriginXAngst'] = 0.0
    particles['rlnOriginYAngst'] = 0.0
    particles['rlnRandomSubset'] = np.arange(len(particles)) % 2 + 1
    return blocks, particles


def true_refinement(out):
    """Refine3D/job008: true angles, random halves, maps by relion_reconstruct. Returns the
    seconds of each reconstruction."""
    blocks, particles = refined(out)
    folder = out / 'Refine3D/job008'
    _write({**blocks, 'particles': particles}, folder / 'run_data.star')
    seconds = {}
    for name, subset in (('run_half1_class001_unfil.mrc', 1), ('run_half2_class001_unfil.mrc', 2),
                         ('run_class001.mrc', None)):
        args = ['relion_reconstruct', '--i', 'Refine3D/job008/run_data.star', '--ctf',
                '--o', f'Refine3D/job008/{name}']
        seconds[f'reconstruct_{subset or "all"}'] = run(
            args + (['--subset', subset] if subset else []), out, f'Refine3D/job008/{name}.log')
    return seconds


def mask_threshold(path, lowpass=15.0, fraction=0.13):
    """Density threshold that keeps ``fraction`` of the box in the low-passed map (the
    particle's share of the miniature's box), independent of the map's scale."""
    data, pixel = truth.read_map(path)
    freq = np.fft.fftfreq(data.shape[0]) / pixel
    radius2 = sum(g ** 2 for g in np.meshgrid(freq, freq, freq, indexing='ij'))
    smooth = np.fft.ifftn(np.fft.fftn(data) * np.exp(-radius2 * lowpass ** 2)).real
    return float(np.quantile(smooth, 1 - fraction))


def postprocess(out, size=None):
    """MaskCreate/job009 and PostProcess/job010 on the true-angle half maps."""
    threshold = mask_threshold(out / 'Refine3D/job008/run_class001.mrc')
    (out / 'MaskCreate/job009').mkdir(parents=True, exist_ok=True)
    mask = run(['relion_mask_create', '--i', 'Refine3D/job008/run_class001.mrc',
                '--o', 'MaskCreate/job009/mask.mrc', '--lowpass', 15, '--ini_threshold',
                f'{threshold:.6g}', '--extend_inimask', 0, '--width_soft_edge', 4,
                '--j', THREADS], out, 'MaskCreate/job009/run.log')
    (out / 'PostProcess/job010').mkdir(parents=True, exist_ok=True)
    post = run(['relion_postprocess', '--mask', 'MaskCreate/job009/mask.mrc',
                '--i', 'Refine3D/job008/run_half1_class001_unfil.mrc',
                '--o', 'PostProcess/job010/postprocess',
                '--angpix', (size or sizes.Size()).options['apix'],
                '--auto_bfac', '--autob_lowres', 10], out, 'PostProcess/job010/run.log')
    return {'mask_create': mask, 'postprocess': post}


def true_ctf(out):
    """CtfRefine/job011: the refined particles with their true defocus."""
    blocks, particles = refined(out, ANGLES + DEFOCUS)
    _write({**blocks, 'particles': particles}, out / 'CtfRefine/job011/particles_ctf_refine.star')


def prepare(out, seed=0, size=None):
    """Simulate the data at ``size`` (``sizes.Size``, default preset when None) and
    prepare every stage's inputs in ``out``.

    Returns ``{'seconds': {part: s}, 'relion_seconds': {program call: s}, 'paths': the
    layout as absolute paths}``; prints one line per part.
    """
    out, size = Path(out), size or sizes.Size()
    out.mkdir(parents=True, exist_ok=True)
    seconds, relion = {}, {}

    def timed(name, fn, *args):
        start = time.perf_counter()
        result = fn(*args)
        seconds[name] = round(time.perf_counter() - start, 2)
        print(f'{name}: {seconds[name]} s', flush=True)
        return result

    timed('simulate', synthetic.generate, out, seed, size)
    (out / 'MotionCorr/job002').mkdir(parents=True, exist_ok=True)
    relion['motioncorr'] = timed('motioncorr', run, [
        'relion_run_motioncorr', '--i', 'movies.star', '--o', 'MotionCorr/job002/',
        '--first_frame_sum', 1, '--last_frame_sum', -1, '--use_own', '--j', 1,  # --j 2: not
        # reproducible (the first movie's shifts move by ~0.03 px from run to run)
        '--bin_factor', 1, '--bfactor', 150, '--dose_per_frame', synthetic.DOSE_PER_FRAME,
        '--preexposure', 0, '--patch_x', 1, '--patch_y', 1, '--dose_weighting'],
        out, 'MotionCorr/job002/run.log')
    (out / 'Extract/job004').mkdir(parents=True, exist_ok=True)
    relion['extract'] = timed('extract', run, [
        'relion_preprocess', '--i', 'CtfFind/job003/micrographs_ctf.star',
        '--coord_dir', f'{synthetic.COORD_DIR}/', '--coord_suffix', synthetic.COORD_SUFFIX,
        '--part_star', 'Extract/job004/particles.star', '--part_dir', 'Extract/job004/',
        '--extract', '--extract_size', size.box, '--norm', '--bg_radius', size.options['bg_radius'],
        '--white_dust', -1, '--black_dust', -1, '--invert_contrast'],
        out, 'Extract/job004/run.log')
    timed('select', select_true, out)
    relion.update(timed('reconstruct', true_refinement, out))
    relion.update(timed('postprocess', postprocess, out, size))
    timed('ctf', true_ctf, out)
    return {'seconds': seconds, 'relion_seconds': relion,
            'paths': {path: str((out / path).resolve()) for path in layout(size)}}


def cache_key(seed, size):
    """What a miniature depends on, hashed: the seed, the size, the source of the modules
    that make it (this one and every module it imports, directly or not) and the RELION
    programs that make it (where they are and what they say they are)."""
    digest = hashlib.sha256(f'{seed} {size}'.encode())
    for source in sources.closure(__name__).values():
        digest.update(source.read_bytes())
    refine = shutil.which('relion_refine') or ''
    version = builds.identify(os.path.dirname(refine)) if refine else ()
    digest.update(f'{refine} {version}'.encode())
    return digest.hexdigest()[:16]


def prepare_cached(out, cache, seed=0, size=None):
    """``prepare`` through ``cache``, a folder of miniatures by ``cache_key``: a copy of the
    one made earlier from the same inputs (same seed, same bytes), else made there first.
    Returns (key, whether it was copied)."""
    size = size or sizes.Size()
    key = cache_key(seed, size)
    kept = Path(cache) / key
    copied = kept.is_dir()
    if not copied:
        Path(cache).mkdir(parents=True, exist_ok=True)
        making = Path(tempfile.mkdtemp(prefix=f'{key}.', dir=cache))
        making.chmod(0o755)
        prepare(making, seed, size)
        try:
            making.rename(kept)
        except OSError:             # another session made it meanwhile
            shutil.rmtree(making)
    shutil.copytree(kept, out, dirs_exist_ok=True)
    os.utime(kept)                  # the last use, for whoever prunes the cache
    return key, copied


def ctffind(source, target, motioncorr):
    """What CTFFIND would write for micrographs corrected into ``motioncorr``: the simulation's
    CTF (with its planted defocus error) under this run's micrograph names. Stands in for
    CTFFIND when the miniature runs as a chain."""
    blocks = starfile.read(source, always_dict=True)
    table = blocks['micrographs']
    for label in ('rlnMicrographName', 'rlnMicrographMetadata'):
        if label in table:
            table[label] = table[label].map(
                lambda name: f'{motioncorr.rstrip("/")}/{Path(name).parent.name}/{Path(name).name}')
    _write(blocks, Path(target))


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog='python -m relionbench.data.miniature')
    sub = parser.add_subparsers(dest='command', required=True)
    ctf = sub.add_parser('ctffind', help='the CTF file for this run\'s corrected micrographs')
    ctf.add_argument('--i', required=True, dest='source')
    ctf.add_argument('--o', required=True, dest='target')
    ctf.add_argument('--motioncorr', required=True, help='the motion correction output folder')
    args = parser.parse_args(argv)
    ctffind(args.source, args.target, args.motioncorr)
    print(f'wrote {args.target}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
