"""The workflows the checks run, by name and by check class; the stage model and the tables
are in the modules of this package (model, aldolase, ribosome, miniature).
"""

from relionbench.workflows.aldolase import ALDOLASE, POSTPROCESS
from relionbench.workflows.miniature import MINI_CHAIN, MINI_RIBOSOME, MINIATURE
from relionbench.workflows.model import GPU, Case, Stage, Step, Workflow, iterations, sized, trial
from relionbench.workflows.ribosome import RIBOSOME

__all__ = ['ALDOLASE', 'CHECK_WORKFLOWS', 'GPU', 'MINIATURE', 'MINI_CHAIN', 'MINI_RIBOSOME',
           'POSTPROCESS', 'RIBOSOME', 'WORKFLOWS', 'Case', 'Stage', 'Step', 'Workflow',
           'box_length', 'iterations', 'sized', 'stage_order', 'trial']

WORKFLOWS = {w.name: w for w in (ALDOLASE, RIBOSOME, MINIATURE, MINI_RIBOSOME, MINI_CHAIN)}

CHECK_WORKFLOWS = {'Aldolase': ALDOLASE, 'Ribosome': RIBOSOME, 'Miniature': MINIATURE,
                   'MiniRibosome': MINI_RIBOSOME, 'MiniatureChain': MINI_CHAIN}
"""Each check class in checks/ and the workflow it runs (results name checks by class)."""


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


