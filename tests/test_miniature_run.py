"""The whole miniature through ReFrame with the real RELION inside an image (podman): every
stage passes against the same references as the native build, and the records carry per-step
time and memory, RELION's resolutions, the ground-truth scores and the image that ran.

The image is relion-debian, Debian's RELION 3.1.3 package: the build the other tests run
natively (the faults, the bands, Slurm), so this run is also the container path's proof."""

import json
import re
import subprocess

import pytest
from conftest import TIME_TOLERANCE, reframe

from relionbench.builds import podman
from relionbench.results import timing
from relionbench.workflows import MINI_CHAIN, MINI_RIBOSOME, MINIATURE, iterations

pytestmark = pytest.mark.requires('relion')      # and podman for the image (``image``)


@pytest.fixture(scope='module')
def run(tmp_path_factory, image):
    runs = tmp_path_factory.mktemp('miniature')
    # every reference as it is but the time bands' width (conftest.TIME_TOLERANCE)
    result = reframe('-n', '^Mini', '-r', '--system', 'local', '-S', f'container_image={image}',
                     '-S', 'MiniatureChain.opt_in=yes',
                     '-S', f'time_tolerance={TIME_TOLERANCE}',
                     '--report-file', str(runs / 'report.json'), runs=runs, timeout=1500)
    report = json.loads((runs / 'report.json').read_text())
    cases = {c['display_name'].split(' /')[0]: c for r in report['runs'] for c in r['testcases']}
    return result, cases, runs


def _perf(case):
    return timing.perf(case)


def test_every_miniature_stage_passes(run):
    result, cases, _ = run
    stages = [s for s in MINIATURE.stages if not s.needs]      # VDAM needs RELION 4 or later
    expected = len(stages) + len(MINI_RIBOSOME.stages) + 3   # chain, data, calibration
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(cases) == expected and all(c['result'] == 'pass' for c in cases.values())


def test_every_step_has_time_and_memory(run):
    _, cases, _ = run
    for stage in (s for s in MINIATURE.stages if not s.needs):
        perf = _perf(cases[f'Miniature %case={stage.name}/cpu-plain/{stage.cpu_scales[0]}'])
        for step in stage.steps:
            assert perf[f'{step.label}_seconds'] > 0
            assert perf[f'{step.label}_peak_mib'] > 1


def test_every_refine_step_has_its_iteration_times(run):
    """Read from the files RELION writes each iteration: the median and slowest iteration in
    the record, every iteration's time beside the step's log; auto-refine's count its own."""
    _, cases, runs = run
    for workflow, stages in (('Miniature', [s for s in MINIATURE.stages if not s.needs]),
                             ('MiniRibosome', MINI_RIBOSOME.stages)):
        for stage in stages:
            perf = _perf(cases[f'{workflow} %case={stage.name}/cpu-plain/{stage.cpu_scales[0]}'])
            for step in (s for s in stage.steps if s.refine):
                median = perf[f'{step.label}_median_iteration']
                assert 0 < median <= perf[f'{step.label}_slowest_iteration']
                count = iterations(stage)
                assert (perf[f'{step.label}_iterations'] == count if count
                        else perf[f'{step.label}_iterations'] > 1), (stage.name, perf)
    table = next(runs.glob('output/*/local/*/*/Miniature_*/rb_steps/0_refine.iterations.tsv'))
    rows = [r.split('\t') for r in table.read_text().splitlines()]
    assert rows[0] == ['iteration', 'seconds', 'end', 'block'] and rows[-1][0] == 'final'


def test_refinement_from_a_low_resolution_model_reaches_the_truth(run):
    """Refine3D_CtfRefine starts from the particles as extracted (no angles) and a 40 A
    model: its FSC against the true map says whether it converged."""
    _, cases, _ = run
    perf = _perf(cases['Miniature %case=Refine3D_CtfRefine/cpu-plain/3x1'])
    assert perf['refine_truth_fsc05_resolution'] < 12
    assert perf['refine_truth_fsc0143_resolution'] < 10
    assert perf['postprocess_final_resolution'] < 12


def test_a_stage_that_starts_from_the_truth_says_so(run):
    """Refine3D_Local starts from true angles and defocus: its scores are "from a true
    start", never taken for convergence."""
    _, cases, _ = run
    perf = _perf(cases['Miniature %case=Refine3D_Local/cpu-plain/3x1'])
    assert 'refine_truth_fsc05_resolution' not in perf
    assert perf['refine_true_start_fsc05_resolution'] < 10


def test_ctf_refine_recovers_the_planted_errors(run):
    _, cases, _ = run
    perf = _perf(cases['Miniature %case=Refine3D_CtfRefine/cpu-plain/3x1'])
    assert perf['ctf_refine_truth_defocus_r'] > 0.8
    assert perf['ctf_refine_truth_tilt_angle_error'] < 45


def test_perflog_has_provenance_truth_and_references(run, image):
    _, _, runs = run
    text = ''.join(p.read_text() for p in (runs / 'perflogs').rglob('*.log'))
    assert 'refine_truth_fsc05_resolution' in text
    digest = podman.digest(image).removeprefix('sha256:')
    # the image ran: its RELION, the FFT library it linked there, its code not read from here
    assert len(digest) == 64 and f'|3.1.3|plain|FFTW|unknown||{image}|{digest}|' in text
    assert 'scripts/measure-miniature' in text          # the reference's source is logged
    # one file per case: its header names the metrics of every row, as a tool other than
    # the suite reads them (csv)
    for path in (runs / 'perflogs').rglob('*.log'):
        header, *rows = [line.split('|') for line in path.read_text().splitlines()]
        names = [h.removesuffix('_var') for h in header if h.endswith('_var')]
        if not names:                   # a fixture's: results without metrics
            assert path.parent.name == 'fixtures' and rows, path
            continue
        first = header.index(f'{names[0]}_var')
        for row in rows:
            assert row[first::7][:len(names)] == names, path


