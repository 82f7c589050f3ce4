"""The miniature: the aldolase workflow, and the ribosome's classifications, on synthetic data
(relionbench.data.miniature), and the miniature as one chain of stages."""

import re
from dataclasses import replace

from relionbench.constants import ENV_VDAM
from relionbench.workflows.aldolase import REFINED
from relionbench.workflows.model import Stage, Step, Workflow

# it, 3 MPI ranks where it must (auto-refine with split halves).

_MINI_COMMON = ('--ctf --particle_diameter 130 --flatten_solvent --zero_mask --oversampling 1 '
                '--offset_range {offset_range} --offset_step {offset_step} --norm --scale '
                '--random_seed 0')
_MINI_REFINE = (f'--auto_refine --split_random_halves {_MINI_COMMON} --ctf_corrected_ref '
                '--firstiter_cc --sym C1 --low_resol_join_halves 40 --auto_ignore_angles '
                '--auto_resol_angles')
_MINI_MASK = ('--i {out}/Refine3D/run_class001.mrc --o {out}/MaskCreate/mask.mrc --lowpass 15 '
              '--ini_threshold {threshold} --extend_inimask 0 --width_soft_edge 4')
_MINI_POSTPROCESS = Step(
    'postprocess', 'relion_postprocess',
    '--mask {out}/MaskCreate/mask.mrc --i {out}/Refine3D/run_half1_class001_unfil.mrc '
    '--o {out}/PostProcess/postprocess --angpix {apix} --auto_bfac --autob_lowres 10',
    ('{out}/PostProcess/postprocess.star', '{out}/PostProcess/postprocess.mrc'),
    'postprocess', '{out}/PostProcess/postprocess')
_MINI_POLISH_IO = ('--i Refine3D/job008/run_data.star --f PostProcess/job010/postprocess.star '
                   '--corr_mic MotionCorr/job002/corrected_micrographs.star --first_frame 1 '
                   '--last_frame -1')
MINI_MASK_THRESHOLD = 0.03     # 15 A low-passed map: ~13 % of the box, the particle's volume


def _mini_refine(inp, ref, extra, true_start=False):
    return Step('refine', 'relion_refine_mpi',
                f'--o {{out}}/Refine3D/run {_MINI_REFINE} --i {inp} --ref {ref} {extra}',
                REFINED, 'refinement', '{out}/Refine3D/run',
                truth='map', truth_input='{out}/Refine3D/run_class001.mrc',
                true_start=true_start)


def _mini_mask():
    return Step('mask', 'relion_mask_create',
                _MINI_MASK.replace('{threshold}', str(MINI_MASK_THRESHOLD)),
                ('{out}/MaskCreate/mask.mrc',))


UNMOVED = ('resolution', 'classes_above_2pct')
"""The miniature's classifications report these whatever the input (three to five
iterations stop at 24-28.8 A, every class keeps > 2 %): recorded, not judged."""


def _mini_class3d(label, k, iters, extra=''):
    return Step(label, 'relion_refine',
                f'--o {{out}}/Class3D/run --i Extract/job004/particles.star '
                f'--ref Reference/initial_model.mrc --firstiter_cc --ini_high 40 '
                f'--ctf_corrected_ref --iter {iters} --tau2_fudge 4 --K {k} --healpix_order 1 '
                f'--sym C1 {_MINI_COMMON} {extra}'.strip(),
                (f'{{out}}/Class3D/run_it{iters:03d}_model.star',
                 f'{{out}}/Class3D/run_it{iters:03d}_data.star'),
                'classification', '{out}/Class3D/run', truth='classes',
                truth_input='{out}/Class3D/run', unbanded=UNMOVED)


def _mini_class2d(label, k, iters, psi_step):
    return Step(label, 'relion_refine',
                f'--o {{out}}/Class2D/run --i Extract/job004/particles.star --iter {iters} '
                f'--tau2_fudge 2 --K {k} --psi_step {psi_step} {_MINI_COMMON}',
                (f'{{out}}/Class2D/run_it{iters:03d}_model.star',
                 f'{{out}}/Class2D/run_it{iters:03d}_data.star',
                 f'{{out}}/Class2D/run_it{iters:03d}_classes.mrcs'),
                'classification', '{out}/Class2D/run', unbanded=UNMOVED)


