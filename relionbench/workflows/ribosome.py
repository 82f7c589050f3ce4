"""The Plasmodium ribosome (EMPIAR-10028): RELION's standard benchmark."""

from relionbench.workflows.model import Stage, Step, Workflow

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



