"""The shared RELION 5.0.1 build (../shared/relion) runs every miniature stage through
ReFrame beside Debian's 3.1.3: cpu-plain and cpu-altcpu (--cpu), the VDAM stage, against its
own references, on data made by the default build."""

import json
import re

import pytest
from conftest import TIME_TOLERANCE, reframe

from relionbench.results import timing
from relionbench.workflows import MINIATURE

pytestmark = pytest.mark.requires('relion', 'relion5')
BUILD = 'relion-5_0_1-altcpu'


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    runs = tmp_path_factory.mktemp('relion5')
    result = reframe('-n', '^Miniature(?!Chain)', '-r', '--system', 'local', '-p', f'^{BUILD}$',
                     '-S', f'time_tolerance={TIME_TOLERANCE}',     # as the 3.1.3 run's
                     '--report-file', str(runs / 'report.json'), runs=runs, timeout=1800)
    report = json.loads((runs / 'report.json').read_text())
    cases = {(c['display_name'].split(' /')[0], c['environ']): c
             for r in report['runs'] for c in r['testcases']}
    return result, cases, runs


def test_every_stage_passes_with_both_variants(run):
    result, cases, _ = run
    accelerated = [s for s in MINIATURE.stages if s.accelerated]     # cpu-altcpu too
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(cases) == len(MINIATURE.stages) + len(accelerated) + 2  # and data, calibration
    assert all(c['result'] == 'pass' for c in cases.values())
    assert 'no reference' not in result.stdout                # judged against its own


def test_each_record_names_the_build_that_ran(run):
    _, _, runs = run
    lines = [line for p in (runs / 'perflogs').rglob('Miniature.log') for line in
             p.read_text().splitlines()[1:]]           # the stages (the fixtures run no RELION)
    assert lines and all(f'|{BUILD}|' in line and '|5.0.1|ALTCPU|' in line for line in lines)


def test_the_job_scripts_carry_the_release_s_options(run):
    _, _, runs = run
    scripts = {p.parent.name: p.read_text() for p in
               runs.glob(f'output/*/local/default/{BUILD}/Miniature_*/rfm_job.sh')}
    refine = [t for t in scripts.values() if 'Refine3D/run ' in t]
    assert refine and all('--dont_skip_gridding' in t and '--ctf_corrected_ref' not in t
                          for t in refine)
    altcpu = [t for t in scripts.values() if re.search(r' --cpu\b(?!s)', t)]
    assert len(altcpu) == len([s for s in MINIATURE.stages if s.accelerated]) == 5


def test_the_data_are_made_by_the_default_build(run):
    _, _, runs = run
    made = next(runs.glob('output/*/local/default/*/MiniatureData_*/rfm_job.out')).read_text()
    assert re.search(r'miniature made with: \S+ RELION version: 3\.1\.3', made), made


def test_vdam_classifies_with_a_randomised_order(run):
    _, cases, runs = run
    perf = timing.perf(cases['Miniature %case=Class2D_VDAM/cpu-altcpu/1x2', BUILD])
    assert perf['class2d_vdam_nr_classes'] == 5 and perf['class2d_vdam_average_pmax'] > 0
    log = next(runs.glob(f'output/*/local/default/{BUILD}/Miniature_*/rb_steps/0_class2d_vdam.log'))
    assert 'skipping randomisation' not in log.read_text()
    # while VDAM works on mini-batches it writes only every --grad_write_iter-th iteration
    # (here iterations 1-9 once, at 9; then every one, the batch being every particle): an
    # iteration it did not write is timed as its block's average
    assert perf['class2d_vdam_iterations'] == 20
    table = log.with_name('0_class2d_vdam.iterations.tsv').read_text().splitlines()
    rows = [row.split('\t') for row in table[2:]]
    assert [int(r[0]) for r in rows] == list(range(1, 21))
    assert any(int(r[3]) > 1 for r in rows), table
    assert perf['class2d_vdam_slowest_iteration'] >= perf['class2d_vdam_median_iteration'] > 0


def test_every_metric_of_3_1_is_read_from_5_0_outputs(run):
    """The files 5.0.1 writes (final model and optimiser files, Polish's parameter file,
    STAR files headed '# version 50001') give every metric 3.1.3's do."""
    from relionbench.results import references
    _, cases, _ = run
    old = {(e.workflow, e.stage): set(e.metrics) for e in references.load('local')
           if e.build == 'relion-3_1_3-plain' and e.variant == 'cpu-plain'}
    for (workflow, stage_name), metrics in old.items():
        if workflow != 'miniature':
            continue
        stage = MINIATURE.stage(stage_name)
        for variant in ('cpu-plain', 'cpu-altcpu')[:1 + stage.accelerated]:
            key = f'Miniature %case={stage_name}/{variant}/{stage.cpu_scales[0]}', BUILD
            perf = timing.perf(cases[key])
            assert metrics <= set(perf), (stage_name, variant, metrics - set(perf))
