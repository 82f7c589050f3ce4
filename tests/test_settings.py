"""The checks' ``-S`` settings refused before anything runs, with one line saying what to
give (relionbench.run.settings, read by config/common.py)."""

import pytest
from conftest import reframe

from relionbench.run import settings


@pytest.mark.parametrize('given,said', [
    ('time_tolerance=-1', '-S time_tolerance=-1: give a relative tolerance above 0'),
    ('time_tolerance=abc', '-S time_tolerance=abc: not a number'),
    ('Miniature.resolution_shells=-2', '-S resolution_shells=-2: give a number of Fourier '
                                       'shells from 0 to 50'),
    ('run_iterations=-1', '-S run_iterations=-1: give 0'),
    ('run_layout=3y1', "-S run_layout=3y1: layout '3y1' must read TASKSxTHREADS"),
])
def test_an_out_of_range_setting_is_one_line(given, said):
    assert settings.problem(['-r', '-S', given]).startswith(said)


def test_good_settings_pass():
    assert settings.problem(['-S', 'time_tolerance=0.2', '--setvar=run_layout=1x2:60',
                             '-S', 'Aldolase.dataset_dir=/x', '-S', 'resolution_shells=0']) == ''


def test_reframe_stops_before_anything_runs(tmp_path):
    result = reframe('--dry-run', '--system', 'local', '-n', 'Miniature.*MotionCorr',
                     '-S', 'time_tolerance=-1', runs=tmp_path)
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if 'ERROR' in line]
    assert len(errors) == 1 and 'failed to load configuration: -S time_tolerance=-1: give' \
        in errors[0], result.stdout[-2000:]


def test_a_dataset_dir_for_every_workflow_leaves_the_miniature_its_own(tmp_path):
    result = reframe('--dry-run', '--system', 'local', '-n', 'Miniature.*MotionCorr',
                     '-S', 'dataset_dir=/nowhere', runs=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    script = next(tmp_path.glob('stage/*/local/*/*/Miniature_*/rfm_job.sh')).read_text()
    assert '/nowhere' not in script and '/MiniatureData_' in script
