"""The machine calibration that lets the local time references travel."""

import json
import os

import pytest

from relionbench.machine import calibration
from relionbench.run.layouts import Layout
from relionbench.workflows import MINIATURE


@pytest.mark.parametrize('stage,label,layout,busy', [
    ('Class2D', 'class2d', Layout(1, 2), 2),            # relion_refine --j 2
    ('Extract', 'extract', Layout(1, 2), 1),            # relion_preprocess: serial
    ('Refine3D_CtfRefine', 'refine', Layout(3, 1), 1.5),  # leader + 2 waiting followers
    ('Refine3D_CtfRefine', 'mask', Layout(3, 1), 1),    # --j 1
    ('Class3D', 'pick', Layout(1, 2), 1),               # the suite's own Python
])
def test_busy_processes_per_step(stage, label, layout, busy):
    assert calibration.busy(MINIATURE.stage(stage).step(label), layout) == busy


REFERENCE = {'seconds': 0.6, 'cores': 2}


def test_half_the_cores_doubles_only_what_kept_both_busy():
    one_core = {'seconds': 0.6, 'cores': 1}
    assert calibration.factor(one_core, REFERENCE, 1) == 1.0
    assert calibration.factor(one_core, REFERENCE, 2) == 2.0
    assert calibration.factor(one_core, REFERENCE, 4) == 2.0      # 4 on 1 core, 4 on 2
    assert calibration.factor({}, REFERENCE, 2) == 1.0


def test_slower_cores_scale_every_step_faster_ones_none():
    assert calibration.factor({'seconds': 0.5, 'cores': 2}, REFERENCE, 2) == 1.0    # faster
    assert calibration.factor({'seconds': 0.29, 'cores': 2}, REFERENCE, 1) == 1.0   # by half
    assert calibration.factor({'seconds': 0.7, 'cores': 2}, REFERENCE, 2) == \
        pytest.approx(0.7 / REFERENCE['seconds'])                   # slower: always scaled
    assert calibration.factor({'seconds': 1.2, 'cores': 2}, REFERENCE, 1) == \
        pytest.approx(2.0)
    assert calibration.factor({'seconds': 0.4, 'cores': 4}, REFERENCE, 2) == 1.0


def test_the_workload_writes_what_it_measured(tmp_path):
    out = tmp_path / 'c.json'
    assert calibration.main(['--repeats', '1', '--out', str(out)]) == 0
    found = calibration.read(out)
    assert 0.01 < found['seconds'] < 30 and found['cores'] == len(os.sched_getaffinity(0))
    assert json.loads(out.read_text())['rounds'] == calibration.ROUNDS
    assert calibration.read(tmp_path / 'absent.json') == {}
