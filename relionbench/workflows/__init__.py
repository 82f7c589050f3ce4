"""The stage tables: every RELION step of every benchmark stage, as published.

A stage is a list of steps run in order inside one job. Paths in the options are
relative to the dataset (a RELION project, linked into the stage directory);
``{out}`` is the folder that receives this run's outputs, so every step after the
first reads what this run has just produced, never a published intermediate. The
miniature's tables also name what its size preset sets (``{box}``, ``{bg_radius}``,
``{apix}``, ``{offset_range}``, ``{offset_step}``; ``sized``), the default preset unless
resized.
"""

import posixpath
import re
import shlex
from dataclasses import dataclass, field, replace

from relionbench.builds import releases
from relionbench.constants import CPU_ALTCPU, CPU_PLAIN, ENV_VDAM, GPU, OUT
from relionbench.data.sizes import Size

THREADED = {'relion_refine', 'relion_refine_mpi', 'relion_ctf_refine', 'relion_ctf_refine_mpi',
            'relion_motion_refine', 'relion_motion_refine_mpi', 'relion_mask_create',
            'relion_run_motioncorr', 'relion_run_motioncorr_mpi'}
"""Programs that take ``--j``."""

OUTPUT_FLAGS = ('--o', '--odir', '--part_dir')
GPU_SCALES = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class Step:
    """One RELION program call."""

    label: str                      #: metric prefix, unique in its stage
    program: str                    #: RELION executable
    options: str                    #: science options exactly as published
    outputs: tuple = ()             #: files that must exist and parse afterwards
    science: str = ''               #: metric extractor in relionbench.science.metrics ('' for none)
    prefix: str = ''                #: output prefix the extractor reads
    truth: str = ''                 #: ground-truth scorer in relionbench.science.truth (miniature)
    truth_input: str = ''           #: output the truth scorer reads
    python: bool = False            #: ``program`` is a relionbench module run with Python
    true_start: bool = False        #: its inputs carry the truth: scores read ``true_start_``
    unbanded: tuple = ()            #: metrics (suffixes) no input moves: recorded, not judged

    @property
    def mpi(self):
        return self.program.endswith('_mpi')

    @property
    def threaded(self):
        return self.program in THREADED

    @property
    def refine(self):
        """relion_refine takes the accelerator, --pool and scratch options."""
        return self.program.startswith('relion_refine')

    def args(self, release=''):
        """The options as ``release`` takes them (relionbench.builds.releases; '' : as published)."""
        options = self.options.format(out=OUT, **Size().options)
        return releases.adapt(self.program, shlex.split(options), release)

    def output_dirs(self):
        """Folders RELION expects to exist before it starts (it does not create them)."""
        args, dirs = self.args(), []
        for flag, value in zip(args, args[1:]):
            if flag in OUTPUT_FLAGS:
                dirs.append(value.rstrip('/') if value.endswith('/') else posixpath.dirname(value))
        return [d for d in dirs if d]

    def output_files(self):
        return [o.format(out=OUT) for o in self.outputs]


@dataclass(frozen=True)
class Stage:
    """A benchmark stage: independent, it starts from the dataset's published files."""

    workflow: str
    name: str
    index: int
    steps: tuple
    inputs: tuple                   #: dataset files the stage reads
    box_size: int                   #: px, for Fourier-shell tolerances
    pixel_size: float               #: A
    cpu_scales: tuple = ('23x4',)   #: tasks x threads, as published
    gpu_scales: tuple = GPU_SCALES
    needs: str = ''                 #: a feature its build must have (relionbench.builds)

    def step(self, label):
        return next(s for s in self.steps if s.label == label)

    @property
    def accelerated(self):
        """Whether a step takes RELION's accelerator flags (--cpu, --gpu): relion_refine."""
        return any(s.refine for s in self.steps)


@dataclass(frozen=True)
class Case:
    """One generated check: a stage run with one accelerator variant at one scale."""

    stage: Stage
    variant: str
    scale: str

    def __str__(self):
        return f'{self.stage.name}/{self.variant}/{self.scale}'

    @property
    def num_gpus(self):
        return int(self.scale[:-3]) if self.variant == GPU else 0


@dataclass(frozen=True)
class Workflow:
    name: str
    dataset: str                    #: dataset id (folder under the data root)
    description: str
    stages: tuple = field(default=())

    def stage(self, name):
        return next(s for s in self.stages if s.name == name)

    def cases(self, variants=(GPU, CPU_ALTCPU, CPU_PLAIN)):
        """Every stage x variant x scale, GPU scales in GPUs, CPU scales in tasks x threads;
        no cpu-altcpu for a stage without relion_refine (it would be cpu-plain again)."""
        cases = []
        for stage in self.stages:
            for variant in variants:
                if variant == CPU_ALTCPU and not stage.accelerated:
                    continue
                scales = ([f'{n}gpu' for n in stage.gpu_scales] if variant == GPU
                          else list(stage.cpu_scales))
                cases += [Case(stage, variant, scale) for scale in scales]
        return cases


