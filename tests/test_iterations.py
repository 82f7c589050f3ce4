"""Per-iteration timings, the progress of a running job (relionbench watch) and the layout
model of relionbench tune, on files laid out as RELION and the job script write them."""

import json
import os

import pytest

from relionbench import workflows
from relionbench.longrun import tune, watch
from relionbench.run import records
from relionbench.science import iterations
from relionbench.workflows import MINIATURE

T0 = 1_800_000_000.0


def _write(folder, name, when):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('x')
    os.utime(path, (when, when))


def test_em_iterations_are_timed_from_their_files(tmp_path):
    for number, when in ((0, 2), (1, 12), (2, 18), (3, 21)):
        for kind in ('data.star', 'model.star', 'classes.mrcs'):
            _write(tmp_path, f'Class2D/run_it{number:03d}_{kind}', T0 + when)
    setup, found = iterations.timings(tmp_path / 'Class2D/run', T0)
    assert setup == 2 and [i.seconds for i in found] == [10, 6, 3]
    assert iterations.summary(found) == {'median_iteration': 6, 'slowest_iteration': 10,
                                         'iterations': 3}


def test_vdam_iterations_written_every_tenth_are_averaged_over_their_block(tmp_path):
    for number, when in ((0, 1), (10, 41), (20, 61), (25, 76)):
        _write(tmp_path, f'run_it{number:03d}_model.star', T0 + when)
    _, found = iterations.timings(tmp_path / 'run', T0)
    assert len(found) == 25 and {i.seconds for i in found[:10]} == {4.0}
    assert {i.seconds for i in found[10:20]} == {2.0}
    assert found[-1].block == 5 and found[-1].seconds == 3.0


def test_auto_refine_s_last_iteration_is_its_files_without_a_number(tmp_path):
    for number in range(4):
        _write(tmp_path, f'run_it{number:03d}_half1_model.star', T0 + 1 + 5 * number)
    _write(tmp_path, 'run_model.star', T0 + 30)
    args = ['--o', 'run', '--auto_refine', '--split_random_halves']
    setup, found = iterations.of_step(tmp_path, args, T0)
    assert setup == 1 and [i.number for i in found] == [1, 2, 3, 4]
    assert found[-1].seconds == 14
    assert 'final\t14.000' in iterations.table(setup, found, found[-1].number)


def test_no_iteration_files_start_from_the_step(tmp_path):
    _write(tmp_path, 'run_it002_model.star', T0 + 8)
    _, found = iterations.timings(tmp_path / 'run', T0)
    assert [i.seconds for i in found] == [4, 4]


def test_progress_and_time_left_of_a_classification(tmp_path):
    for number, when in ((0, 2), (1, 12), (2, 18)):
        _write(tmp_path, f'run_it{number:03d}_model.star', T0 + when)
    log = ' Expectation iteration 1 of 5\n Expectation iteration 2 of 5\n' \
          ' Expectation iteration 3 of 5\n'
    found = iterations.progress(log, tmp_path, ['--o', 'run', '--iter', '5'], T0)
    assert (found.iteration, found.total) == (3, 5)
    # median of 10 and 6 s = 8 s, three left, 2 s already in iteration 3
    assert found.remaining(T0 + 20) == pytest.approx(22)


def test_progress_of_an_auto_refine_says_its_resolution(tmp_path):
    log = (' Expectation iteration 4\n Auto-refine: Iteration= 4\n'
           ' Auto-refine: Resolution= 10.2857 (no gain for 0 iter)\n'
           ' Auto-refine: Refinement has converged, entering last iteration\n')
    found = iterations.progress(log, tmp_path, ['--o', 'run', '--auto_refine'], T0)
    assert (found.iteration, found.total, found.resolution, found.converged) == (
        4, None, 10.2857, True)
    assert found.remaining(T0 + 5) is None


def _job(stagedir, steps, limit=1800):
    (stagedir / 'rb_steps').mkdir(parents=True)
    records.describe_job(stagedir, 'Miniature %case=Class2D/cpu-plain/1x2', limit,
                       [(label, program, args) for label, program, args in steps])


CLASS2D = [('class2d', 'relion_refine', ['--o', 'Bench/Class2D/run', '--iter', '3'])]


