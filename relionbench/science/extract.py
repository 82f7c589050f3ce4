"""The science metrics of a step, read from the files RELION wrote (every value by STAR
label), and for the miniature its scores against the ground truth (relionbench.science.truth).
"""

from pathlib import Path

from relionbench.constants import OUT
from relionbench.science import star, truth


def classification(prefix):
    """Class2D/Class3D: resolution, number of classes, classes holding more than 2 %, and the
    average probability of each particle's best assignment (``_rlnAveragePmax``)."""
    blocks = star.blocks(star.last_iteration(prefix))
    general, classes = blocks['model_general'], blocks['model_classes']
    occupancy = classes['rlnClassDistribution'].astype(float)
    return {'resolution': star.single(general, 'rlnCurrentResolution'),
            'nr_classes': int(star.single(general, 'rlnNrClasses')),
            'classes_above_2pct': int((occupancy > 0.02).sum()),
            'average_pmax': star.single(general, 'rlnAveragePmax')}


def refinement(prefix):
    """Refine3D: resolution and the accuracy of rotations and translations."""
    blocks = star.blocks(f'{prefix}_model.star')
    classes = blocks['model_classes']
    translation = next(c for c in ('rlnAccuracyTranslationsAngst', 'rlnAccuracyTranslations')
                       if c in classes)
    return {'resolution': star.single(blocks['model_general'], 'rlnCurrentResolution'),
            'acc_rotation': float(classes['rlnAccuracyRotations'].iloc[0]),
            'acc_translation': float(classes[translation].iloc[0])}


def postprocess(prefix):
    """PostProcess: final resolution, sharpening B-factor, RELION's box/solvent-mask ratio."""
    general = star.blocks(f'{prefix}.star')['general']
    return {'final_resolution': star.single(general, 'rlnFinalResolution'),
            'bfactor': star.single(general, 'rlnBfactorUsedForSharpening'),
            'solvent_mask_fraction': star.single(general, 'rlnParticleBoxFractionSolventMask')}


def ctf_refine(path):
    """CtfRefine: the beam tilt of the first optics group."""
    optics = star.blocks(path)['optics']
    return {'beam_tilt_x': float(optics['rlnBeamTiltX'].iloc[0]),
            'beam_tilt_y': float(optics['rlnBeamTiltY'].iloc[0])}


def polish(path):
    """Polish training: the three optimised parameters, in RELION's order."""
    values = Path(path).read_text().split()
    if len(values) < 3:
        raise ValueError(f'{path}: expected 3 parameters, found {len(values)}')
    return dict(zip(('sigma_vel', 'sigma_div', 'sigma_acc'), map(float, values[:3])))


def extraction(path):
    """Re-extraction: pixel and box size of the new particles."""
    optics = star.blocks(path)['optics']
    return {'pixel_size': float(optics['rlnImagePixelSize'].iloc[0]),
            'box_size': int(optics['rlnImageSize'].iloc[0])}


EXTRACTORS = {f.__name__: f for f in (classification, refinement, postprocess, ctf_refine,
                                      polish, extraction)}


def science(step, root='.'):
    """The science metrics of ``step`` (a relionbench.workflows.Step), keyed by full name: RELION's
    own, and for the miniature the scores against the truth in ``<root>/truth``."""
    values = {}
    if step.science:
        values.update(EXTRACTORS[step.science](Path(root) / step.prefix.format(out=OUT)))
    if step.truth:
        scores = truth.SCORERS[step.truth](Path(root) / step.truth_input.format(out=OUT),
                                           Path(root) / 'truth')
        if step.true_start:         # the stage's inputs carry the true answer
            scores = {k.replace('truth_', 'true_start_', 1): v for k, v in scores.items()}
        values.update(scores)
    return {f'{step.label}_{k}': v for k, v in values.items()}
