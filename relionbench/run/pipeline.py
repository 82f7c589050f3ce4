"""A GitLab child pipeline for the nightly on a login node: one job per workflow stage and
build, each a reframe session of its own (``scripts/nightly --run-only``), then a report job
that writes the report and sends one alert for them all (``--report-only``). Why the suite
writes its own instead of ``reframe --ci-generate``: docs/results.md."""

import re
import shlex
import subprocess

import yaml

from relionbench import ROOT
from relionbench.run import invoke

LISTED = re.compile(r'^- (\S+) %case=(([^/\s]+)/\S+) /\w+ @\S+?\+(\S+)$', re.M)
"""A case of ``reframe -lC``: check, case (stage/variant/scale), stage, build."""

SETTING = re.compile(r'^(-S|--setvar)(=|$)|^-S.')
"""An option that sets a variable (``-S NAME=VALUE``): it goes to every job."""

TIMEOUT = '3d'
"""Each job's GitLab timeout: the published GPU runs take up to 2 days."""


def cases(system, options=()):
    """{(check, stage, build): [case, ...]} of what ``reframe -lC`` selects on ``system``
    with ``options``, in its order; ValueError with reframe's error when it cannot list."""
    listed = subprocess.run(invoke.command('-lC', '--system', system, *options), cwd=ROOT,
                            env=invoke.environ(), capture_output=True, text=True)
    if listed.returncode != 0:
        error = [line for line in listed.stdout.splitlines() if 'ERROR' in line]
        raise ValueError(f'reframe could not list the checks of {system}: '
                         f'{(error or listed.stderr.splitlines() or ["?"])[-1].strip()}')
    found = {}
    for check, case, stage, build in LISTED.findall(listed.stdout):
        found.setdefault((check, stage, build), [])
        if case not in found[(check, stage, build)]:
            found[(check, stage, build)].append(case)
    return found


def settings(options):
    """The ``-S`` settings among ``options`` (each job gets them; the rest chose the jobs)."""
    picked, given = [], list(options)
    for k, option in enumerate(given):
        if SETTING.match(option):
            picked.append(option)
            if option in ('-S', '--setvar') and k + 1 < len(given):
                picked.append(given[k + 1])
    return picked


def child(system, options=(), tag=None):
    """The child pipeline's YAML text for ``system`` (SYSTEM or SYSTEM:PARTITION)."""
    jobs = cases(system, options)
    if not jobs:
        raise ValueError(f'reframe selects no check on {system} with '
                         f'{shlex.join(options) or "no options"}: no pipeline to write')
    common = settings(options)
    pipeline = {'stages': ['benchmark', 'report'], 'default': {'tags': [tag]} if tag else {}}
    for (check, stage, build), names in jobs.items():
        # ReFrame matches -n against the display name without its spaces
        command = ['scripts/nightly', '--run-only', system, '-n',
                   f'^{check}%case=({"|".join(names)})$', '-p', f'^{build}$', *common,
                   '--report-junit=junit.xml']
        pipeline[f'{check} {stage} {build}'] = {
            'stage': 'benchmark', 'timeout': TIMEOUT, 'script': [shlex.join(command)],
            'artifacts': {'when': 'always', 'reports': {'junit': 'junit.xml'}}}
    pipeline['report'] = {
        'stage': 'report', 'when': 'always',
        'variables': {'RELIONBENCH_SINCE': '$CI_PIPELINE_CREATED_AT'},
        'script': [shlex.join(['scripts/nightly', '--report-only', system])],
        'artifacts': {'when': 'always', 'paths': ['report/'], 'expire_in': '90 days'}}
    if not pipeline['default']:
        del pipeline['default']
    head = (f'# Written by relionbench pipeline --system {shlex.join([system, *options])}: '
            f'{len(jobs)} job(s), one per stage and build, then the report.\n')
    return head + yaml.safe_dump(pipeline, sort_keys=False, width=1000)