# -- EMPIAR-10338 rabbit muscle aldolase -------------------------------------------------

_REFINE = ('--auto_refine --split_random_halves --ini_high 30 --pad 1 --skip_gridding --ctf '
           '--ctf_corrected_ref --particle_diameter 120 --flatten_solvent --zero_mask '
           '--oversampling 1 --healpix_order 2 --auto_local_healpix_order 4 --offset_range 5 '
           '--offset_step 2 --sym D2 --low_resol_join_halves 40 --norm --scale --random_seed 0')
_REFINED = ('{out}/Refine3D/run_class001.mrc', '{out}/Refine3D/run_half1_class001_unfil.mrc',
            '{out}/Refine3D/run_half2_class001_unfil.mrc', '{out}/Refine3D/run_data.star',
            '{out}/Refine3D/run_model.star')
_POSTPROCESS = ('--mask {out}/MaskCreate/mask.mrc --i {out}/Refine3D/run_half1_class001_unfil.mrc '
                '--o {out}/PostProcess/postprocess --angpix -1 --mtf mtf_k2_200kV.star '
                '--mtf_angpix 0.56 --auto_bfac --autob_lowres 10')


def _refine(inp, ref, extra=''):
    return Step('refine', 'relion_refine_mpi',
                f'--o {{out}}/Refine3D/run {_REFINE} --i {inp} --ref {ref} {extra}'.strip(),
                _REFINED, 'refinement', '{out}/Refine3D/run')


def _mask(threshold, soft_edge):
    return Step('mask', 'relion_mask_create',
                '--i {out}/Refine3D/run_class001.mrc --o {out}/MaskCreate/mask.mrc --lowpass 15 '
                f'--ini_threshold {threshold} --extend_inimask 0 --width_soft_edge {soft_edge}',
                ('{out}/MaskCreate/mask.mrc',))


POSTPROCESS = Step('postprocess', 'relion_postprocess', _POSTPROCESS,
                   ('{out}/PostProcess/postprocess.star', '{out}/PostProcess/postprocess.mrc'),
                   'postprocess', '{out}/PostProcess/postprocess')

_POLISH_IO = ('--i Refine3D/job057/run_data.star --f PostProcess/job059/postprocess.star '
              '--corr_mic MotionCorr/job005/corrected_micrographs.star --first_frame 1 '
              '--last_frame -1')

