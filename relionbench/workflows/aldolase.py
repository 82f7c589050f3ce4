"""EMPIAR-10338 rabbit muscle aldolase: each stage as published, from the project's
published intermediate files."""

from relionbench.workflows.model import Stage, Step, Workflow

_REFINE = ('--auto_refine --split_random_halves --ini_high 30 --pad 1 --skip_gridding --ctf '
           '--ctf_corrected_ref --particle_diameter 120 --flatten_solvent --zero_mask '
           '--oversampling 1 --healpix_order 2 --auto_local_healpix_order 4 --offset_range 5 '
           '--offset_step 2 --sym D2 --low_resol_join_halves 40 --norm --scale --random_seed 0')
REFINED = ('{out}/Refine3D/run_class001.mrc', '{out}/Refine3D/run_half1_class001_unfil.mrc',
            '{out}/Refine3D/run_half2_class001_unfil.mrc', '{out}/Refine3D/run_data.star',
            '{out}/Refine3D/run_model.star')
_POSTPROCESS = ('--mask {out}/MaskCreate/mask.mrc --i {out}/Refine3D/run_half1_class001_unfil.mrc '
                '--o {out}/PostProcess/postprocess --angpix -1 --mtf mtf_k2_200kV.star '
                '--mtf_angpix 0.56 --auto_bfac --autob_lowres 10')


def _refine(inp, ref, extra=''):
    return Step('refine', 'relion_refine_mpi',
                f'--o {{out}}/Refine3D/run {_REFINE} --i {inp} --ref {ref} {extra}'.strip(),
                REFINED, 'refinement', '{out}/Refine3D/run')


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