VDAM_SEED = 1
"""Gradient-driven classification draws its mini-batches from the particle order, which
RELION only randomises for a non-zero seed ("skipping randomisation of particle order because
random_seed equals zero"); the EM stages keep the published --random_seed 0."""


def _mini_class2d_vdam(label, k, iters):
    return Step(label, 'relion_refine',
                f'--o {{out}}/Class2D_VDAM/run --i Extract/job004/particles.star --grad '
                f'--class_inactivity_threshold 0.1 --grad_write_iter 10 --iter {iters} '
                f'--tau2_fudge 2 --K {k} --psi_step 12 '
                + _MINI_COMMON.replace('--random_seed 0', f'--random_seed {VDAM_SEED}'),
                (f'{{out}}/Class2D_VDAM/run_it{iters:03d}_model.star',
                 f'{{out}}/Class2D_VDAM/run_it{iters:03d}_data.star',
                 f'{{out}}/Class2D_VDAM/run_it{iters:03d}_classes.mrcs'),
                'classification', '{out}/Class2D_VDAM/run', unbanded=UNMOVED)


_MINI_INPUTS = ('movies.star', 'truth/map.mrc')
SUITE_STEP = ('seconds', 'peak_mib', 'node_peak_mib')
"""The suite's own Python steps are not what is benchmarked: their time and memory are
recorded, not judged."""
_CLASS3D_ITERS = 5

