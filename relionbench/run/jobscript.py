"""The shell lines of a stage's job script.

The script links the dataset's folders into the stage directory (RELION resolves the
paths in STAR files from the project root), creates the output folders RELION will not
create, then runs every step through ``rb_step``: it records the exit code and the wall
time of each step and stops at the first failure, keeping RELION's own output in
``rb_steps/<index>_<label>.log``; ``rb_steps/running.tsv`` names the step under way and when it
began (``relionbench watch`` reads it). ``measure.py`` wraps each rank to record peak memory.
"""

import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from relionbench import builds
from relionbench.constants import OUT, STEPS_DIR
from relionbench.run import layouts
from relionbench.run.records import DONE

MEASURE = Path(__file__).resolve().parent / 'measure.py'

RB_STEP = f'''rb_step() {{
    # rb_step INDEX LABEL CMD...: run one step, record exit code and wall time, stop on failure
    local idx=$1 label=$2 log t0 t1 rc
    shift 2
    log="{STEPS_DIR}/${{idx}}_${{label}}.log"
    echo "[relionbench] step ${{idx}} ${{label}}: $*"
    t0=$(date +%s.%N)
    printf '%s\\t%s\\t%s\\n' "$idx" "$label" "$t0" >{STEPS_DIR}/running.tsv
    "$@" >"$log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$idx" "$label" "$rc" "$t0" "$t1" >>{STEPS_DIR}/steps.tsv
    if [ "$rc" -ne 0 ]; then
        echo "[relionbench] step ${{idx}} ${{label}} failed with exit code ${{rc}}:" >&2
        tail -n 20 "$log" >&2
        exit "$rc"
    fi
}}'''


class Raw(str):
    """A word left unquoted in the script, for a variable set by the configuration."""


SCRATCH = Raw('"$RB_SCRATCH"')
"""Scratch folder: exported by the check, expanded on the node (it may name $SLURM_JOB_ID)."""


READ_FILE = re.compile(r'^\$\(<[\w./-]+\)$')
"""``$(<path)`` in a stage table: a value an earlier step wrote (e.g. the class to select)."""


def q(args):
    """Shell words: quoted, except Raw words and the stage table's ``$(<file)`` reads."""
    return ' '.join(a if isinstance(a, Raw) else f'"{a}"' if READ_FILE.match(str(a))
                    else shlex.quote(str(a)) for a in args)


def relion_args(step, variant, layout, scratch=False, release=''):
    """The program and its options as ``release`` takes them, with the run's accelerator and
    tuning flags."""
    if step.python:
        return [sys.executable, '-m', step.program, *step.args()]
    args = [step.program, *step.args(release)]
    if step.refine:
        args += layouts.refine_flags(variant, layout.threads, SCRATCH if scratch else '',
                                    layout.pool)
    elif step.threaded:
        args += ['--j', str(layout.threads)]
    return args


@dataclass(frozen=True)
class InImage:
    """How a job script runs RELION in an image: ``wrap(line)`` is the line as the container
    runtime runs it; ``prepare``, lines before the first RELION command (e.g. starting the
    job's container); ``probe_inside``: the memory probe runs in the image too (the runtime
    does not start RELION as the probe's child)."""
    wrap: Callable[[str], str]
    prepare: tuple = ()
    probe_inside: bool = False


def step_line(index, step, variant, layout, launcher='', image=None, scratch=False, release=''):
    """``rb_step`` line of one step; MPI steps go through the launcher, one probe per rank,
    and RELION programs through the image's runtime when given."""
    inside = image is not None and image.probe_inside and not step.python
    probe = ['python3' if inside else sys.executable, MEASURE,
             f'{STEPS_DIR}/{index}_{step.label}.rss', '--']
    program = q(relion_args(step, variant, layout, scratch, release))
    if inside:
        command = image.wrap(f'{q(probe)} {program}')
    else:
        command = f'{q(probe)} {image.wrap(program) if image and not step.python else program}'
    if step.mpi and launcher:
        command = f'{launcher} {command}'
    return f'rb_step {index} {step.label} {command}'


def prepare_lines(stage, dataset_dir, image=None, node_lines=()):
    """Create output folders, prepare every node (``node_lines``, relionbench.run.nodes),
    link the dataset in (never over the job's own files), prepare the image, record the
    RELION build."""
    dirs = sorted({d for s in stage.steps for d in s.output_dirs()} | {OUT, STEPS_DIR})
    version = q(['sh', '-c', builds.version_command()])
    return [
        RB_STEP,
        f'rm -rf {STEPS_DIR} {OUT} && mkdir -p {q(dirs)}',
        *node_lines,
        f'for f in {shlex.quote(str(dataset_dir))}/*; do [ -e "${{f##*/}}" ] || ln -s "$f" .; done',
        *(image.prepare if image else ()),
        f'{image.wrap(version) if image else version} >{STEPS_DIR}/relion_version.txt 2>&1'
        f' || echo "[relionbench] relion_refine not found" >&2',
    ]


def stage_lines(stage, variant, layout, dataset_dir, launcher='', image=None, scratch=False,
                release='', node_lines=()):
    """All commands before the final completion marker (``release``: the build's, for its
    options)."""
    return prepare_lines(stage, dataset_dir, image, node_lines) + [
        step_line(i, s, variant, layout, launcher, image, scratch, release)
        for i, s in enumerate(stage.steps)]


DONE_COMMAND = ('echo', [shlex.quote(DONE)])
