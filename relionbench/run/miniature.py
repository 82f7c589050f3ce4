"""The check behind every miniature stage: its dataset from the MiniatureData fixture, its
time references following this machine through the Calibration fixture."""

from pathlib import Path

from reframe.core.builtins import fixture, run_after, variable

from relionbench import workflows
from relionbench.constants import X_CALIBRATE
from relionbench.data import datasets, sizes
from relionbench.machine import calibration
from relionbench.run.check import RelionStage
from relionbench.run.fixtures import Calibration, MiniatureData


class MiniatureStage(RelionStage):
    """A stage of a miniature workflow: its dataset comes from the MiniatureData fixture, its
    time references follow this machine through the Calibration fixture."""

    time_limit = '30m'
    #: A miniature made or altered elsewhere (a folder as its data job writes it) instead of
    #: the session's; ``-S dataset_dir`` is for the real workflows' data and leaves the
    #: miniature its own
    miniature_dir = variable(str, value='')
    #: The partition's calibration job, whose time scales the time references
    machine = fixture(Calibration, scope='partition')

    @property
    def size(self):
        """The data fixture's size preset (the default until the fixture is resolved)."""
        data = getattr(self, 'data', None)
        return sizes.Size.parse(data.size) if isinstance(data, MiniatureData) \
            else sizes.Size()

    @property
    def stage(self):
        return self.tried(workflows.sized(self.case.stage, self.size))

    @run_after('setup')
    def name_dataset(self):
        """A resized miniature is another dataset: its runs have their own history."""
        self.dataset_id = self.size.dataset(self.workflow.dataset) + self.trial_suffix()

    def no_reference(self):
        return self.trial_reason() or (
            '' if self.size.default else
            f'the references are for the small miniature, this is {self.size}')

    def default_dataset(self):
        return Path(self.data.stagedir)

    def dataset_folder(self):
        """``miniature_dir`` where set, else the data job's (never ``dataset_dir``)."""
        return (datasets.locate(self.workflow.dataset, self.miniature_dir)
                if self.miniature_dir else self.default_dataset())

    def missing_hint(self, missing):
        return (f'the miniature at {self.dataset} lacks {missing[0]}: its data job '
                '(MiniatureData) did not make it; see that job\'s output, or run '
                '"relionbench mini generate --out DIR" to see why')

    def time_factors(self, entry):
        if not entry.calibration or not self.current_partition.extras.get(X_CALIBRATE):
            return {}
        measured = calibration.read(Path(self.machine.stagedir, calibration.FILE))
        if not measured:
            return {}
        return {s.label: calibration.factor(measured, entry.calibration,
                                            calibration.busy(s, self.layout))
                for s in self.stage.steps}
