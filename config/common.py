"""Settings shared by every system: where results go, logging, the results database.

Everything ReFrame writes (stage and output folders, perflogs, run reports, processor
topology, the results database) goes under one folder: reframe's ``--prefix`` (or
``$RFM_PREFIX``), else ``$RELIONBENCH_RUNS``, by default ``relionbench-runs/`` in this
checkout, never ``~/.reframe``. ``-s/--stage`` and ``-o/--output`` override the stage and
output folders as ReFrame documents. Stage and output folders
have one sub-folder per session (``<date>T<time>-<pid>``).
"""

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from reframe.core.exceptions import ConfigError

from relionbench.constants import (
    FEAT_APPTAINER,
    FEAT_SINGULARITY,
    PERFLOG_FIELDS,
    PERFVAR_FIELDS,
    X_EXCLUSIVE,
    X_LAUNCHER_OPTIONS,
)
from relionbench.run import settings

CHECKOUT = Path(__file__).resolve().parent.parent


def reframe_prefix(argv):
    """The folder of reframe's ``--prefix DIR`` in ``argv`` (None without one): ReFrame reads
    this configuration before its options, and the suite's folders all follow the prefix."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument('--prefix')
    return parser.parse_known_args(argv)[0].prefix


RUNS = os.path.abspath(reframe_prefix(sys.argv[1:]) or os.environ.get('RFM_PREFIX') or
                       os.environ.get('RELIONBENCH_RUNS', CHECKOUT / 'relionbench-runs'))
if any(c in RUNS for c in '$`'):
    # ReFrame expands variables and runs $(...) and `...` in its report and database paths
    raise ConfigError(f'RELIONBENCH_RUNS={RUNS!r}: choose a folder without "$" or "`" '
                     '(ReFrame would expand them, and run commands in them)')
_WRONG = settings.problem(sys.argv[1:])
if _WRONG:                      # before anything runs: one line, and ReFrame exits non-zero
    raise ConfigError(_WRONG)
os.makedirs(RUNS, exist_ok=True)
SESSION = f'{time.strftime("%Y%m%dT%H%M%S")}-{os.getpid()}'
"""Stage and output folders are per session: two suite runs at once never share a folder."""


def podman_runtime():
    """(container_platforms, features) of a partition on a machine with podman installed
    (RELION then runs in an image with ``-S container_image=REFERENCE``); empty without."""
    from relionbench.builds.podman import available
    from relionbench.run import podman
    return ([{'type': podman.PLATFORM}], [podman.FEATURE]) if available() else ([], [])


def modules_system():
    """Lmod where it is installed, else none: every system loads on any machine."""
    return 'lmod' if os.environ.get('LMOD_CMD') or shutil.which('lmod') else 'nomod'


def system(name, descr, hostnames, partitions):
    """A system entry with the suite's folders and module system filled in."""
    return {
        'name': name,
        'descr': descr,
        'hostnames': hostnames,
        'modules_system': modules_system(),
        'prefix': RUNS,
        'stagedir': f'{RUNS}/stage/{SESSION}',
        'outputdir': f'{RUNS}/output/{SESSION}',
        'partitions': partitions,
    }


def slurm_partition(name, descr, features, extras, environs, access=(), exclusive=True,
                    max_jobs=4, launcher_options=(), env_vars=None):
    """A Slurm partition launching MPI with srun, offering the builds named in ``environs``;
    a ``gpu`` feature adds the GRES request and an ``apptainer`` or ``singularity`` feature
    the container runtime RELION runs in. ``access``: options every job gets (partition,
    account, QOS, constraint); ``exclusive``: each stage's job asks whole nodes (the
    one-task fixture jobs never do). ``launcher_options``: what every srun of a job gets
    besides the job's CPUs per task (e.g. ``['--mpi=pmix', '--cpu-bind=cores']``);
    ``env_vars``: {name: value} every job of the partition sets (e.g. UCX or OMPI
    settings)."""
    partition = {
        'name': name,
        'descr': descr,
        'scheduler': 'slurm',
        'launcher': 'srun',
        'access': list(access),
        'environs': list(environs),
        'features': list(features),
        'container_platforms': [{'type': kind.capitalize()} for kind in
                                (FEAT_APPTAINER, FEAT_SINGULARITY) if kind in features],
        'max_jobs': max_jobs,
        'env_vars': [[k, str(v)] for k, v in (env_vars or {}).items()],
        'extras': {**extras, X_EXCLUSIVE: exclusive,
                   **({X_LAUNCHER_OPTIONS: list(launcher_options)} if launcher_options else {})},
    }
    if 'gpu' in features:
        partition['resources'] = [{'name': 'gpu', 'options': ['--gres=gpu:{num_gpus_per_node}']}]
    return partition


def environments(name, declared):
    """The ReFrame environments of ``declared`` builds (relionbench.builds) on system
    ``name``; without a module system ReFrame would drop their modules, so they are loaded
    with ``module load`` lines instead."""
    return [b.environment([name], modules_by_hand=modules_system() == 'nomod')
            for b in declared]


def names(declared):
    return [b.name for b in declared]


site_configuration = {
    'general': [{
        'report_file': f'{RUNS}/reports/run-report-{{sessionid}}.json',
        'topology_prefix': f'{RUNS}/topology',
        'check_search_recursive': False,
    }],
    'storage': [{'enable': True, 'sqlite_db_file': f'{RUNS}/results.db'}],
    'logging': [{
        'level': 'debug',
        'handlers': [
            {'type': 'stream', 'name': 'stdout', 'level': 'info', 'format': '%(message)s'},
            {'type': 'file', 'name': f'{RUNS}/reframe.log', 'level': 'debug',
             'format': '[%(asctime)s] %(levelname)s: %(check_info)s: %(message)s',
             'append': True},
        ],
        'handlers_perflog': [{
            'type': 'filelog',
            'basedir': f'{RUNS}/perflogs',
            # one file per case (its own metrics, so the header matches every row)
            'prefix': '%(check_system)s/%(check_partition)s/%(check_case)s',
            'level': 'info',
            'format': '|'.join(f'%({f})s' for f in PERFLOG_FIELDS) + '|%(check_perfvalues)s',
            'format_perfvars': '|'.join(f'%({f})s' for f in PERFVAR_FIELDS) + '|',
            'datefmt': '%FT%T%:z',
            'append': True,
        }],
    }],
}
