"""The synthetic miniature: every aldolase stage, and the ribosome classifications, on data
generated once per session with a known ground truth (the default on any machine)."""

import reframe as rfm
from reframe.core.builtins import fixture, parameter, run_after, variable

from relionbench.run.fixtures import MiniatureData
from relionbench.run.miniature import MiniatureStage
from relionbench.workflows import MINI_CHAIN, MINI_RIBOSOME, MINIATURE


@rfm.simple_test
class Miniature(MiniatureStage):
    workflow = MINIATURE
    case = parameter(MINIATURE.cases(), fmt=lambda case: str(case))
    data = fixture(MiniatureData, scope='session')


@rfm.simple_test
class MiniRibosome(MiniatureStage):
    workflow = MINI_RIBOSOME
    case = parameter(MINI_RIBOSOME.cases(), fmt=lambda case: str(case))
    data = fixture(MiniatureData, scope='session')


@rfm.simple_test
class MiniatureChain(MiniatureStage):
    """Every stage in one job, each reading the one before. Opt-in: it runs only with
    ``-S MiniatureChain.opt_in=yes``."""

    workflow = MINI_CHAIN
    case = parameter(MINI_CHAIN.cases(), fmt=lambda case: str(case))
    data = fixture(MiniatureData, scope='session')
    #: Run the chain (about 4 minutes on 2 cores); it is left out otherwise
    opt_in = variable(bool, value=False)

    @run_after('init')
    def only_when_asked(self):
        if not self.opt_in:
            self.valid_systems = []