MINIATURE = Workflow('miniature', 'miniature', 'Synthetic miniature of the aldolase workflow', (
    Stage('miniature', 'MotionCorr', 0, (
        Step('motioncorr', 'relion_run_motioncorr',
             '--i movies.star --o {out}/MotionCorr/ --first_frame_sum 1 --last_frame_sum -1 '
             '--use_own --bin_factor 1 --bfactor 150 --dose_per_frame 3 --preexposure 0 '
             '--patch_x 1 --patch_y 1 --dose_weighting',
             ('{out}/MotionCorr/corrected_micrographs.star',)),
    ), _MINI_INPUTS, 48, 3.0, cpu_scales=('1x2',), gpu_scales=(1,)),
    Stage('miniature', 'Extract', 1, (
        Step('extract', 'relion_preprocess',
             '--i CtfFind/job003/micrographs_ctf.star --coord_dir Picks/ --coord_suffix _pick.star '
             '--part_star {out}/Extract/particles.star --part_dir {out}/Extract/ --extract '
             '--extract_size {box} --norm --bg_radius {bg_radius} --white_dust -1 --black_dust -1 '
             '--invert_contrast',
             ('{out}/Extract/particles.star',), 'extraction', '{out}/Extract/particles.star'),
    ), (*_MINI_INPUTS, 'CtfFind/job003/micrographs_ctf.star', 'Picks'), 48, 3.0,
        cpu_scales=('1x2',), gpu_scales=(1,)),
    Stage('miniature', 'Class2D', 2, (
        _mini_class2d('class2d', 5, 3, 12),
    ), (*_MINI_INPUTS, 'Extract/job004/particles.star'), 48, 3.0,
        cpu_scales=('1x2',), gpu_scales=(1,)),
    Stage('miniature', 'Class3D', 3, (
        _mini_class3d('class3d', 4, _CLASS3D_ITERS, '--maxsig 100'),
        Step('pick', 'relionbench.science.truth',
             'best-class --model {out}/Class3D/run --truth truth '
             '--out {out}/Select/best_class.txt',
             ('{out}/Select/best_class.txt',), python=True, unbanded=SUITE_STEP),
        Step('select', 'relion_star_handler',
             f'--i {{out}}/Class3D/run_it{_CLASS3D_ITERS:03d}_data.star '
             '--o {out}/Select/particles.star --select rlnClassNumber '
             '--minval $(<{out}/Select/best_class.txt) --maxval $(<{out}/Select/best_class.txt)',
             ('{out}/Select/particles.star',)),
    ), (*_MINI_INPUTS, 'Extract/job004/particles.star', 'Reference/initial_model.mrc'), 48, 3.0,
        cpu_scales=('1x2',), gpu_scales=(1,)),
    Stage('miniature', 'Refine3D_CtfRefine', 4, (
        _mini_refine('Select/job007/particles.star', 'Reference/initial_model.mrc',
                     '--ini_high 40 --healpix_order 1 --auto_local_healpix_order 3'),
        _mini_mask(),
        _MINI_POSTPROCESS,
        Step('ctf_refine', 'relion_ctf_refine',
             '--i {out}/Refine3D/run_data.star --f {out}/PostProcess/postprocess.star '
             '--o {out}/CtfRefine/ --fit_defocus --kmin_defocus 30 --fit_mode fmmff '
             '--fit_beamtilt --kmin_tilt 30',       # per-micrograph defocus, as planted
             ('{out}/CtfRefine/particles_ctf_refine.star',), 'ctf_refine',
             '{out}/CtfRefine/particles_ctf_refine.star',
             truth='ctf', truth_input='{out}/CtfRefine/particles_ctf_refine.star'),
    ), (*_MINI_INPUTS, 'Select/job007/particles.star', 'Reference/initial_model.mrc'), 48, 3.0,
        cpu_scales=('3x1',), gpu_scales=(1,)),
    Stage('miniature', 'Refine3D_Local', 5, (
        # true particles, angles and defocus, the map they give: a start from the truth
        _mini_refine('CtfRefine/job011/particles_ctf_refine.star',
                     'Refine3D/job008/run_class001.mrc',
                     '--ini_high 20 --healpix_order 3 --auto_local_healpix_order 3',
                     true_start=True),
        _mini_mask(),
        _MINI_POSTPROCESS,
    ), (*_MINI_INPUTS, 'CtfRefine/job011/particles_ctf_refine.star',
        'Refine3D/job008/run_class001.mrc'), 48, 3.0, cpu_scales=('3x1',), gpu_scales=(1,)),
    Stage('miniature', 'Polish', 6, (
        Step('polish_train', 'relion_motion_refine',
             f'{_MINI_POLISH_IO} --o {{out}}/Polish_t/ --min_p 1000 --eval_frac 0.5 '
             '--align_frac 0.5 --params3 --par_iters 8',
             ('{out}/Polish_t/opt_params_all_groups.txt',), 'polish',
             '{out}/Polish_t/opt_params_all_groups.txt'),
        Step('polish_apply', 'relion_motion_refine',
             f'{_MINI_POLISH_IO} --o {{out}}/Polish/ '
             '--params_file {out}/Polish_t/opt_params_all_groups.txt --combine_frames '
             '--bfac_minfreq 20 --bfac_maxfreq -1',
             ('{out}/Polish/shiny.star',)),
    ), (*_MINI_INPUTS, 'Refine3D/job008/run_data.star', 'PostProcess/job010/postprocess.star',
        'MotionCorr/job002/corrected_micrographs.star'), 48, 3.0,
        cpu_scales=('1x2',), gpu_scales=(1,)),
    # what RELION 4 and 5 users run for 2D: gradient-driven (VDAM), mini-batches of 200
    Stage('miniature', 'Class2D_VDAM', 7, (
        _mini_class2d_vdam('class2d_vdam', 5, 20),
    ), (*_MINI_INPUTS, 'Extract/job004/particles.star'), 48, 3.0,
        cpu_scales=('1x2',), gpu_scales=(1,), needs=ENV_VDAM),
))

