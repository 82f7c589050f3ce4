"""The stage model: a workflow is a list of stages, a stage a list of steps run in order in
one job, a case one stage with one accelerator variant at one scale.

Paths in the options are relative to the dataset (a RELION project, linked into the stage
directory); ``{out}`` is the folder that receives this run's outputs, so every step after
the first reads what this run has just produced, never a published intermediate. The
miniature's tables also name what its size preset sets (``{box}``, ``{bg_radius}``,
``{apix}``, ``{offset_range}``, ``{offset_step}``; ``sized``), the default preset unless
resized.
"""

import posixpath
import re
import shlex
from dataclasses import dataclass, field, replace

from relionbench.builds import releases
from relionbench.constants import CPU_ALTCPU, CPU_PLAIN, GPU, OUT
from relionbench.data.sizes import Size

THREADED = {'relion_refine', 'relion_refine_mpi', 'relion_ctf_refine', 'relion_ctf_refine_mpi',
            'relion_motion_refine', 'relion_motion_refine_mpi', 'relion_mask_create',
            'relion_run_motioncorr', 'relion_run_motioncorr_mpi'}
"""Programs that take ``--j``."""

OUTPUT_FLAGS = ('--o', '--odir', '--part_dir')
GPU_SCALES = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class Step:
    """One RELION program call."""

    label: str                      #: metric prefix, unique in its stage
    program: str                    #: RELION executable
    options: str                    #: science options exactly as published
    outputs: tuple = ()             #: files that must exist and parse afterwards
    science: str = ''               #: metric extractor in relionbench.science.metrics ('' for none)
    prefix: str = ''                #: output prefix the extractor reads
    truth: str = ''                 #: ground-truth scorer in relionbench.science.truth (miniature)
    truth_input: str = ''           #: output the truth scorer reads
    python: bool = False            #: ``program`` is a relionbench module run with Python
    true_start: bool = False        #: its inputs carry the truth: scores read ``true_start_``
    unbanded: tuple = ()            #: metrics (suffixes) no input moves: recorded, not judged

    @property
    def mpi(self):
        return self.program.endswith('_mpi')

    @property
    def threaded(self):
        return self.program in THREADED

    @property
    def refine(self):
        """relion_refine takes the accelerator, --pool and scratch options."""
        return self.program.startswith('relion_refine')

    def args(self, release=''):
        """The options as ``release`` takes them (builds.releases; '': as published)"""
        options = self.options.format(out=OUT, **Size().options)
        return releases.adapt(self.program, shlex.split(options), release)

    def output_dirs(self):
        """Folders RELION expects to exist before it starts (it does not create them)."""
        args, dirs = self.args(), []
        for flag, value in zip(args, args[1:]):
            if flag in OUTPUT_FLAGS:
                dirs.append(value.rstrip('/') if value.endswith('/') else posixpath.dirname(value))
        return [d for d in dirs if d]

    def output_files(self):
        return [o.format(out=OUT) for o in self.outputs]


@dataclass(frozen=True)
class Stage:
    """A benchmark stage: independent, it starts from the dataset's published files."""

    workflow: str
    name: str
    index: int
    steps: tuple
    inputs: tuple                   #: dataset files the stage reads
    box_size: int                   #: px, for Fourier-shell tolerances
    pixel_size: float               #: A
    cpu_scales: tuple = ('23x4',)   #: tasks x threads, as published
    gpu_scales: tuple = GPU_SCALES
    needs: str = ''                 #: a feature its build must have (relionbench.builds)

    def step(self, label):
        return next(s for s in self.steps if s.label == label)

    @property
    def accelerated(self):
        """Whether a step takes RELION's accelerator flags (--cpu, --gpu): relion_refine."""
        return any(s.refine for s in self.steps)


@dataclass(frozen=True)
class Case:
    """One generated check: a stage run with one accelerator variant at one scale."""

    stage: Stage
    variant: str
    scale: str

    def __str__(self):
        return f'{self.stage.name}/{self.variant}/{self.scale}'

    @property
    def num_gpus(self):
        return int(self.scale[:-3]) if self.variant == GPU else 0


@dataclass(frozen=True)
class Workflow:
    name: str
    dataset: str                    #: dataset id (folder under the data root)
    description: str
    stages: tuple = field(default=())

    def stage(self, name):
        return next(s for s in self.stages if s.name == name)

    def cases(self, variants=(GPU, CPU_ALTCPU, CPU_PLAIN)):
        """Every stage x variant x scale, GPU scales in GPUs, CPU scales in tasks x threads;
        no cpu-altcpu for a stage without relion_refine (it would be cpu-plain again)."""
        cases = []
        for stage in self.stages:
            for variant in variants:
                if variant == CPU_ALTCPU and not stage.accelerated:
                    continue
                scales = ([f'{n}gpu' for n in stage.gpu_scales] if variant == GPU
                          else list(stage.cpu_scales))
                cases += [Case(stage, variant, scale) for scale in scales]
        return cases


def sized(stage, size):
    """``stage`` of the miniature at a size preset (``sizes.Size``): its size options
    filled in (``{out}`` kept for ``Step.args``), its box and pixel size the preset's."""
    if size.default:
        return stage
    steps = tuple(replace(s, options=s.options.format(out='{out}', **size.options))
                  for s in stage.steps)
    return replace(stage, steps=steps, box_size=size.box, pixel_size=size.apix)


ITER = re.compile(r'--iter (\d+)')


def iterations(stage):
    """The ``--iter`` of the stage's relion_refine steps (None: auto-refine or none)."""
    found = [int(m.group(1)) for s in stage.steps if s.refine
             for m in [ITER.search(s.options)] if m]
    return found[0] if found else None


def trial(stage, tasks, iterations_=None):
    """``stage`` run by ``tasks`` MPI ranks (relion_refine as ``relion_refine_mpi`` above one,
    and back), and with ``iterations_`` instead of its ``--iter``: its outputs and the steps
    that read them follow (``_itNNN_``). For short trials (relionbench.longrun.tune)."""
    now = iterations(stage)

    def adapt(text):
        if iterations_ is None or now is None:
            return text
        return ITER.sub(f'--iter {iterations_}', text).replace(f'_it{now:03d}_',
                                                                f'_it{iterations_:03d}_')

    steps = []
    for s in stage.steps:
        program = s.program
        if s.refine and '--auto_refine' not in s.options:
            program = 'relion_refine_mpi' if tasks > 1 else 'relion_refine'
        steps.append(replace(s, program=program, options=adapt(s.options),
                             outputs=tuple(adapt(o) for o in s.outputs)))
    return replace(stage, steps=tuple(steps))
