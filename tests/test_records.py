"""The per-rank memory probe, step records and RELION warning detection."""

import os
import subprocess
import sys

from relionbench.run import jobscript, records


def test_measure_records_peak_memory_exit_code_and_the_layout_it_got(tmp_path):
    """Peak memory, rank, the CPUs the rank may run on (here: taskset's one) and its GPUs."""
    grow = 'import sys; b = bytearray(80 * 2**20); b[::4096] = b"x" * len(b[::4096]); sys.exit(3)'
    steps = records.steps_dir(tmp_path)
    steps.mkdir()
    rc = subprocess.call(['taskset', '-c', '0', sys.executable, str(jobscript.MEASURE),
                          str(steps / '0_x.rss'), '--', sys.executable, '-c', grow],
                         env={**os.environ, 'CUDA_VISIBLE_DEVICES': '1,3'})
    assert rc == 3
    (record,) = list(steps.glob('0_x.rss.*'))
    peak, rank, cpus, gpus = record.read_text().split()
    assert int(peak) > 80 * 1024 and rank == '0' and cpus == '0' and gpus == '1,3'
    (found,) = records.ranks(tmp_path, 0, 'x')
    assert (found.cpus, found.cpu_count, found.gpus) == ('0', 1, '1,3')


def test_a_rank_record_reads_cpu_lists_and_older_records():
    assert records.Rank(0, 'n', 1.0, '0-3,8', '-').cpu_count == 5
    assert records.Rank(0, 'n', 1.0).cpu_count is None      # recorded before CPUs were


def test_ranks_nodes_and_relion_hosts(tmp_path):
    steps = records.steps_dir(tmp_path)
    steps.mkdir()
    for rank, host, kib in ((0, 'rbnode1', 1024), (1, 'rbnode1', 2048), (2, 'rbnode2', 4096)):
        (steps / f'0_refine.rss.{host}.{100 + rank}').write_text(f'{kib} {rank}\n')
    assert [(r.rank, r.host) for r in records.ranks(tmp_path, 0, 'refine')] == [
        (0, 'rbnode1'), (1, 'rbnode1'), (2, 'rbnode2')]
    assert records.peak_mib(tmp_path, 0, 'refine') == 4.0
    assert records.node_peaks(records.ranks(tmp_path, 0, 'refine')) == {'rbnode1': 3.0,
                                                                        'rbnode2': 4.0}
    log = steps / '0_refine.log'
    log.write_text(' === RELION MPI setup ===\n + Number of MPI processes  = 3\n'
                   ' + Leader  (0) runs on host            = rbnode1\n'
                   ' + Follower     1 runs on host            = rbnode1\n'
                   ' + Follower     2 runs on host            = rbnode2\n')
    assert records.relion_hosts(log) == {0: 'rbnode1', 1: 'rbnode1', 2: 'rbnode2'}
    log.write_text(' + Master  (0) runs on host = a\n + Slave     1 runs on host = b\n')
    assert records.relion_hosts(log) == {0: 'a', 1: 'b'}


def test_measure_reports_a_missing_program(tmp_path):
    rc = subprocess.call([sys.executable, str(jobscript.MEASURE), str(tmp_path / 'r'), '--',
                          'no-such-relion'])
    assert rc == 127


def test_warnings_found(tmp_path):
    log = tmp_path / 'step.log'
    log.write_text('The following warnings were encountered upon command-line parsing:\n'
                   'WARNING: Option --cpu\tis not a valid RELION argument\n')
    (found,) = records.warnings(log)
    assert 'did not recognise an option' in found and '--cpu' in found
    log.write_text('+ WARNING : Relion was compiled without CUDA of at least version 7.0\n')
    assert 'cannot use the GPU' in records.warnings(log)[0]
    log.write_text(' Running CPU instructions in double precision.\n')
    assert records.warnings(log) == []
    # RELION 3.1 and 5.0 word it so (src/exp_model.cpp)
    log.write_text(' + On host node7: free scratch space = 10.5 Gb.\n'
                   ' Warning: scratch space full on node7. Remaining 120 particles will be read '
                   'from where they were.\n'
                   ' For optics_group 1, there are 200 particles on the scratch disk.\n')
    (found,) = records.warnings(log)
    assert 'too small on node7: RELION copied 200 particles to it and reads the other 120' in found


def test_job_script_stops_at_first_failure_and_records_steps(tmp_path):
    script = '\n'.join([jobscript.RB_STEP, 'mkdir -p rb_steps', 'rb_step 0 ok true',
                        'rb_step 1 broken sh -c "echo oops; exit 4"', 'rb_step 2 never true'])
    result = subprocess.run(['bash', '-c', script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 4
    assert 'step 1 broken failed with exit code 4' in result.stderr and 'oops' in result.stderr
    steps = records.read_steps(tmp_path)
    assert [(s.index, s.label, s.exit_code) for s in steps] == [(0, 'ok', 0), (1, 'broken', 4)]
    assert all(s.seconds >= 0 for s in steps)


def test_an_empty_particle_table_is_a_failed_output(tmp_path):
    import pandas as pd
    import starfile

    from relionbench.science import outputs
    optics = pd.DataFrame({'rlnOpticsGroup': [1], 'rlnImagePixelSize': [3.0]})
    empty = pd.DataFrame({'rlnImageName': pd.Series(dtype=str)})
    starfile.write({'optics': optics, 'particles': empty}, tmp_path / 'particles.star')
    assert 'lists no particles' in outputs.problem(tmp_path / 'particles.star')
    starfile.write({'optics': optics, 'particles': pd.DataFrame({'rlnImageName': ['1@a.mrcs']})},
                   tmp_path / 'ok.star')
    assert outputs.problem(tmp_path / 'ok.star') == ''