ALDOLASE = Workflow('aldolase', 'empiar-10338', 'EMPIAR-10338 rabbit muscle aldolase', (
    Stage('aldolase', 'Class2D', 0, (
        Step('class2d', 'relion_refine_mpi',
             '--o {out}/Class2D/run --i Extract/job024/particles.star --pad 2 --ctf --iter 25 '
             '--tau2_fudge 2 --particle_diameter 120 --fast_subsets --K 100 --flatten_solvent '
             '--zero_mask --oversampling 1 --psi_step 12 --offset_range 5 --offset_step 2 --norm '
             '--scale --random_seed 0',
             ('{out}/Class2D/run_it025_model.star', '{out}/Class2D/run_it025_data.star',
              '{out}/Class2D/run_it025_classes.mrcs'),
             'classification', '{out}/Class2D/run'),
    ), ('Extract/job024/particles.star',), 256, 1.12),
    Stage('aldolase', 'Class3D', 1, (
        Step('class3d', 'relion_refine_mpi',
             '--o {out}/Class3D/run --i Select/job032/particles.star '
             '--ref Import/job033/run_class001_rescaled.mrc --firstiter_cc --ini_high 30 --pad 1 '
             '--skip_gridding --ctf --ctf_corrected_ref --iter 25 --tau2_fudge 2 '
             '--particle_diameter 120 --fast_subsets --K 4 --flatten_solvent --zero_mask '
             '--strict_highres_exp 7 --solvent_mask MaskCreate/job038/mask.mrc --oversampling 1 '
             '--healpix_order 2 --offset_range 5 --offset_step 2 --sym D2 --norm --scale '
             '--random_seed 0',
             ('{out}/Class3D/run_it025_model.star', '{out}/Class3D/run_it025_data.star',
              '{out}/Class3D/run_it025_class002.mrc'),
             'classification', '{out}/Class3D/run'),
        Step('select', 'relion_star_handler',
             '--i {out}/Class3D/run_it025_data.star --o {out}/Select/particles.star '
             '--select rlnClassNumber --minval 2 --maxval 2',
             ('{out}/Select/particles.star',)),
    ), ('Select/job032/particles.star', 'Import/job033/run_class001_rescaled.mrc',
        'MaskCreate/job038/mask.mrc'), 256, 1.12),
    Stage('aldolase', 'Refine3D_CtfRefine', 2, (
        _refine('Select/job042/particles.star', 'Class3D/job039/run_it025_class002.mrc'),
        _mask(0.007, 5),
        POSTPROCESS,
        Step('ctf_refine', 'relion_ctf_refine_mpi',
             '--i {out}/Refine3D/run_data.star --f {out}/PostProcess/postprocess.star '
             '--o {out}/CtfRefine/ --fit_defocus --kmin_defocus 30 --fit_mode fpmff '
             '--fit_beamtilt --kmin_tilt 30',
             ('{out}/CtfRefine/particles_ctf_refine.star',), 'ctf_refine',
             '{out}/CtfRefine/particles_ctf_refine.star'),
    ), ('Select/job042/particles.star', 'Class3D/job039/run_it025_class002.mrc',
        'mtf_k2_200kV.star'), 256, 1.12),
    Stage('aldolase', 'Refine3D_Reextract', 3, (
        _refine('CtfRefine/job050/particles_ctf_refine.star', 'Refine3D/job043/run_class001.mrc'),
        _mask(0.007, 5),
        POSTPROCESS,
        Step('reextract', 'relion_preprocess_mpi',
             '--i Select/job009/micrographs.star '
             '--reextract_data_star {out}/Refine3D/run_data.star '
             '--recenter --recenter_x 0 --recenter_y 0 --recenter_z 0 '
             '--part_star {out}/Extract/particles.star --part_dir {out}/Extract/ --extract '
             '--extract_size 512 --norm --bg_radius 192 --white_dust -1 --black_dust -1 '
             '--invert_contrast',
             ('{out}/Extract/particles.star',), 'extraction', '{out}/Extract/particles.star'),
        Step('import', 'relion_import',
             '--do_other --i Refine3D/job051/run_class001_rescaled.mrc --odir {out}/Import/ '
             '--ofile run_class001_rescaled.mrc',
             ('{out}/Import/run_class001_rescaled.mrc',)),
        Step('remove_duplicates', 'relion_star_handler',
             '--i {out}/Extract/particles.star --o {out}/Select/particles.star '
             '--remove_duplicates 30 --image_angpix 0.56',
             ('{out}/Select/particles.star',)),
    ), ('CtfRefine/job050/particles_ctf_refine.star', 'Refine3D/job043/run_class001.mrc',
        'Select/job009/micrographs.star', 'Refine3D/job051/run_class001_rescaled.mrc',
        'mtf_k2_200kV.star'), 256, 1.12),
    Stage('aldolase', 'Refine3D_Full', 4, (
        _refine('Select/job056/particles.star', 'Import/job055/run_class001_rescaled.mrc',
                '--firstiter_cc'),
        _mask(0.001, 8),
        POSTPROCESS,
    ), ('Select/job056/particles.star', 'Import/job055/run_class001_rescaled.mrc',
        'mtf_k2_200kV.star'), 512, 0.56),
    Stage('aldolase', 'Polish', 5, (
        Step('polish_train', 'relion_motion_refine',
             f'{_POLISH_IO} --o {{out}}/Polish_t/ --min_p 10000 --eval_frac 0.5 '
             '--align_frac 0.5 --params3',
             ('{out}/Polish_t/opt_params_all_groups.txt',), 'polish',
             '{out}/Polish_t/opt_params_all_groups.txt'),
        Step('polish_apply', 'relion_motion_refine_mpi',
             f'{_POLISH_IO} --o {{out}}/Polish/ '
             '--params_file {out}/Polish_t/opt_params_all_groups.txt --combine_frames '
             '--bfac_minfreq 20 --bfac_maxfreq -1',
             ('{out}/Polish/shiny.star',)),
    ), ('Refine3D/job057/run_data.star', 'PostProcess/job059/postprocess.star',
        'MotionCorr/job005/corrected_micrographs.star'), 512, 0.56,
        cpu_scales=('2x4',)),
))


# -- Plasmodium ribosome (RELION's standard benchmark, EMPIAR-10028) ------------------------

_CONVERT = Step('convert', 'relion_convert_star',
                '--i Particles/shiny_2sets.star --o {out}/shiny_2sets_3.1.star',
                ('{out}/shiny_2sets_3.1.star',))

