"""relionbench.science.metrics and relionbench.science.outputs against what the real RELION writes.

Tiny simulated data (tests/tinydata.py) go through the Debian RELION 3.1 programs once
per module: relion_project makes the particles, then Class2D, an MPI auto-refine with
split halves, mask + post-processing, CTF refinement and extraction from a micrograph.
Every extractor must return the numbers found under the same STAR labels, read here
independently with starfile. Outputs are laid out as the stage tables lay them out
(``Bench/Refine3D/run`` ...), so ``extract.science`` is run on the published steps too.
"""

import math
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import mrcfile
import numpy as np
import pytest
import starfile
import tinydata as tiny
from conftest import require

from relionbench.constants import OUT
from relionbench.run import records
from relionbench.science import extract, metrics, star
from relionbench.science.outputs import problem, shortfall
from relionbench.workflows import ALDOLASE, POSTPROCESS, Step

K_2D = 3
ITER_2D = 2
PROGRAM_TIMEOUT = 300           #: s, per program
MPI_ENV = {'OMPI_ALLOW_RUN_AS_ROOT': '1', 'OMPI_ALLOW_RUN_AS_ROOT_CONFIRM': '1',
           'OMPI_MCA_rmaps_base_oversubscribe': '1', 'OMPI_MCA_mpi_yield_when_idle': '1'}
RES_RANGE = (2 * tiny.APIX, tiny.BOX * tiny.APIX)   #: Nyquist .. box, in A
EXTRACT_WINDOW, EXTRACT_SCALE = 40, 32               #: px; 3 A/px * 40 / 32 = 3.75 A/px

relion = pytest.mark.requires('relion')


def _tail(log, lines=25):
    """The end of a RELION log without its progress bars."""
    text = Path(log).read_text(errors='replace') if Path(log).exists() else ''
    kept = [line for line in text.splitlines() if line.strip() and '~~(,_,">' not in line]
    return '\n'.join(kept[-lines:])


