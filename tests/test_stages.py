"""The stage tables say what the architecture page (docs/developers/architecture.md) says
and fix the predecessor's mistakes."""

import re

import pytest

from relionbench.run import layouts
from relionbench.workflows import ALDOLASE, RIBOSOME, WORKFLOWS

ALL_STEPS = [(s, step) for w in WORKFLOWS.values() for s in w.stages for step in s.steps]


@pytest.mark.parametrize('stage,step', ALL_STEPS, ids=lambda x: getattr(x, 'label', ''))
def test_every_option_has_two_dashes(stage, step):
    for arg in step.args():
        assert not re.match(r'^-[A-Za-z]', arg), f'{stage.name} {step.label}: {arg}'


@pytest.mark.parametrize('stage,step', ALL_STEPS, ids=lambda x: getattr(x, 'label', ''))
def test_dataset_paths_are_declared_inputs(stage, step):
    """Every path a step reads that this run did not write is a declared dataset input."""
    args = step.args()
    for flag, value in zip(args, args[1:]):
        if flag.startswith('--') and re.search(r'\.(star|mrc|map|txt)(:mrc)?$', value) \
                and not value.startswith(('Bench/', '$(')) \
                and flag not in ('--o', '--ofile', '--coord_suffix'):
            assert value.split(':')[0] in stage.inputs, f'{stage.name} {step.label} {value}'


def test_refine_stages_analyse_their_own_maps():
    for name in ('Refine3D_CtfRefine', 'Refine3D_Reextract', 'Refine3D_Full'):
        stage = ALDOLASE.stage(name)
        assert '--auto_refine' in stage.step('refine').args()
        assert 'Bench/Refine3D/run_half1_class001_unfil.mrc' in stage.step('postprocess').args()
        assert 'Bench/Refine3D/run_class001.mrc' in stage.step('mask').args()


def test_published_key_options():
    class2d = ALDOLASE.stage('Class2D').step('class2d').options
    for opt in ('--K 100', '--iter 25', '--tau2_fudge 2', '--particle_diameter 120',
                '--psi_step 12', '--fast_subsets', '--pad 2'):
        assert opt in class2d
    class3d = ALDOLASE.stage('Class3D').step('class3d').options
    for opt in ('--K 4', '--sym D2', '--ini_high 30', '--firstiter_cc', '--strict_highres_exp 7',
                '--solvent_mask', '--healpix_order 2'):
        assert opt in class3d
    assert '--minval 2 --maxval 2' in ALDOLASE.stage('Class3D').step('select').options
    assert '--extract_size 512' in ALDOLASE.stage('Refine3D_Reextract').step('reextract').options
    assert '--ini_threshold 0.001 --extend_inimask 0 --width_soft_edge 8' in ALDOLASE.stage(
        'Refine3D_Full').step('mask').options
    assert '--K 200' in RIBOSOME.stage('Class2D').step('class2d').options
    assert '--ref emd_2660.map:mrc' in RIBOSOME.stage('Class3D').step('class3d').options


def test_output_folders_are_created_for_relion():
    ctf = ALDOLASE.stage('Refine3D_CtfRefine').step('ctf_refine')
    assert ctf.output_dirs() == ['Bench/CtfRefine']
    assert ALDOLASE.stage('Class2D').steps[0].output_dirs() == ['Bench/Class2D']


def test_cases_cover_variants_and_scales():
    names = {str(c) for c in ALDOLASE.cases()}
    assert 'Class2D/gpu/16gpu' in names and 'Polish/cpu-plain/2x4' in names
    assert 'Polish/cpu-altcpu/2x4' not in names         # no relion_refine: plain again
    assert len(ALDOLASE.cases()) == 6 * (5 + 1) + 5


def test_tuning_rules():
    assert [layouts.gpu_ranks(n) for n in (1, 2, 4, 8, 16)] == [3, 5, 11, 21, 41]
    assert layouts.pool(4) == 30 and layouts.pool(20) == 40
    layout = layouts.intel_layout(128)           # Intel's single-node 8358 example
    assert (layout.tasks, layout.threads) == (9, 16)
    assert layouts.gpu_layout(8, 4).nodes == 2
    assert layouts.cpu_layout('23x4') == layouts.Layout(23, 4)
    with pytest.raises(ValueError, match='TASKSxTHREADS'):
        layouts.cpu_layout('23')


def test_a_size_preset_sets_the_miniatures_sampling_options():
    from relionbench.data.synthetic import Size
    from relionbench.workflows import MINIATURE, sized
    extract, post = MINIATURE.stage('Extract'), MINIATURE.stage('Refine3D_Local')
    assert sized(extract, Size()) is extract
    args = ' '.join(extract.steps[0].args())
    assert '--extract_size 48 --norm --bg_radius 18 ' in args
    big = sized(post, Size.parse('medium'))
    assert (big.box_size, big.pixel_size) == (96, 1.5)
    assert '--offset_range 6 --offset_step 3 ' in ' '.join(big.step('refine').args())
    assert '--angpix 1.5 ' in ' '.join(big.step('postprocess').args())
    assert '--extract_size 96 --norm --bg_radius 36 ' in ' '.join(
        sized(extract, Size(96)).steps[0].args())
    # the published workflows have no size options: nothing to fill in
    assert not any('{' in step.options.replace('{out}', '') for _, step in ALL_STEPS
                   if _.workflow in ('aldolase', 'ribosome'))
