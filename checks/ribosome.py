"""Plasmodium ribosome (EMPIAR-10028): RELION's standard 2D and 3D classification benchmark."""

import reframe as rfm
from reframe.core.builtins import parameter

from relionbench.run.check import RelionStage
from relionbench.workflows import RIBOSOME


@rfm.simple_test
class Ribosome(RelionStage):
    workflow = RIBOSOME
    case = parameter(RIBOSOME.cases(), fmt=lambda case: str(case))
