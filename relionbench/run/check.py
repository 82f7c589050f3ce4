"""The ReFrame check behind every stage: a concrete check only names its workflow.

One instance runs one stage (relionbench.workflows) with one accelerator variant at one
scale. It resolves the dataset and the layout from the partition, writes the job script
(relionbench.run.jobscript), fails on any failed step, missing or corrupt output or RELION
warning, and reports per-step time and memory plus the science metrics against
``reference/<system>.yaml``.
"""

import functools
import math
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import reframe as rfm
import reframe.utility.sanity as sn
from reframe.core.backends import getlauncher
from reframe.core.builtins import run_after, run_before, sanity_function, variable
from reframe.core.exceptions import ReframeError, SanityError
from reframe.core.logging import getlogger

from relionbench import builds, workflows
from relionbench.constants import (
    CPU_PLAIN,
    ENV_RELION,
    GPU,
    STEPS_DIR,
    VARIANT_BUILDS,
    VARIANT_FEATURES,
    X_CORES,
    X_DATA_ROOT,
    X_EXCLUSIVE,
    X_GPU_EMULATED,
    X_GPU_THREADS,
    X_GPUS,
    X_LAUNCHER_OPTIONS,
    X_MAX_NODES,
    X_SCRATCH,
)
from relionbench.data import datasets
from relionbench.machine import calibration
from relionbench.results import references
from relionbench.run import images, jobscript, layouts, nodes, podman, provenance, records
from relionbench.science import extract, iterations, metrics, outputs

DEFAULT_TIME_LIMIT = '4d'
"""A stage's time limit where no reference publishes how long it takes."""


@functools.cache
def _references(system):
    try:
        return references.load(system)
    except references.ReferenceError as err:    # one line, not a traceback
        raise ReframeError(str(err)) from None


