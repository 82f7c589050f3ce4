"""The machine calibration that lets the local time references travel."""

import json

import pytest

from relionbench import calibration
from relionbench.stages import MINIATURE
from relionbench.tuning import Layout


@pytest.mark.parametrize('stage,label,layout,busy', [
    ('Class2D', 'class2d', Layout(1, 2), 2),            # relion_refine --j 2
    ('Extract', 'extract', Layout(1, 2), 1),            # relion_preprocess: serial
    ('Refine3D_CtfRefine', 'refine', Layout(3, 1), 2),  # leader + 2 followers
    ('Refine3D_CtfRefine', 'mask', Layout(3, 1), 1),    # --j 1
    ('Class3D', 'pick', Layout(1, 2), 1),               # the suite's own Python
])
def test_busy_processes_per_step(stage, label, layout, busy):
    assert calibration.busy(MINIATURE.stage(stage).step(label), layout) == busy


def test_factor_is_the_ratio_for_the_same_number_of_processes():
    measured, reference = {1: 1.1, 2: 2.2}, {'1': 1.0, '2': 1.1}
    assert calibration.factor(measured, reference, 1) == pytest.approx(1.1)
    assert calibration.factor(measured, reference, 2) == pytest.approx(2.0)
    assert calibration.factor(measured, reference, 8) == pytest.approx(2.0)   # nearest: 2
    assert calibration.factor({}, reference, 2) == 1.0


def test_the_workload_writes_what_it_measured(tmp_path):
    out = tmp_path / 'c.json'
    assert calibration.main(['--workers', '1', '--repeats', '1', '--out', str(out)]) == 0
    seconds = calibration.read(out)
    assert list(seconds) == [1] and 0.05 < seconds[1] < 30
    assert json.loads(out.read_text())['rounds'] == calibration.ROUNDS
    assert calibration.read(tmp_path / 'absent.json') == {}
