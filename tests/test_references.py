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
        'references:\n  - {workflow: aldolase, stage: Class2D, variant: gpu, scale: 1gpu,\n'
        '     source: s, box_size: 1, pixel_size: 1, metrics: {class2d_seconds: 12}}\n')
    with pytest.raises(references.ReferenceError, match=r'worse.yaml:2: entry 1: '
                       r'class2d_seconds: write \{value'):
        references.load('worse', tmp_path)


GOOD = """system: mysite
references:
  - workflow: aldolase
    stage: Class2D
    variant: cpu-plain
    scale: 23x4
    build: relion-gnu
    source: a run
    box_size: 256
    pixel_size: 1.12
    metrics:
      class2d_seconds: {value: 3600, unit: s}
      class2d_resolution: {value: 4.86, unit: A}
"""


@pytest.mark.parametrize('typo,said', [
    ('workflow: aldolase', "entry 1: workflow 'aldolse' is not one of aldolase, mini-ribosome, "
                           "miniature, ribosome (did you mean 'aldolase'?)"),
    ('stage: Class2D', "entry 1: stage 'Clas2D' is not one of Class2D, Class3D, "),
    ('variant: cpu-plain', "entry 1: variant 'cpu-plian' is not one of gpu, cpu-altcpu, "
                           "cpu-plain (did you mean 'cpu-plain'?)"),
    ('scale: 23x4', "entry 1: scale '23x5' is not one of 23x4"),
    ('build: relion-gnu', "entry 1: build 'relion-gn' is not one of *, relion-gnu, "
                          "relion-cuda (did you mean 'relion-gnu'?)"),
    ('    metrics:', "entry 1: key 'metrcs' is not one of workflow, stage, variant, scale, "
                    "source, box_size, pixel_size, metrics, partition, build (did you mean "
                    "'metrics'?)"),
    ('{value: 3600,', "entry 1: class2d_seconds: value: '3600s' is not a number (write it "
                      "without a unit)"),
    ('references:', "key 'referencs' is not one of system, calibration, defaults, "
                    "references (did you mean 'references'?)"),
])
def test_a_typo_in_a_reference_file_is_one_line_naming_file_entry_line_and_valid_values(
        tmp_path, typo, said):
    """Each error names the file, the entry and the line it starts on, the key, and what
    it may be; and where the format is described."""
    broken = {'workflow: aldolase': 'workflow: aldolse', 'stage: Class2D': 'stage: Clas2D',
              'variant: cpu-plain': 'variant: cpu-plian', 'scale: 23x4': 'scale: 23x5',
              'build: relion-gnu': 'build: relion-gn', '    metrics:': '    metrcs:',
              '{value: 3600,': '{value: 3600s,', 'references:': 'referencs:'}[typo]
    (tmp_path / 'mysite.yaml').write_text(GOOD.replace(typo, broken, 1))
    with pytest.raises(references.ReferenceError) as err:
        references.load('mysite', tmp_path, builds=['relion-gnu', 'relion-cuda'])
    line = ': ' if typo == 'references:' else ':3: '
    assert str(err.value).startswith(f'{tmp_path}/mysite.yaml{line}{said}'), str(err.value)
    assert str(err.value).endswith('the format is in docs/site.md, "File format"')
    assert '\n' not in str(err.value)


def test_an_indentation_error_is_one_line_with_its_line(tmp_path):
    (tmp_path / 'mysite.yaml').write_text(GOOD.replace('    source: a run', '   source: a run'))
    with pytest.raises(references.ReferenceError, match=rf'^{tmp_path}/mysite.yaml:8: not '
                       'valid YAML: ') as err:
        references.load('mysite', tmp_path)
    assert '\n' not in str(err.value)


def test_tolerance_on_a_time_is_its_upper_band(tmp_path):
    (tmp_path / 'mysite.yaml').write_text(GOOD.replace('{value: 3600, unit: s}',
                                                       '{value: 3600, unit: s, tolerance: 0.15}'))
    entry = references.load('mysite', tmp_path)[0]
    assert references.reframe_reference(entry)['*']['class2d_seconds'] == (3600, None, 0.15, 's')
    (tmp_path / 'mysite.yaml').write_text(GOOD.replace('{value: 4.86, unit: A}',
                                                       '{value: 4.86, unit: A, tolerance: 0.1}'))
    with pytest.raises(references.ReferenceError, match='class2d_resolution: a resolution '
                       'takes shells:'):
        references.load('mysite', tmp_path)


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


@pytest.mark.parametrize('argv,said', [
    (['--system', 'mycluter'], "relionbench references: --system 'mycluter' is not one of "
                               "ci-slurm, clx, icx, local, pearl, scarf"),
    (['--system', 'local', '--stage', 'Clas2D'],
     "relionbench references: --stage 'Clas2D' is not one of Class2D, Class2D_VDAM, "),
])
def test_the_references_command_says_no_to_what_it_does_not_know(capsys, argv, said):
    from relionbench.cli import main
    assert main(['references', *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(said) and err.count('\n') == 1, err


def test_a_misspelt_defaults_key_is_refused(tmp_path):
    (tmp_path / 'mysite.yaml').write_text('defaults:\n  time_uper: 0.2\n' + GOOD)
    with pytest.raises(references.ReferenceError, match="defaults: key 'time_uper' is not one "
                       r"of time_upper, .* \(did you mean 'time_upper'\?\)"):
        references.load('mysite', tmp_path)