class RelionStage(rfm.RunOnlyRegressionTest):
    """One RELION benchmark stage; subclasses set ``case = parameter(WORKFLOW.cases())``."""

    #: Dataset folder (default: ``<partition extras data_root>/<dataset id>``); one
    #: workflow's with ``-S Aldolase.dataset_dir=PATH``; the miniature always makes its own
    dataset_dir = variable(str, value='')
    #: Relative upper threshold on every time against the reference (slower only); when set,
    #: it replaces the reference file's (default 0.10)
    time_tolerance = variable(float, type(None), value=None)
    #: Tolerance on every resolution against the reference, in Fourier shells; when set, it
    #: replaces the reference file's (default 2)
    resolution_shells = variable(int, type(None), value=None)

    #: A trial layout instead of the case's, TASKSxTHREADS[:POOL] (e.g. 3x1, 1x2:60): its
    #: runs are not the benchmark, recorded without a reference (relionbench tune sets it
    #: with ``-P run_layout:...``)
    run_layout = variable(str, value='')
    #: Iterations of the stage's relion_refine steps instead of its ``--iter`` (0: as the
    #: table says); a short trial, recorded without a reference
    run_iterations = variable(int, value=0)

    #: Container image RELION runs in, on a partition with a container runtime: a file or a
    #: URI (docker://...); default: the build's image (``<partition extras image_dir>/<file>``)
    #: for a build that is an image; 'native' runs RELION from PATH or modules (logged: the
    #: image used, '' for native)
    container_image = variable(str, value='')

    # Provenance, logged with every performance record (set by the check, not by users):
    #: The RELION version the job's own relion_refine printed
    relion_version = variable(str, value=provenance.UNKNOWN)
    #: Its accelerator tag or linked libraries (ALTCPU, CUDA, ...), as the build printed them
    relion_build = variable(str, value=provenance.UNKNOWN)
    #: The FFT library the job's relion_refine linked (FFTW, MKL, FFTW+cuFFT)
    relion_fft = variable(str, value=provenance.UNKNOWN)
    #: The instruction set of its code (SSE2, AVX, AVX2, AVX-512), from its disassembly
    relion_isa = variable(str, value=provenance.UNKNOWN)
    #: For a CUDA build, the CUDA release that compiled it and the GPU code it carries
    #: ('13.0 sm_90+compute_90'; '' for none)
    relion_cuda = variable(str, value='')
    #: The sha256 digest of the image RELION ran in ('' for native)
    container_sha256 = variable(str, value='')
    #: The suite's git commit (with ``-dirty`` for uncommitted changes)
    suite_commit = variable(str, value=provenance.UNKNOWN)
    #: The dataset's id: its history (a resized miniature or a trial is another one)
    dataset_id = variable(str, value='')
    #: Where the reference came from (its ``source:``), and how its times were scaled
    reference_source = variable(str, value='no reference')

    valid_prog_environs = [f'+{ENV_RELION}']
    #: The job's time limit; by default twice the stage's published duration plus an hour
    #: (relionbench.results.references.time_limit), ``DEFAULT_TIME_LIMIT`` where none is
    #: published; set it with ``-S time_limit=12h``
    time_limit = None

    @property
    def stage(self):
        return self.tried(self.case.stage)

    @property
    def trial_layout(self):
        """A trial's layout (``run_layout``, else the case's when only its iterations
        change); '' when the run is the benchmark."""
        return (self.run_layout or self.case.scale) if (
            self.run_layout or self.run_iterations) else ''

    @property
    def release(self):
        """The build's release, whose options the job's command lines take."""
        return self.current_environ.extras.get('relion_release', '')

    def tried(self, stage):
        """``stage`` as a trial layout and iteration count run it (unchanged without)."""
        if not self.trial_layout:
            return stage
        tasks = layouts.cpu_layout(layouts.parse_trial(self.trial_layout)[0]).tasks
        return workflows.trial(stage, tasks, self.run_iterations or None)

    def no_reference(self):
        """Why the run has no reference to be judged by ('' when it may have one)."""
        return self.trial_reason()

    def trial_suffix(self):
        """A trial's dataset suffix: its runs are another history (``-trial-3x1-1it``)."""
        if not self.trial_layout:
            return ''
        return (f'-trial-{self.trial_layout}'
                f'{f"-{self.run_iterations}it" if self.run_iterations else ""}')

    def trial_reason(self):
        if not self.trial_layout:
            return ''
        return (f'a trial (layout {self.trial_layout}, {self.run_iterations or "all"} '
                'iterations), not the benchmark')

    @run_after('init')
    def describe_case(self):
        stage, variant = self.case.stage, self.case.variant
        self.descr = f'{self.workflow.description}: {stage.name} ({variant}, {self.case.scale})'
        self.valid_systems = [VARIANT_FEATURES[variant]]
        self.valid_prog_environs = [VARIANT_BUILDS[variant]
                                    + (f' +{stage.needs}' if stage.needs else '')]
        self.tags = {stage.workflow, stage.name.lower(), variant}
        self.dataset_id = self.workflow.dataset + self.trial_suffix()
        self.suite_commit = provenance.suite_commit()

    def default_dataset(self):
        """Where the dataset is when ``dataset_dir`` is not set."""
        return datasets.locate(self.workflow.dataset, '',
                               self.current_partition.extras.get(X_DATA_ROOT, ''))

    @run_after('setup')
    def locate_dataset(self):
        self.dataset = self.dataset_folder()
        missing = datasets.missing_inputs(self.dataset, self.stage.inputs)
        if missing and not self.is_dry_run():
            self.skip(self.missing_hint(missing))

    def dataset_folder(self):
        """``dataset_dir`` where set (``-S Aldolase.dataset_dir=PATH`` for one workflow),
        else the partition's data root."""
        return (datasets.locate(self.workflow.dataset, self.dataset_dir) if self.dataset_dir
                else self.default_dataset())

    def missing_hint(self, missing):
        """One line: what is missing and how to get it."""
        return datasets.fetch_hint(self.workflow.dataset, self.dataset, missing)

    @run_after('setup')
    def set_layout(self):
        extras = self.current_partition.extras
        if self.case.variant == GPU:
            per_node = extras.get(X_GPUS, 0)
            available = per_node * extras.get(X_MAX_NODES, 1)
            self.skip_if(self.case.num_gpus > available,
                         f'{self.case.num_gpus} GPUs asked for, the partition offers {available}')
            self.layout = layouts.gpu_layout(self.case.num_gpus, per_node,
                                            extras.get(X_GPU_THREADS, layouts.GPU_THREADS))
            self.extra_resources = {'gpu': {'num_gpus_per_node': self.layout.gpus_per_node}}
        else:
            scale, pool = (layouts.parse_trial(self.run_layout) if self.run_layout
                           else (self.case.scale, 0))
            self.layout = replace(layouts.cpu_layout(scale, extras.get(X_CORES),
                                                    extras.get(X_MAX_NODES, 1)), pool=pool)
        self.num_tasks = self.layout.tasks
        self.num_cpus_per_task = self.layout.threads
        if self.layout.nodes > 1:
            self.num_tasks_per_node = self.layout.tasks_per_node
        self.env_vars.update(layouts.environment(self.case.variant))
        self.scratch = extras.get(X_SCRATCH, '')
        if self.scratch:
            self.env_vars['RB_SCRATCH'] = self.scratch

    @run_after('setup')
    def choose_image(self):
        """The image RELION runs in ('' for native), checked to exist unless a dry run."""
        images.choose(self)

    def container_exec(self):
        """How the job runs RELION in the partition's container runtime."""
        return images.container_exec(self)

    @run_after('setup')
    def set_reference(self):
        system = self.current_system.name
        entry = references.find(_references(system), self.stage.workflow, self.stage.name,
                                self.case.variant, self.case.scale, self.current_partition.name,
                                self.current_environ.name)
        if self.time_limit is None:
            limit = references.time_limit(self.stage.workflow, self.stage.name, entry)
            self.time_limit = f'{math.ceil(limit / 3600)}h' if limit else DEFAULT_TIME_LIMIT
        if entry and not self.no_reference():
            given = {'time_upper': self.time_tolerance,
                     'resolution_shells': self.resolution_shells}
            overrides = {key: value for key, value in given.items() if value is not None}
            factors = self.time_factors(entry)
            self.reference = references.reframe_reference(
                entry, overrides, references.scaled(entry, factors) if factors else None)
            self.reference_source = entry.source
            if factors:
                by_busy = {calibration.busy(s, self.layout): factors[s.label]
                           for s in self.stage.steps}
                self.reference_source += (f'; times scaled to this machine: '
                                          f'{calibration.describe(by_busy)}')
        elif not self.is_dry_run():
            why = self.no_reference() or (f'no reference for {system} with '
                                          f'{self.current_environ.name} in '
                                          f'reference/{system}.yaml')
            getlogger().warning(f'{self.display_name}: {why}: values are recorded, not judged')

    def time_factors(self, entry):
        """{step label: this machine's time over the reference machine's}, from the
        session's calibration; {} where the partition does not calibrate."""
        return {}

    @run_before('run')
    def write_steps(self):
        """Each MPI step gets the partition's launcher; the job itself runs locally."""
        for attr in ('num_tasks', 'num_tasks_per_node'):    # ReFrame copies these only later
            setattr(self.job, attr, getattr(self, attr))
        extras = self.current_partition.extras
        options = list(extras.get(X_LAUNCHER_OPTIONS, []))
        if self.job.launcher.registered_name == 'srun':
            # a dead rank ends the step instead of leaving the leader waiting forever; the
            # job's CPUs per task given again (Slurm 22.05's srun does not inherit sbatch's)
            self.job.launcher.options += ['--kill-on-bad-exit=1',
                                          f'--cpus-per-task={self.num_cpus_per_task}']
        self.job.launcher.options += options
        launcher = self.job.launcher.run_command(self.job)
        self.job.launcher = getlauncher('local')()
        variant = self.case.variant
        if variant == GPU and extras.get(X_GPU_EMULATED):
            variant = CPU_PLAIN             # the GPU layout and GRES, RELION on the CPU
        gpu = (self.current_environ.extras.get('relion_cuda', '').split(' ')[0]
               if variant == GPU else None)  # a real GPU case: each node must have one
        node_lines = nodes.prepare((jobscript.MEASURE,), self.stagedir,
                                   on_slurm(self.current_partition), bool(self.scratch), options,
                                   gpu=gpu)
        if extras.get(X_EXCLUSIVE):         # the stages only: one-task fixtures share nodes
            self.job.options += ['--exclusive']
        self.prerun_cmds = jobscript.stage_lines(
            self.stage, variant, self.layout, self.dataset, launcher,
            image=self.container_exec() if self.container_image else None,
            scratch=bool(self.scratch), release=self.release, node_lines=node_lines)
        self.executable, self.executable_opts = jobscript.DONE_COMMAND
        self.keep_files = [STEPS_DIR, records.JOB_FILE]
        records.describe_job(self.stagedir, self.display_name,
                             self.job.time_limit or self.time_limit,
                             [(s.label, s.program, jobscript.relion_args(
                                 s, variant, self.layout, bool(self.scratch), self.release))
                              for s in self.stage.steps])

    @sanity_function
    def assert_stage_succeeded(self):
        """The build declared ran; every step ran and exited 0, wrote readable outputs, and
        RELION did not warn."""
        refused = Path(self.stagedir, STEPS_DIR, podman.ERROR)
        if refused.is_file():               # the runtime did not start the job's container
            raise SanityError(refused.read_text().strip())
        differs = builds.mismatch(self.current_environ.extras, self.relion_version,
                                  self.relion_build)
        if differs:
            raise SanityError(f'the job ran another RELION than build {self.current_environ.name}'
                              f' declares ({differs}; {STEPS_DIR}/relion_version.txt): check '
                              'its modules, prefix or image')
        done = {r.index: r for r in records.read_steps(self.stagedir)}
        said = _read(Path(self.stagedir, nodes.ERRORS))
        if said.strip() and not done:       # e.g. a node could not see the suite
            raise SanityError(nodes.refusal(said) or 'the job stopped preparing its nodes, '
                              f'before its first step: {said.strip().splitlines()[-1]} '
                              f'({nodes.ERRORS})')
        for index, step in enumerate(self.stage.steps):
            record = done.get(index)
            log = f'{STEPS_DIR}/{index}_{step.label}.log'
            if record is None:
                ended = self.job_ended_early()
                raise SanityError(f'step {index} {step.label} ({step.program}) '
                                  + (f'was running when {ended}' if ended else 'did not run'))
            if record.exit_code != 0:
                raise SanityError(f'step {index} {step.label} ({step.program}) exited with '
                                  f'code {record.exit_code}; see {log}')
            found = records.warnings(records.log_path(self.stagedir, index, step.label))
            if found:
                raise SanityError(f'step {index} {step.label}: {found[0]} (in {log})')
            for output in step.output_files():
                problem = outputs.problem(f'{self.stagedir}/{output}')
                if problem:
                    raise SanityError(f'step {index} {step.label}: {problem}')
            missing = outputs.shortfall(step, self.stagedir)
            if missing:
                raise SanityError(f'step {index} {step.label}: {missing}')
            try:
                ranks = records.ranks(self.stagedir, index, step.label)
            except FileNotFoundError as err:
                raise SanityError(f'step {index} {step.label}: {err} (measure.py did not '
                                  'run on its ranks)') from None
            misfit = layouts.misfit(step, self.layout, ranks,
                                    gpus=self.case.variant == GPU and not
                                    self.current_partition.extras.get(X_GPU_EMULATED))
            if misfit:
                raise SanityError(f'step {index} {step.label}: {misfit}')
        return sn.assert_found(re.escape(records.DONE), self.stdout,
                               msg='the job script did not reach its end')

    def job_ended_early(self):
        """How the scheduler ended the job before its end ('' when it did not say)."""
        state = (self.job.state or '').split(',')[0]
        if state == 'TIMEOUT':
            return f'job {self.job.jobid} reached its time limit ({self.time_limit})'
        if state in ('CANCELLED', 'NODE_FAIL', 'OUT_OF_MEMORY', 'PREEMPTED', 'DEADLINE',
                     'BOOT_FAIL'):
            why = {'CANCELLED': ' (scancel or an administrator)',
                   'NODE_FAIL': _failed_nodes(self.job.nodelist)}.get(state, '')
            return f'job {self.job.jobid} ended {state}{why}'
        return ''

    @run_before('sanity')
    def read_provenance(self):
        try:
            text = open(f'{self.stagedir}/{STEPS_DIR}/relion_version.txt').read()
        except OSError:
            return
        self.relion_version, self.relion_build = builds.read_version(text)
        has = builds.read_carried(text, native=not self.container_image)
        self.relion_fft, self.relion_isa, self.relion_cuda = has['fft'], has['isa'], has['cuda']

    @run_before('sanity')
    def record_placement(self):
        """``rb_steps/placement.tsv``: where each rank of each step ran (measure.py's node,
        RELION's), the CPUs it could run on, the GPUs it saw and the threads it ran; kept
        whether the check passes or not."""
        rows = ['step\trank\tnode\tpeak_mib\tnode_by_relion\tcpus\tgpus\tthreads']
        for record, step in zip(records.read_steps(self.stagedir), self.stage.steps):
            try:
                ranks = records.ranks(self.stagedir, record.index, step.label)
            except FileNotFoundError:
                continue
            relion = records.relion_hosts(records.log_path(self.stagedir, record.index,
                                                           step.label))
            threads = layouts.step_threads(step, self.layout)
            rows += [f'{step.label}\t{r.rank}\t{r.host}\t{r.peak_mib:.1f}\t'
                     f'{relion.get(r.rank, "")}\t{r.cpus}\t{r.gpus}\t{threads}' for r in ranks]
        if len(rows) > 1:
            Path(self.stagedir, STEPS_DIR, 'placement.tsv').write_text('\n'.join(rows) + '\n')

    @run_before('performance')
    def collect_metrics(self):
        steps = records.read_steps(self.stagedir)
        values = {'total_seconds': sum(r.seconds for r in steps)}
        for record, step in zip(steps, self.stage.steps):
            values[f'{step.label}_seconds'] = record.seconds
            ranks = records.ranks(self.stagedir, record.index, step.label)
            nodes = records.node_peaks(ranks)
            values[f'{step.label}_peak_mib'] = max(r.peak_mib for r in ranks)
            values[f'{step.label}_node_peak_mib'] = max(nodes.values())
            if step.refine:
                values.update(self.iteration_metrics(record, step))
            values.update(extract.science(step, self.stagedir))
        self.perf_variables = {
            name: sn.make_performance_function(_value(values, name), metrics.describe(name)[0])
            for name in values}

    def iteration_metrics(self, record, step):
        """``<step>_median_iteration``, ``_slowest_iteration``, ``_iterations`` of a
        relion_refine step; each iteration's time in ``rb_steps/<n>_<step>.iterations.tsv``."""
        args = step.args(self.release)
        options = iterations.Options.parse(args)
        setup, found = iterations.of_step(self.stagedir, args, record.start)
        final = found[-1].number if options.auto_refine and found else None
        Path(self.stagedir, STEPS_DIR, f'{record.index}_{step.label}.iterations.tsv').write_text(
            iterations.table(setup, found, final))
        return {f'{step.label}_{name}': value
                for name, value in iterations.summary(found).items()}


def on_slurm(partition):
    """Whether ``partition``'s jobs run under Slurm (srun reaches every node of a job)."""
    return partition.scheduler.registered_name in ('slurm', 'squeue')


def _read(path):
    try:
        return path.read_text()
    except OSError:
        return ''


def _failed_nodes(names):
    """': node rbnode2 down (Not responding)' for the nodes of a job Slurm took down, as sinfo
    says ('' when it cannot tell)."""
    if not names:
        return ''
    try:
        found = subprocess.run(['sinfo', '-h', '-N', '-n', ','.join(names), '-o', '%N|%T|%E'],
                               capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ''
    bad = sorted({f'{node} {state.rstrip("*")} ({reason})' for node, state, reason in
                  (line.split('|', 2) for line in found.splitlines() if line.count('|') == 2)
                  if state.rstrip('*~#').lower() not in ('idle', 'mixed', 'allocated',
                                                         'completing')})
    return f': node {", ".join(bad)}' if bad else ''


@sn.deferrable
def _value(values, name):
    return values[name]
