"""The checks' fixtures: jobs that run one of the suite's own Python modules on any
partition (the miniature's data, the machine's calibration)."""

import functools
import os
import shlex
import sys
from pathlib import Path

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.backends import getlauncher
from reframe.core.builtins import run_after, run_before, sanity_function, variable
from reframe.core.exceptions import SanityError

from relionbench import builds
from relionbench.constants import ENV_RELION, X_CALIBRATE, X_GPUS
from relionbench.machine import calibration, clustershape
from relionbench.run import nodes


class SuiteJob(rfm.RunOnlyRegressionTest):
    """A fixture job running one of the suite's own Python modules on any partition, with
    the local launcher: one task, sharing its node (never ``--exclusive``), one GPU on a
    partition of GPUs (where sites refuse a job without ``--gres``); it first checks that
    its node sees the suite. Subclasses set ``executable_opts``."""

    valid_systems = ['*']
    valid_prog_environs = [f'+{ENV_RELION}']
    executable = sys.executable
    time_limit = '10m'
    #: Where its perflog goes (perflogs/<system>/<partition>/fixtures/<Fixture>.log), beside
    #: the stages' ``<stage>/<variant>/<scale>``: ReFrame logs every result, fixtures' too
    case = variable(str, value='fixtures', loggable=True)

    @run_after('setup')
    def ask_a_gpu(self):
        if self.current_partition.extras.get(X_GPUS):
            self.extra_resources = {'gpu': {'num_gpus_per_node': 1}}

    @run_before('run')
    def launch_locally(self):
        self.job.launcher = getlauncher('local')()

    @run_before('run', always_last=True)
    def check_the_node(self):
        self.prerun_cmds = [nodes.visible(), *self.prerun_cmds]

    def refused(self):
        """Why the job's node could not run it ('' when it could)."""
        return nodes.refusal(Path(self.stagedir, self.job.stderr).read_text())


class MiniatureData(SuiteJob):
    """Generates the synthetic miniature dataset and the intermediates its stages start from
    (relionbench.data.miniature); used as a session fixture, so it runs once per session, with
    the RELION programs of ``builds.data_tools`` whatever build is under test."""

    #: Seed of the simulation (same seed, same bytes)
    seed = variable(int, value=0)
    #: Size preset (relionbench.data.sizes.Size): BOXxPARTICLES or small (48x440, the one
    #: reference/local.yaml holds), medium (96x440), large (144x440); set it with
    #: ``-S MiniatureData.size=96x440``
    size = variable(str, value='small')
    #: A folder keeping miniatures by what made them (seed, size, the suite's code, RELION):
    #: a session copies the one made before instead of making it again; default
    #: ``$RELIONBENCH_MINIATURE_CACHE``, none when unset
    cache = variable(str, value=os.environ.get('RELIONBENCH_MINIATURE_CACHE', ''))

    @run_before('run')
    def set_command(self):
        cache = ['--cache', str(Path(self.cache).resolve())] if self.cache else []
        self.executable_opts = ['-m', 'relionbench.cli', 'mini', 'generate', '--out', '.',
                                '--seed', str(self.seed), '--size', self.size, *cache]
        self.prerun_cmds = ['echo "miniature made with: $(command -v relion_refine)"'
                            ' "$(relion_refine --version 2>&1 | head -n 1)"']
        tools = data_tools(self.current_system.name)
        if tools and tools['name'] != self.current_environ.name:
            self.modules = list(tools.get('modules', []))
            self.env_vars.update(dict(tools.get('env_vars', [])))
            self.prerun_cmds = [*tools.get('prepare_cmds', []), *self.prerun_cmds]

    @sanity_function
    def assert_generated(self):
        if self.refused():
            raise SanityError(self.refused())
        refused = [line for line in Path(self.stagedir, self.job.stderr).read_text().splitlines()
                   if line.startswith('relionbench mini generate: ')]
        if refused:                     # e.g. a bad size: the one line that says what to give
            raise SanityError(refused[0].replace('relionbench mini generate: --size',
                                                 f'-S MiniatureData.size={self.size}'))
        return sn.all([sn.assert_found(r'^prepared ', self.stdout),
                       sn.assert_true(Path(self.stagedir, 'truth', 'map.mrc').is_file(),
                                      msg='truth/map.mrc was not written')])


@functools.cache
def data_tools(system):
    """The same programs whatever build is under test: the environment (ReFrame's entry) of
    the build relionbench.builds.data_tools chooses, as ``system`` declares it (its modules
    or prefix: never a path found on the login node alone, even when ``-p`` leaves that
    build out of the session); None where the system declares no such build, and the
    fixture's own build makes the data."""
    tools = builds.data_tools(builds.discover())
    if tools is None:
        return None
    declared = clustershape.system_module(system).environments
    env = next((e for e in declared if e['name'] == tools.name), None)
    if env and tools.bindir and not any(k == 'PATH' for k, _ in env.get('env_vars', [])):
        # a build the system declares as the one on PATH: first on PATH, whatever the
        # environment of the build under test puts there
        env = {**env, 'env_vars': [*env.get('env_vars', []),
                                   ['PATH', f'{shlex.quote(tools.bindir)}:$PATH']]}
    return env


class Calibration(SuiteJob):
    """Times the calibration workload (relionbench.machine.calibration) once per partition, in a
    job like the stages' own, where the partition scales its time references by it."""

    #: A calibration file measured earlier on this machine: its workload time is taken
    #: instead of measuring it again, the job's usable cores are still read; default
    #: ``$RELIONBENCH_CALIBRATION``, measured when unset (the tests measure once per session)
    speed_from = variable(str, value=os.environ.get('RELIONBENCH_CALIBRATION', ''))

    @run_before('run')
    def set_command(self):
        full = self.current_partition.extras.get(X_CALIBRATE)
        how = (['--speed-from', str(Path(self.speed_from).resolve())] if self.speed_from else
               [] if full else ['--repeats', '1', '--duration', '0'])
        self.executable_opts = ['-m', 'relionbench.machine.calibration',
                                '--out', calibration.FILE, *how]
        self.keep_files = [calibration.FILE]

    @sanity_function
    def assert_measured(self):
        if self.refused():
            raise SanityError(self.refused())
        return sn.assert_true(Path(self.stagedir, calibration.FILE).is_file(),
                              msg=f'{calibration.FILE} was not written')


