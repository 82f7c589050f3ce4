"""Reference files load, match the stage tables, and give the right thresholds."""

import pytest
from reframe.utility.sanity import reference_bounds

from relionbench.results import references
from relionbench.workflows import WORKFLOWS

L = 256 * 1.12      # aldolase box x pixel (286.72 A)


def test_shell_bounds_span_two_shells_either_side():
    # 3.150769 A is shell 91 of a 286.72 A box: 2 shells span shells 93 .. 89
    lower, upper = references.shell_bounds(L / 91, 256, 1.12, 2)
    low, high = reference_bounds(L / 91, lower, upper)
    assert low == pytest.approx(L / 93, rel=1e-5) and high == pytest.approx(L / 89, rel=1e-5)
    assert low < L / 93 and high > L / 89        # a value printed on the edge shell is in


def test_published_resolutions_differ_by_whole_shells():
    # Class2D resolutions of the published runs are shells 59 and 57 of the same box
    assert L / 4.859661 == pytest.approx(59, abs=0.01)
    assert L / 5.030175 == pytest.approx(57, abs=0.01)


def test_time_has_only_an_upper_bound():
    entry = references.Entry('w', 's', 'gpu', '1gpu', 'src', 256, 1.12, {})
    assert references.thresholds('refine_seconds', {'value': 100.0}, entry) == (
        100.0, None, 0.10, 's')
    overridden = references.thresholds('refine_seconds', {'value': 100.0}, entry,
                                       {'time_upper': 0.25})
    assert overridden[2] == 0.25


def test_tolerance_override_and_unit_check():
    entry = references.Entry('w', 's', 'gpu', '1gpu', 'src', 256, 1.12, {})
    assert references.thresholds('refine_acc_rotation', {'value': 1.2, 'tolerance': 0.5},
                                 entry)[1:3] == (-0.5, 0.5)
    with pytest.raises(references.ReferenceError, match='should be'):
        references.thresholds('refine_resolution', {'value': 3.0, 'unit': 'nm'}, entry)


@pytest.mark.parametrize('system', ['scarf', 'pearl', 'clx', 'icx', 'local'])
def test_every_reference_names_a_real_case_and_metric(system):
    entries = references.load(system)
    assert entries
    for entry in entries:
        workflow = WORKFLOWS[entry.workflow]
        stage = workflow.stage(entry.stage)
        assert any(str(c) == f'{entry.stage}/{entry.variant}/{entry.scale}'
                   for c in workflow.cases()), entry.key()
        labels = {s.label for s in stage.steps}
        for name in entry.metrics:
            assert name == 'total_seconds' or name.split('_')[0] in {
                label.split('_')[0] for label in labels}, (entry.key(), name)
        assert entry.source and (entry.box_size, entry.pixel_size) == (
            stage.box_size, stage.pixel_size)


def test_published_counts():
    assert {s: len(references.load(s)) for s in ('pearl', 'scarf', 'clx', 'icx')} == {
        'pearl': 40, 'scarf': 10, 'clx': 10, 'icx': 12}


def test_find_prefers_the_partition_specific_entry():
    general = references.Entry('aldolase', 'Class2D', 'gpu', '1gpu', 'a', 256, 1.12, {})
    special = references.Entry('aldolase', 'Class2D', 'gpu', '1gpu', 'b', 256, 1.12, {},
                               partition='gpu')
    assert references.find([general, special], 'aldolase', 'Class2D', 'gpu', '1gpu',
                           'gpu').source == 'b'
    assert references.find([general, special], 'aldolase', 'Class2D', 'gpu', '1gpu',
                           'cpu').source == 'a'


def test_bad_file_names_the_file(tmp_path):
    (tmp_path / 'bad.yaml').write_text('references:\n  - workflow: aldolase\n    stage: [\n')
    with pytest.raises(references.ReferenceError, match='bad.yaml'):
        references.load('bad', tmp_path)
    (tmp_path / 'worse.yaml').write_text(
        'references:\n  - {workflow: a, stage: b, variant: gpu, scale: 1gpu, source: s,\n'
        '     box_size: 1, pixel_size: 1, metrics: {refine_seconds: 12}}\n')
    with pytest.raises(references.ReferenceError, match='worse.yaml: refine_seconds'):
        references.load('worse', tmp_path)


def test_absent_system_has_no_references(tmp_path):
    assert references.load('nowhere', tmp_path) == []