def test_watch_says_step_iteration_time_left_and_the_limit(tmp_path):
    _job(tmp_path, CLASS2D)
    (tmp_path / 'rb_steps/running.tsv').write_text(f'0\tclass2d\t{T0}\n')
    (tmp_path / 'rb_steps/0_class2d.log').write_text(
        ' Expectation iteration 1 of 3\n Expectation iteration 2 of 3\n')
    _write(tmp_path, 'Bench/Class2D/run_it000_model.star', T0 + 1)
    _write(tmp_path, 'Bench/Class2D/run_it001_model.star', T0 + 11)
    state = watch.state(tmp_path, now=T0 + 15)
    assert (state.state, state.step, state.detail) == ('running', 'class2d (1 of 1)',
                                                       'iteration 2 of 3')
    assert state.elapsed == 15 and state.left == 16 and state.fits
    assert watch.line(state) == ('Miniature %case=Class2D/cpu-plain/1x2  running  class2d '
                                 '(1 of 1)  iteration 2 of 3  0:00:15  ~0:00:16  fits 0:30:00 '
                                 'limit')
    late = watch.state(tmp_path, now=T0 + 1900)
    assert late.fits is False and 'EXCEEDS' in watch.line(late) and 'quiet' in watch.line(late)


def test_watch_tells_waiting_failed_and_finished_jobs(tmp_path):
    waiting, failed, finished = (tmp_path / n for n in ('a', 'b', 'c'))
    for folder in (waiting, failed, finished):
        _job(folder, CLASS2D)
    (failed / 'rb_steps/steps.tsv').write_text(f'0\tclass2d\t1\t{T0}\t{T0 + 3}\n')
    (finished / 'rb_steps/steps.tsv').write_text(f'0\tclass2d\t0\t{T0}\t{T0 + 3}\n')
    (finished / 'rfm_job.out').write_text('[relionbench] stage complete\n')
    assert [watch.state(f).state for f in (waiting, failed, finished)] == [
        'waiting', 'failed', 'finished']
    assert watch.state(failed).detail == 'exit code 1'
    assert sorted(s.state for s in watch.states(tmp_path)) == ['failed', 'finished', 'waiting']


def test_watch_names_what_to_give_when_there_is_no_session(tmp_path):
    with pytest.raises(FileNotFoundError, match='no session under'):
        watch.find_session(tmp_path)
    (tmp_path / 'stage' / '20261204T100000-1').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='give one of 20261204T100000-1'):
        watch.find_session(tmp_path, 'nope')


def test_a_trial_stage_follows_its_layout_and_iterations():
    class3d = workflows.trial(MINIATURE.stage('Class3D'), 3, 2)
    assert class3d.steps[0].program == 'relion_refine_mpi'
    assert '--iter 2 ' in class3d.steps[0].options
    assert all('_it005_' not in s.options and '_it005_' not in ''.join(s.outputs)
               for s in class3d.steps)
    assert '_it002_data.star' in class3d.step('select').options
    refine = workflows.trial(MINIATURE.stage('Refine3D_Local'), 1, None)
    assert refine.steps[0].program == 'relion_refine_mpi'      # auto-refine needs MPI


def test_the_prediction_scales_the_profile_by_the_trial_s_speed():
    profile = tune.Run('1x2', {'class2d': 1 + 14 + 6 + 3}, {'class2d': 1},
                       {'class2d': [14, 6, 3]})
    trial = tune.Run('3x1', {'class2d': 2 + 7}, {'class2d': 2}, {'class2d': [7]})
    found = tune.predict(profile, trial, 3, noise=0.1)
    assert found.predicted == pytest.approx(2 + 0.5 * 23)       # half as long per iteration
    assert found.linear == pytest.approx(2 + 7 * 3)             # what a linear guess says
    assert found.uncertainty == pytest.approx(0.1 * 11.5)


def test_candidates_and_bad_input_of_tune():
    assert tune.candidates('1x2', 2) == ['1x2', '1x1', '3x1', '2x2', '1x2:10', '1x2:120']
    with pytest.raises(tune.TuneError, match='runs until it converges'):
        tune.tune('Refine3D_Local')
    with pytest.raises(tune.TuneError, match='--layouts: layout .1y2. must read'):
        tune.tune('Class2D', layouts=['1y2'])
    with pytest.raises(tune.TuneError, match='no stage .Class9D.'):
        tune.tune('Class9D')


def test_the_job_description_is_json_with_the_limit_in_seconds(tmp_path):
    from datetime import timedelta
    records.describe_job(tmp_path, 'X', timedelta(minutes=30), CLASS2D)
    assert json.loads((tmp_path / records.JOB_FILE).read_text())['time_limit'] == 1800
