"""EMPIAR-10338 rabbit muscle aldolase: stages 0-5, each variant and scale as published."""

import reframe as rfm
from reframe.core.builtins import parameter

from relionbench.run.check import RelionStage
from relionbench.workflows import ALDOLASE


@rfm.simple_test
class Aldolase(RelionStage):
    workflow = ALDOLASE
    case = parameter(ALDOLASE.cases(), fmt=lambda case: str(case))