# The same stages as one chain: each reads what the stage before it wrote in this run.
CHAIN_INPUTS = {
    'CtfFind/job003/micrographs_ctf.star': '{out}/CtfFind/micrographs_ctf.star',
    'Extract/job004/particles.star': '{out}/Extract/particles.star',
    'Select/job007/particles.star': '{out}/Select/particles.star',
    'CtfRefine/job011/particles_ctf_refine.star': '{out}/CtfRefine/particles_ctf_refine.star',
    'Refine3D/job008/run_class001.mrc': '{out}/Refine3D/run_class001.mrc',
    'Refine3D/job008/run_data.star': '{out}/Refine3D_Local/run_data.star',
    'PostProcess/job010/postprocess.star': '{out}/PostProcess_Local/postprocess.star',
    'MotionCorr/job002/corrected_micrographs.star':
        '{out}/MotionCorr/job002/corrected_micrographs.star',
}
CHAIN_FOLDERS = {
    # RELION finds a micrograph's coordinates by the path after its job folder
    'MotionCorr': {'MotionCorr': 'MotionCorr/job002'},
    # the second refinement must not overwrite the first one's outputs
    'Refine3D_Local': {f: f'{f}_Local' for f in ('Refine3D', 'MaskCreate', 'PostProcess')},
}
"""Output folders renamed inside the chain, per stage."""

_CTFFIND = Step('ctffind', 'relionbench.data.miniature',
                'ctffind --i CtfFind/job003/micrographs_ctf.star '
                '--o {out}/CtfFind/micrographs_ctf.star --motioncorr {out}/MotionCorr/job002',
                ('{out}/CtfFind/micrographs_ctf.star',), python=True, unbanded=SUITE_STEP)


def _chained(step, stage):
    """``step`` of ``stage`` inside the chain: own folders, this run's inputs, unique label."""
    def edit(text):
        for folder, renamed in CHAIN_FOLDERS.get(stage.name, {}).items():
            text = text.replace(f'{{out}}/{folder}/', f'{{out}}/{renamed}/')
        for published, produced in CHAIN_INPUTS.items():     # dataset paths, not {out}/ ones
            text = re.sub(rf'(?<!{{out}}/){re.escape(published)}', produced, text)
        return text
    prefix = stage.name.lower()
    return replace(step, options=edit(step.options), outputs=tuple(map(edit, step.outputs)),
                   prefix=edit(step.prefix), truth_input=edit(step.truth_input),
                   true_start=False,          # every stage starts from this run's outputs
                   label=step.label if step.label.startswith(prefix) else f'{prefix}_{step.label}')


def chain(stages):
    """One stage running ``stages`` in order, each reading this run's earlier outputs (CTFFIND,
    which the miniature does not run, is stood in for after motion correction)."""
    steps = []
    for stage in stages:
        steps += [_chained(step, stage) for step in stage.steps]
        if stage.name == 'MotionCorr':
            steps.append(_CTFFIND)
    inputs = (*_MINI_INPUTS, 'CtfFind/job003/micrographs_ctf.star', 'Picks',
              'Reference/initial_model.mrc')
    return Stage(stages[0].workflow, 'Chain', len(stages), tuple(steps), inputs,
                 stages[0].box_size, stages[0].pixel_size, cpu_scales=('3x1',), gpu_scales=(1,))


MINI_CHAIN = Workflow('mini-chain', 'miniature', 'The miniature as one chain of stages',
                      (chain([s for s in MINIATURE.stages if not s.needs]),))

MINI_RIBOSOME = Workflow('mini-ribosome', 'miniature',
                         "Synthetic miniature of the ribosome benchmark's classifications", (
    Stage('mini-ribosome', 'Class2D', 0, (_mini_class2d('class2d', 4, 3, 6),),
          (*_MINI_INPUTS, 'Extract/job004/particles.star'), 48, 3.0,
          cpu_scales=('1x2',), gpu_scales=(1,)),
    Stage('mini-ribosome', 'Class3D', 1, (_mini_class3d('class3d', 2, 3),),
          (*_MINI_INPUTS, 'Extract/job004/particles.star', 'Reference/initial_model.mrc'),
          48, 3.0, cpu_scales=('1x2',), gpu_scales=(1,)),
))