def test_every_rank_and_step_runs_in_the_job_s_container(run, image):
    """The job starts one container of the image (one per node) and execs each step into
    it; MPI ranks are started by the host's mpirun, each exec'd into its node's container."""
    _, _, runs = run
    scripts = [p.read_text() for p in runs.glob('output/*/local/*/*/Miniature_*/rfm_job.sh')]
    start = ' '.join(podman.command('run', '-d', '--rm'))
    exec_ = ' '.join(podman.command('exec'))
    node = re.escape('"$0-$(uname -n)"')
    assert scripts and all(re.search(rf'rb_nodes sh -c .*--name {node} {image} sleep '
                                     rf'infinity\S* "\$RB_CONTAINER" {re.escape(start)} ', s)
                           for s in scripts)
    refine = [s for s in scripts if 'relion_refine_mpi' in s]
    assert refine and all(re.search(rf'rb_step 0 refine mpirun -np 3 sh -c .exec '
                                    rf'{re.escape(exec_)} .*{node} "\$@"\S* '
                                    r'"\$RB_CONTAINER" python3 \S+measure.py', s) for s in refine)
    listed = subprocess.run(podman.command('ps', '-a', '--format', '{{.Names}}'),
                            capture_output=True, text=True).stdout
    assert 'relionbench-' not in listed                  # each job removed its container


def test_the_stages_also_run_as_a_chain(run):
    _, cases, _ = run
    perf = _perf(cases['MiniatureChain %case=Chain/cpu-plain/3x1'])
    assert len([k for k in perf if k.endswith('_seconds')]) == len(MINI_CHAIN.stages[0].steps) + 1
    assert perf['extract_box_size'] == 48 and perf['class2d_nr_classes'] == 5
    # every refinement of the chain starts from what this run found
    assert perf['refine3d_ctfrefine_refine_truth_fsc05_resolution'] < 12
    assert perf['refine3d_local_refine_truth_fsc05_resolution'] < 10
    assert perf['refine3d_ctfrefine_ctf_refine_truth_defocus_r'] > 0.8
    assert perf['class3d_truth_purity'] > 0.9


@pytest.mark.requires('chromium')
def test_the_report_of_the_run_in_a_browser(run):
    """The report of this real run, in headless Chromium: every check's verdict on the first
    screen, with its time and resolution against reference; every figure loads."""
    from browser import SHOTS, open_report

    from relionbench import report, results
    _, cases, runs = run
    index = report.write(results.load(runs), runs / 'report')
    page = open_report(index, SHOTS / 'report-miniature-in-image.png')
    assert page.errors == [] and page.remote == [] and page.broken == []
    rows = [line.split('\t') for line in page.first_screen.splitlines()
            if line.startswith('passed')]
    checks = [c for c in cases if ' %case=' in c]
    assert len(rows) == len(checks)
    stages = {row[2] for row in rows}           # verdict, check, stage
    assert {'MotionCorr', 'Refine3D_Local', 'Polish'} <= stages
    refine = next(row for row in rows if row[2] == 'Refine3D_Local')
    # ..., why, time, time vs reference, resolution, shells vs reference, truth FSC
    assert refine[9].endswith(' s') and ' of ' in refine[10] and refine[11].endswith(' Å')
    assert '(' in refine[12] and refine[13].endswith(' Å')


def test_a_resized_miniature_runs_as_its_own_dataset(tmp_path):
    """-S MiniatureData.size: the data and the stages' sampling options follow the preset;
    its runs are another dataset, recorded, not judged by the small miniature's references."""
    runs = tmp_path / 'runs'
    result = reframe('-n', '^Miniature(?!Chain)', '-t', '^(extract|class2d)$', '-r',
                     '--system', 'local', '-S', 'MiniatureData.size=64x200',
                     '--report-file', str(runs / 'report.json'), runs=runs, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:]
    report = json.loads((runs / 'report.json').read_text())
    cases = {c['display_name'].split(' /')[0]: c for r in report['runs'] for c in r['testcases']}
    extract = _perf(cases['Miniature %case=Extract/cpu-plain/1x2'])
    assert (extract['extract_box_size'], extract['extract_pixel_size']) == (64, 2.25)
    assert _perf(cases['Miniature %case=Class2D/cpu-plain/1x2'])['class2d_nr_classes'] == 5
    assert 'the references are for the small miniature, this is 64x200' in result.stdout
    text = ''.join(p.read_text() for p in runs.glob('output/*/local/*/*/Miniature_*/rfm_job.sh'))
    assert '--extract_size 64 --norm --bg_radius 24' in text
    assert '--offset_range 4 --offset_step 2' in text
    perflog = ''.join(p.read_text() for p in (runs / 'perflogs').rglob('*.log'))
    assert '|miniature-64x200|no reference|' in perflog


def test_a_bad_size_is_one_line_naming_the_setting(tmp_path):
    result = reframe('-n', '^Miniature(?!Chain)', '-t', '^extract$', '-r', '--system', 'local',
                     '-S', 'MiniatureData.size=47x440', runs=tmp_path / 'runs', timeout=300)
    assert result.returncode != 0
    assert ('-S MiniatureData.size=47x440: box 47: choose an even box from 32 to 256 px'
            in result.stdout)