def test_cli_prints_the_applied_band(capsys):
    from relionbench.cli import main
    assert main(['references', '--system', 'scarf', '--stage', 'Class2D', '--csv']) == 0
    out = capsys.readouterr().out
    assert 'class2d_seconds,43480.9785861969,-inf,47829.1' in out
    assert 'Slurm job 229744' in out


def test_derive_covers_the_measured_spread():
    name = ('Miniature %case=Refine3D_Local/cpu-plain/3x1', 'relion-3_1_3-plain')
    runs = [{name: {'refine_seconds': t, 'refine_resolution': r, 'refine_acc_rotation': a}}
            for t, r, a in ((20.0, 8.0, 1.40), (22.0, 8.47, 1.50), (21.0, 8.0, 1.45))]
    doc = references.derive(runs, 'local', 'test')
    (entry,) = doc['references']
    assert (entry['workflow'], entry['stage'], entry['scale'], entry['build']) == (
        'miniature', 'Refine3D_Local', '3x1', 'relion-3_1_3-plain')
    metrics = entry['metrics']
    # 3 x (22 - 21) / 21 = 0.14: the floor for derived times holds
    assert metrics['refine_seconds'] == {'value': 21.0, 'unit': 's', 'tolerance_upper': 0.25}
    assert metrics['refine_resolution']['shells'] == 3      # 18 vs 17 shells of 144 A
    assert metrics['refine_acc_rotation']['tolerance'] == 0.207
    loaded = references.Entry(**entry)
    assert references.thresholds('refine_seconds', metrics['refine_seconds'], loaded)[2] == 0.25
    assert references.thresholds('refine_seconds', metrics['refine_seconds'], loaded,
                                 {'time_upper': 1.0})[2] == 1.0


def test_a_reference_holds_for_its_own_build():
    """An entry naming its build is found for that build only; one without holds for any,
    and loses to a build's own."""
    def entry(build):
        return references.Entry('miniature', 'Class2D', 'cpu-plain', '1x2', build, 48, 3.0, {},
                                build=build)
    old, any_build = entry('relion-3_1_3-plain'), entry('*')
    key = ('miniature', 'Class2D', 'cpu-plain', '1x2', 'default')
    assert references.find([old], *key, 'relion-5_0_1-altcpu') is None
    assert references.find([old, any_build], *key, 'relion-5_0_1-altcpu') is any_build
    assert references.find([any_build, old], *key, 'relion-3_1_3-plain') is old


def test_an_override_keeps_the_minimum_slack():
    """-S time_tolerance=1.0 loosens a 0.04 s step to 1.04 s, never tightens it to 0.08 s."""
    entry = references.Entry('w', 's', 'cpu-plain', '1x2', 'src', 48, 3.0, {})
    value, _, upper, _ = references.thresholds('select_seconds', {'value': 0.04}, entry,
                                               {'time_upper': 1.0})
    assert reference_bounds(value, None, upper)[1] == pytest.approx(1.04)
    _, _, upper, _ = references.thresholds('mask_peak_mib', {'value': 8.0}, entry)
    assert reference_bounds(8.0, None, upper)[1] == pytest.approx(12.0)


def test_scaled_times_follow_each_steps_factor():
    entry = references.Entry('w', 's', 'cpu-plain', '3x1', 'src', 48, 3.0, {
        'refine_seconds': {'value': 10.0}, 'mask_seconds': {'value': 2.0},
        'total_seconds': {'value': 12.0}, 'refine_resolution': {'value': 9.0}})
    metrics = references.scaled(entry, {'refine': 2.0, 'mask': 1.0})
    assert metrics['refine_seconds']['value'] == 20.0 and metrics['mask_seconds']['value'] == 2.0
    assert metrics['total_seconds']['value'] == pytest.approx(22.0)
    assert metrics['refine_resolution'] == {'value': 9.0}
    assert entry.metrics['refine_seconds']['value'] == 10.0          # the entry is unchanged


def test_the_local_references_carry_their_calibration():
    entries = references.load('local')
    assert all(e.calibration['cores'] == 2 and e.calibration['seconds'] > 0 for e in entries)
    assert entries[0].calibration['source']


def test_a_bad_calibration_names_the_file(tmp_path):
    (tmp_path / 'x.yaml').write_text('calibration: {seconds: 0, cores: 2}\nreferences: []\n')
    with pytest.raises(references.ReferenceError, match=r'x\.yaml: calibration: write'):
        references.load('x', tmp_path)
