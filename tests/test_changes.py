"""Change points (relionbench.results.changes): clean noise raises nothing, a 10 % slow-down and a
2-shell loss are found at their first run, and compare and the alert name that run."""

import numpy as np
import pytest
from test_report import perflog_line, write_perflog

from relionbench import results
from relionbench.results import changes, compare

LENGTH = 144.0          # box length (A) of the miniature: 48 px x 3 A


def noisy(n, seed, spread=0.02, level=25.0):
    return level * np.random.default_rng(seed).lognormal(0, spread, n)


@pytest.mark.parametrize('n', [3, 5, 8, 20, 50])
@pytest.mark.parametrize('spread', [0.01, 0.02])
def test_clean_repeats_raise_nothing(n, spread):
    alarms = sum(changes.step(noisy(n, seed, spread), 'time') is not None
                 for seed in range(200))
    assert alarms <= 2          # at most 1 % of clean histories


@pytest.mark.parametrize('clean', [5, 10, 30])
@pytest.mark.parametrize('after', [1, 3, 5])
def test_a_ten_percent_slow_down_is_found_at_its_first_run(clean, after):
    """Runs 1 % apart: the step is ten noise widths, found at once."""
    for seed in range(20):
        values = noisy(clean + after, seed, spread=0.01)
        values[clean:] *= 1.10
        found = changes.step(values, 'time')
        assert found is not None and found.worse and found.start == clean, (seed, found)
        assert found.change('time').startswith('+')


def test_against_more_noise_the_step_is_found_later_but_named_where_it_began():
    """Runs 2 % apart: after three slow runs, 9 histories in 10 name the first, and none a
    run before the step."""
    named = [getattr(changes.step(np.r_[noisy(5, seed), 1.1 * noisy(3, seed + 1000)],
                                  'time'), 'start', None) for seed in range(100)]
    assert named.count(5) >= 90 and all(start is None or start >= 5 for start in named)


def test_a_two_shell_loss_is_found_and_one_shell_of_jitter_is_not():
    shells = np.array([19, 19, 19, 18, 19, 17, 17], dtype=float)     # 2 shells lost at run 6
    found = changes.step(LENGTH / shells, 'resolution', LENGTH)
    assert found is not None and found.worse and found.start == 5
    assert found.change('resolution') == '-2.00 shells'
    assert changes.step(LENGTH / shells[:5], 'resolution', LENGTH) is None


def test_a_faster_run_is_a_step_but_not_a_regression():
    values = noisy(8, 0)
    values[5:] *= 0.8
    found = changes.step(values, 'time')
    assert found is not None and not found.worse and found.start == 5


def test_a_small_step_within_the_effect_is_not_flagged():
    values = noisy(12, 1, spread=0.002)
    values[6:] *= 1.03                  # 3 %: real, but under the 5 % a time step must be
    assert changes.step(values, 'time') is None


def test_compare_and_the_alert_name_the_first_slow_run(tmp_path):
    seconds = [14.0, 14.1, 13.9, 14.05, 13.95, 15.4, 15.5, 15.45]      # +10 % from run 6
    lines = [perflog_line(f'2026-11-{day:02d}T01:00:00+00:00', f'{s}', jobid=str(day))
             for day, s in enumerate(seconds, start=1)]
    for upto in (5, 6, 8):
        write_perflog(tmp_path, lines[:upto])
        loaded = results.load(tmp_path)
        table = compare.compare(loaded).set_index('metric')
        time = table.loc['total_seconds']
        if upto == 5:
            assert time.status == '' and time.began == ''
            continue
        # inside the reference's 10 % tolerance against the median, but a step all the same
        assert time.status == compare.REGRESSED, time
        assert time.began.startswith('2026-11-06 01:00 (run 6 of ')
        assert 'suite abc, relion, RELION 3.1.3 plain, FFTW FFT, SSE2, native' in time.began
        subject, text = compare.alert_message(loaded, table.reset_index())
        assert 'a step of +10.' in text and 'began 2026-11-06 01:00' in text


@pytest.mark.parametrize('argv,said', [
    (['--system', 'mycluter'], "relionbench: --system 'mycluter' is not one of local "
                               "(the systems with results in "),
    (['--session', 'not-a-uuid'], "relionbench: --session 'not-a-uuid' is not a session of "
                                  "these results; the latest: "),
])
def test_compare_says_no_to_a_system_or_session_it_has_no_results_for(tmp_path, capsys, argv,
                                                                      said):
    from relionbench.cli import main
    write_perflog(tmp_path, [perflog_line('2026-11-20T01:00:00+00:00', '14.1')])
    assert main(['compare', '--runs', str(tmp_path), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith(said) and err.count('\n') == 1, err


def test_a_history_of_cut_short_aborted_and_failed_sessions_is_read_and_judged(tmp_path):
    """Two runs without a job id (sessions cut short by --duration), an aborted one, one
    whose dependency failed and one that missed a reference: the report is written, every run
    is in its table, and compare flags the latest (a missed reference: exit status 1)."""
    from relionbench.cli import main
    write_perflog(tmp_path, [
        perflog_line('2026-11-20T01:00:00+00:00', '14.1'),
        perflog_line('2026-11-21T01:00:00+00:00', '14.0', jobid='null'),
        perflog_line('2026-11-22T01:00:00+00:00', '14.2', jobid='null'),
        perflog_line('2026-11-23T01:00:00+00:00', 'None', result='abort', jobid='null',
                     resolution='None'),
        perflog_line('2026-11-24T01:00:00+00:00', 'None', result='fail_deps', jobid='null',
                     resolution='None'),
    ])
    assert main(['report', '--runs', str(tmp_path), '--out', str(tmp_path / 'r')]) == 0
    html = (tmp_path / 'r' / 'index.html').read_text()
    assert html.count('2026-11-2') >= 5
    table = compare.compare(results.load(tmp_path))
    assert list(table.metric) == ['(a job it needs failed)'] and list(table.status) == \
        ['FAILED']
    write_perflog(tmp_path, [perflog_line('2026-11-20T01:00:00+00:00', '14.1'),
                             perflog_line('2026-11-25T01:00:00+00:00', '16.0', result='fail')])
    loaded = results.load(tmp_path)
    table = compare.compare(loaded)
    assert '(performance failed)' in set(table.metric) and 'total_seconds' in set(table.metric)
    assert main(['compare', '--runs', str(tmp_path)]) == 1
    subject, text = compare.alert_message(loaded, table)
    assert 'Missed references:' in text and '(performance failed)' not in text