RIBOSOME = Workflow('ribosome', 'relion-benchmark', 'Plasmodium ribosome (EMPIAR-10028)', (
    Stage('ribosome', 'Class2D', 0, (
        _CONVERT,
        Step('class2d', 'relion_refine_mpi',
             '--i {out}/shiny_2sets_3.1.star --ctf --iter 25 --tau2_fudge 2 '
             '--particle_diameter 360 --K 200 --zero_mask --oversampling 1 --psi_step 6 '
             '--offset_range 5 --offset_step 2 --norm --scale --random_seed 0 '
             '--o {out}/Class2D/run',
             ('{out}/Class2D/run_it025_model.star', '{out}/Class2D/run_it025_data.star'),
             'classification', '{out}/Class2D/run'),
    ), ('Particles/shiny_2sets.star',), 360, 1.34),
    Stage('ribosome', 'Class3D', 1, (
        _CONVERT,
        Step('class3d', 'relion_refine_mpi',
             '--i {out}/shiny_2sets_3.1.star --ref emd_2660.map:mrc --firstiter_cc --ini_high 60 '
             '--ctf --ctf_corrected_ref --iter 25 --tau2_fudge 4 --particle_diameter 360 --K 6 '
             '--flatten_solvent --zero_mask --oversampling 1 --healpix_order 2 --offset_range 5 '
             '--offset_step 2 --sym C1 --norm --scale --random_seed 0 --o {out}/Class3D/run',
             ('{out}/Class3D/run_it025_model.star', '{out}/Class3D/run_it025_data.star'),
             'classification', '{out}/Class3D/run'),
    ), ('Particles/shiny_2sets.star', 'emd_2660.map'), 360, 1.34),
))



# -- Miniature: the aldolase workflow on synthetic data (relionbench.data.miniature) ---------------
# Settings measured on 2 cores (MINIATURE.md): serial programs with --j 2 where RELION allows
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
                _REFINED, 'refinement', '{out}/Refine3D/run',
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

WORKFLOWS = {w.name: w for w in (ALDOLASE, RIBOSOME, MINIATURE, MINI_RIBOSOME, MINI_CHAIN)}

CHECK_WORKFLOWS = {'Aldolase': ALDOLASE, 'Ribosome': RIBOSOME, 'Miniature': MINIATURE,
                   'MiniRibosome': MINI_RIBOSOME, 'MiniatureChain': MINI_CHAIN}
"""Each check class in checks/ and the workflow it runs (results name checks by class)."""


def sized(stage, size):
    """``stage`` of the miniature at a size preset (``sizes.Size``): its size options
    filled in (``{out}`` kept for ``Step.args``), its box and pixel size the preset's."""
    if size.default:
        return stage
    steps = tuple(replace(s, options=s.options.format(out='{out}', **size.options))
                  for s in stage.steps)
    return replace(stage, steps=steps, box_size=size.box, pixel_size=size.apix)


def box_length(check, stage):
    """Box size x pixel size (A) of a check's stage, for Fourier shells; None if unknown."""
    workflow = CHECK_WORKFLOWS.get(check)
    found = [s for s in workflow.stages if s.name == stage] if workflow else []
    return found[0].box_size * found[0].pixel_size if found else None


def stage_order(check, found):
    """Stages in the order of the check's workflow (unknown ones last, as found)."""
    workflow = CHECK_WORKFLOWS.get(check)
    names = [s.name for s in workflow.stages] if workflow else []
    return sorted(found, key=lambda s: names.index(s) if s in names else len(names))


ITER = re.compile(r'--iter (\d+)')


def iterations(stage):
    """The ``--iter`` of the stage's relion_refine steps (None: auto-refine or none)."""
    found = [int(m.group(1)) for s in stage.steps if s.refine
             for m in [ITER.search(s.options)] if m]
    return found[0] if found else None


def trial(stage, tasks, iterations_=None):
    """``stage`` run by ``tasks`` MPI ranks (relion_refine as ``relion_refine_mpi`` above one,
    and back), and with ``iterations_`` instead of its ``--iter``: its outputs and the steps
    that read them follow (``_itNNN_``). For short trials (relionbench.longrun.tune)."""
    now = iterations(stage)

    def adapt(text):
        if iterations_ is None or now is None:
            return text
        return ITER.sub(f'--iter {iterations_}', text).replace(f'_it{now:03d}_',
                                                                f'_it{iterations_:03d}_')

    steps = []
    for s in stage.steps:
        program = s.program
        if s.refine and '--auto_refine' not in s.options:
            program = 'relion_refine_mpi' if tasks > 1 else 'relion_refine'
        steps.append(replace(s, program=program, options=adapt(s.options),
                             outputs=tuple(adapt(o) for o in s.outputs)))
    return replace(stage, steps=tuple(steps))