class Workspace:
    """A RELION project folder in which the programs run, with their logs and timings."""

    def __init__(self, root):
        self.root = Path(root)
        self.logs = self.root / 'logs'
        self.logs.mkdir()
        self.timings = {}

    def out(self, *parts):
        return self.root.joinpath(OUT, *parts)

    def run(self, label, *cmd):
        """Run ``cmd`` in the project folder; fail with the end of its output if it fails."""
        log = self.logs / f'{label}.log'
        env = {**MPI_ENV, **os.environ}
        start = time.monotonic()
        with log.open('w') as out:
            proc = subprocess.Popen([str(c) for c in cmd], cwd=self.root, env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            try:
                rc = proc.wait(timeout=PROGRAM_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                rc = f'killed after {PROGRAM_TIMEOUT} s'
        self.timings[label] = time.monotonic() - start
        if rc != 0:
            pytest.fail(f'{label} failed ({rc}): {" ".join(map(str, cmd))}\n'
                        f'--- end of {log} ---\n{_tail(log)}', pytrace=False)
        return log


# -- the RELION runs, once per module ---------------------------------------------------

@pytest.fixture(scope='module')
def workspace(tmp_path_factory, request):
    require('relion')
    ws = Workspace(tmp_path_factory.mktemp('relion'))
    yield ws
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin('terminalreporter'), plugins.get_plugin('capturemanager')
    if reporter is not None and capture is not None and ws.timings:
        line = ', '.join(f'{k} {v:.1f} s' for k, v in ws.timings.items())
        with capture.global_and_fixture_disabled():
            reporter.write_line(f'\nRELION timings: {line}; all {sum(ws.timings.values()):.1f} s')


@pytest.fixture(scope='module')
def particles(workspace):
    """Particles/proj.star + .mrcs: projections of the blob map with CTF and noise."""
    root = workspace.root
    tiny.write_mrc(root / 'truth.mrc', tiny.blob_map())
    tiny.write_mrc(root / 'reference.mrc', tiny.lowpass(tiny.blob_map(), tiny.APIX, 30))
    (root / 'Particles').mkdir()
    tiny.write_views(root / 'views.star')
    workspace.run('relion_project', 'relion_project', '--i', 'truth.mrc', '--ang', 'views.star',
                  '--o', 'Particles/proj', '--ctf', '--angpix', tiny.APIX, '--add_noise',
                  '--white_noise', tiny.NOISE)
    return 'Particles/proj.star'


@pytest.fixture(scope='module')
def class2d(workspace, particles):
    workspace.out('Class2D').mkdir(parents=True)
    workspace.run('relion_refine (Class2D)', 'relion_refine', '--i', particles,
                  '--o', f'{OUT}/Class2D/run', '--K', K_2D, '--iter', ITER_2D, '--random_seed', 0,
                  '--ctf', '--particle_diameter', tiny.DIAMETER, '--tau2_fudge', 2,
                  '--psi_step', 12, '--offset_range', 5, '--offset_step', 2, '--zero_mask',
                  '--norm', '--scale', '--pad', 2, '--j', 2)
    return workspace.out('Class2D', 'run')


@pytest.fixture(scope='module')
def refine3d(workspace, particles):
    """Auto-refine with split halves: needs MPI (1 leader + 2 followers on 2 cores)."""
    workspace.out('Refine3D').mkdir(parents=True)
    # --auto_local_healpix_order 2: local searches from 7.5 deg on; a global search at
    # 7.5 deg costs 15-30 s an iteration here and doubles the run time.
    # --auto_ignore_angles: 11 iterations instead of 17 (about 35 s, not 50 s); it still
    # converges and ends with the joined halves, run_model.star and the unfil half maps.
    workspace.run('relion_refine_mpi (Refine3D, 3 ranks)', 'mpirun', '-np', 3,
                  'relion_refine_mpi', '--i', particles, '--o', f'{OUT}/Refine3D/run',
                  '--ref', 'reference.mrc', '--auto_refine', '--split_random_halves',
                  '--ini_high', 30, '--pad', 1, '--ctf', '--ctf_corrected_ref',
                  '--particle_diameter', tiny.DIAMETER, '--flatten_solvent', '--zero_mask',
                  '--oversampling', 1, '--healpix_order', 1, '--auto_local_healpix_order', 2,
                  '--offset_range', 5, '--offset_step', 2, '--sym', 'C1',
                  '--low_resol_join_halves', 40, '--norm', '--scale', '--random_seed', 0,
                  '--auto_ignore_angles', '--j', 1)
    return workspace.out('Refine3D', 'run')


@pytest.fixture(scope='module')
def postprocessed(workspace, refine3d):
    refined = mrcfile.read(f'{refine3d}_class001.mrc')
    for folder in ('MaskCreate', 'PostProcess'):
        workspace.out(folder).mkdir(parents=True)
    workspace.run('relion_mask_create', 'relion_mask_create',
                  '--i', f'{OUT}/Refine3D/run_class001.mrc', '--o', f'{OUT}/MaskCreate/mask.mrc',
                  '--lowpass', 15, '--ini_threshold', f'{0.1 * float(refined.max()):.6f}',
                  '--extend_inimask', 2, '--width_soft_edge', 3, '--angpix', tiny.APIX, '--j', 2)
    workspace.run('relion_postprocess', 'relion_postprocess',
                  '--mask', f'{OUT}/MaskCreate/mask.mrc',
                  '--i', f'{OUT}/Refine3D/run_half1_class001_unfil.mrc',
                  '--o', f'{OUT}/PostProcess/postprocess', '--angpix', -1,
                  '--auto_bfac', '--autob_lowres', 10)
    return workspace.out('PostProcess', 'postprocess')


@pytest.fixture(scope='module')
def ctf_refined(workspace, postprocessed):
    workspace.out('CtfRefine').mkdir(parents=True)
    workspace.run('relion_ctf_refine', 'relion_ctf_refine',
                  '--i', f'{OUT}/Refine3D/run_data.star',
                  '--f', f'{OUT}/PostProcess/postprocess.star',
                  '--o', f'{OUT}/CtfRefine/', '--fit_defocus', '--kmin_defocus', 30,
                  '--fit_mode', 'fpmff', '--fit_beamtilt', '--kmin_tilt', 30, '--j', 2)
    return workspace.out('CtfRefine', 'particles_ctf_refine.star')


@pytest.fixture(scope='module')
def extracted(workspace, particles):
    """16 of the particles pasted into a micrograph, extracted in 40 px and scaled to 32."""
    images = mrcfile.read(workspace.root / 'Particles' / 'proj.mrcs')[:16]
    star, centres = tiny.write_micrograph_project(workspace.root / 'Mics', images)
    workspace.out('Extract').mkdir(parents=True)
    workspace.run('relion_preprocess (extract)', 'relion_preprocess',
                  '--i', star.relative_to(workspace.root), '--coord_dir', './',
                  '--coord_suffix', '_pick.star', '--part_star', f'{OUT}/Extract/particles.star',
                  '--part_dir', f'{OUT}/Extract/', '--extract', '--extract_size', EXTRACT_WINDOW,
                  '--scale', EXTRACT_SCALE, '--norm', '--bg_radius', 12)
    return workspace.out('Extract', 'particles.star'), centres


def _general(path, block):
    """A key-value STAR block as a plain dict, read independently of relionbench."""
    value = starfile.read(path, always_dict=True)[block]
    return value if isinstance(value, dict) else value.iloc[0].to_dict()


# -- the extractors ---------------------------------------------------------------------

@relion
def test_classification_reads_the_last_iteration(class2d):
    model = Path(f'{class2d}_it{ITER_2D:03d}_model.star')
    assert star.last_iteration(class2d) == model
    found = extract.classification(class2d)

    general = _general(model, 'model_general')
    occupancy = starfile.read(model, always_dict=True)['model_classes']['rlnClassDistribution']
    assert found == {
        'resolution': pytest.approx(float(general['rlnCurrentResolution'])),
        'nr_classes': int(general['rlnNrClasses']),
        'classes_above_2pct': int((occupancy.astype(float) > 0.02).sum()),
        'average_pmax': pytest.approx(float(general['rlnAveragePmax'])),
    }
    assert found['nr_classes'] == K_2D and 0 < found['average_pmax'] <= 1
    assert 1 <= found['classes_above_2pct'] <= K_2D
    assert occupancy.sum() == pytest.approx(1, abs=1e-3)
    assert RES_RANGE[0] <= found['resolution'] <= RES_RANGE[1]
    assert problem(f'{class2d}_it{ITER_2D:03d}_classes.mrcs') == ''
    assert mrcfile.read(f'{class2d}_it{ITER_2D:03d}_classes.mrcs').shape == (K_2D, tiny.BOX,
                                                                             tiny.BOX)


@relion
def test_refinement_reads_the_final_model(refine3d, workspace):
    model = Path(f'{refine3d}_model.star')
    found = extract.refinement(refine3d)

    blocks = starfile.read(model, always_dict=True)
    classes = blocks['model_classes']
    assert 'rlnAccuracyTranslationsAngst' in classes  # RELION 3.1 writes translations in A
    general = _general(model, 'model_general')
    assert found == {
        'resolution': pytest.approx(float(general['rlnCurrentResolution'])),
        'acc_rotation': pytest.approx(float(classes['rlnAccuracyRotations'].iloc[0])),
        'acc_translation': pytest.approx(float(classes['rlnAccuracyTranslationsAngst'].iloc[0])),
    }
    assert RES_RANGE[0] <= found['resolution'] <= RES_RANGE[1]
    assert 0 < found['acc_rotation'] < 30
    assert 0 < found['acc_translation'] < tiny.BOX * tiny.APIX / 4
    # every file the published refine step must leave, under the same names
    step = ALDOLASE.stage('Refine3D_CtfRefine').step('refine')
    assert [problem(workspace.root / f) for f in step.output_files()] == [''] * len(step.outputs)


@relion
def test_postprocess_reads_the_general_block(postprocessed, workspace):
    star = Path(f'{postprocessed}.star')
    found = extract.postprocess(postprocessed)

    general = _general(star, 'general')
    assert found == {
        'final_resolution': pytest.approx(float(general['rlnFinalResolution'])),
        'bfactor': pytest.approx(float(general['rlnBfactorUsedForSharpening'])),
        'solvent_mask_fraction': pytest.approx(float(general['rlnParticleBoxFractionSolventMask'])),
    }
    assert RES_RANGE[0] <= found['final_resolution'] <= RES_RANGE[1]
    assert found['bfactor'] < 0  # Gaussian blobs fall off: auto-B sharpens
    # RELION writes 0.476 / (fraction of mask voxels above 0.5), a ratio, not a percentage
    mask = mrcfile.read(workspace.out('MaskCreate', 'mask.mrc'))
    assert found['solvent_mask_fraction'] == pytest.approx(0.476 / (mask > 0.5).mean(), rel=1e-4)
    assert [problem(workspace.root / f) for f in POSTPROCESS.output_files()] == ['', '']


@relion
def test_ctf_refine_reads_the_optics_beam_tilt(ctf_refined):
    found = extract.ctf_refine(ctf_refined)

    blocks = starfile.read(ctf_refined, always_dict=True)
    optics = blocks['optics']
    assert found == {'beam_tilt_x': pytest.approx(float(optics['rlnBeamTiltX'].iloc[0])),
                     'beam_tilt_y': pytest.approx(float(optics['rlnBeamTiltY'].iloc[0]))}
    # simulated without beam tilt: whatever is fitted to noise stays small
    assert all(math.isfinite(v) and abs(v) < 10 for v in found.values())
    assert len(blocks['particles']) == tiny.N_PARTICLES


@relion
def test_extraction_reads_the_new_optics(extracted):
    star, centres = extracted
    found = extract.extraction(star)

    blocks = starfile.read(star, always_dict=True)
    optics = blocks['optics']
    assert found == {'pixel_size': pytest.approx(float(optics['rlnImagePixelSize'].iloc[0])),
                     'box_size': int(optics['rlnImageSize'].iloc[0])}
    assert found == {'pixel_size': pytest.approx(tiny.APIX * EXTRACT_WINDOW / EXTRACT_SCALE),
                     'box_size': EXTRACT_SCALE}
    coords = blocks['particles'][['rlnCoordinateX', 'rlnCoordinateY']].to_numpy()
    np.testing.assert_allclose(coords, centres)
    stack = star.parents[2] / blocks['particles']['rlnImageName'].iloc[0].split('@')[1]
    assert mrcfile.read(stack).shape == (len(centres), EXTRACT_SCALE, EXTRACT_SCALE)


@relion
def test_science_follows_the_stage_tables(workspace, class2d, refine3d, postprocessed,
                                          ctf_refined, extracted):
    """Published steps' prefixes point at the files RELION writes; every name has a unit."""
    steps = [ALDOLASE.stage('Class2D').step('class2d'),
             ALDOLASE.stage('Refine3D_CtfRefine').step('refine'),
             ALDOLASE.stage('Refine3D_CtfRefine').step('postprocess'),
             ALDOLASE.stage('Refine3D_CtfRefine').step('ctf_refine'),
             ALDOLASE.stage('Refine3D_Reextract').step('reextract')]
    direct = [extract.classification(class2d), extract.refinement(refine3d),
              extract.postprocess(postprocessed), extract.ctf_refine(ctf_refined),
              extract.extraction(extracted[0])]
    for step, values in zip(steps, direct):
        found = extract.science(step, workspace.root)
        assert found == {f'{step.label}_{k}': v for k, v in values.items()}
        for name, value in found.items():
            unit, kind = metrics.describe(name)
            assert (unit, kind) == metrics.SCIENCE[name[len(step.label) + 1:]]
            assert math.isfinite(value)


@relion
def test_relion_logs_carry_no_warning_relionbench_flags(workspace, class2d, refine3d,
                                                         postprocessed, ctf_refined, extracted):
    logs = sorted(workspace.logs.glob('*.log'))
    assert len(logs) == 7
    assert {log.name: records.warnings(log) for log in logs} == {log.name: [] for log in logs}


def test_polish_reads_relions_three_parameters(tmp_path):
    path = tmp_path / 'opt_params_all_groups.txt'
    path.write_text('0.8925 8190 2.82\n')
    assert extract.polish(path) == {'sigma_vel': pytest.approx(0.8925), 'sigma_div': 8190,
                                    'sigma_acc': pytest.approx(2.82)}
    for name in extract.polish(path):
        assert metrics.describe(f'polish_train_{name}') == metrics.SCIENCE[name]


@pytest.mark.parametrize('text', ['0.8925 8190\n', '', '\n'])
def test_polish_refuses_too_few_parameters(tmp_path, text):
    path = tmp_path / 'opt_params_all_groups.txt'
    path.write_text(text)
    with pytest.raises(ValueError, match='expected 3 parameters'):
        extract.polish(path)


# -- outputs.problem --------------------------------------------------------------------

@relion
def test_problem_passes_what_relion_wrote(refine3d):
    for suffix in ('_model.star', '_data.star', '_class001.mrc', '_half1_class001_unfil.mrc'):
        assert problem(f'{refine3d}{suffix}') == ''


def _mid_table(text):
    """run_data.star cut in the middle of a particle row, half way through the file."""
    cut = len(text) // 2
    while not (text[cut - 1:cut].strip() and text[cut:cut + 1].strip()):  # inside a value
        cut += 1
    return text[:cut]


BROKEN = {
    'missing': ('run_data.star', None),
    'empty': ('run_data.star', lambda b: b''),
    'star_truncated_mid_table': ('run_data.star', _mid_table),
    'star_garbage_binary': ('run_data.star', lambda b: bytes(range(256)) * 8),
    'star_garbage_text': ('run_data.star', lambda b: b'this is not a STAR file\n' * 4),
    'mrc_truncated_half': ('run_class001.mrc', lambda b: b[:len(b) // 2]),
    'mrc_header_only': ('run_class001.mrc', lambda b: b[:1024]),
}


@relion
@pytest.mark.parametrize('case', BROKEN)
def test_problem_names_a_broken_output(refine3d, tmp_path, case):
    source, damage = BROKEN[case]
    path = tmp_path / source
    if damage is not None:
        path.write_bytes(damage(Path(f'{refine3d}_{source[4:]}').read_bytes()))
    found = problem(path)
    assert found and str(path) in found


# -- outputs.shortfall: parseable, but less than the step must produce -------------------

def _class2d_step():
    """The fixture's Class2D call as a stage-table step."""
    run = f'{OUT}/Class2D/run_it{ITER_2D:03d}'
    return Step('class2d', 'relion_refine',
                f'--i Particles/proj.star --o {OUT}/Class2D/run --K {K_2D} --iter {ITER_2D}',
                (f'{run}_data.star', f'{run}_model.star'))


@pytest.fixture
def class2d_copy(class2d, workspace, tmp_path):
    shutil.copytree(workspace.root / 'Particles', tmp_path / 'Particles')
    shutil.copytree(workspace.out('Class2D'), tmp_path / OUT / 'Class2D')
    return tmp_path / OUT / 'Class2D' / f'run_it{ITER_2D:03d}'


@relion
def test_shortfall_passes_what_relion_wrote(class2d_copy):
    assert shortfall(_class2d_step(), class2d_copy.parents[2]) == ''


@relion
def test_shortfall_names_particles_lost_on_the_way(class2d_copy):
    path = Path(f'{class2d_copy}_data.star')
    blocks = starfile.read(path, always_dict=True)
    total = len(blocks['particles'])
    starfile.write({**blocks, 'particles': blocks['particles'].iloc[:total // 2]}, path,
                   overwrite=True)
    assert problem(path) == ''                          # it parses
    found = shortfall(_class2d_step(), class2d_copy.parents[2])
    assert found == (f'{path} lists {total // 2} particles of the {total} in '
                     'Particles/proj.star')


@relion
def test_shortfall_names_missing_classes(class2d_copy):
    path = Path(f'{class2d_copy}_model.star')
    blocks = starfile.read(path, always_dict=True)
    starfile.write({**blocks, 'model_classes': blocks['model_classes'].iloc[:1]}, path,
                   overwrite=True)
    found = shortfall(_class2d_step(), class2d_copy.parents[2])
    assert found == f'{path} holds 1 of the {K_2D} classes asked for (--K)'


def test_a_missing_iteration_says_which_was_last(tmp_path):
    for n in (1, 2):
        (tmp_path / f'run_it{n:03d}_model.star').write_text('data_\n')
    assert problem(tmp_path / 'run_it025_model.star').endswith(
        'was not written (RELION wrote iteration 2 of the 25 asked for)')
