"""Layout advice measured instead of guessed: ``relionbench tune [STAGE]``.

Runs the stage once in full at its published layout (the profile: how long each iteration
takes, which is far from constant: the miniature's Class2D spends half its time in iteration
1), then a short trial of every candidate layout (MPI ranks x threads, ``--pool``) through
ReFrame (``-P run_layout=...``, ``-S run_iterations=K``). A candidate's full run is predicted
as its own set-up time plus the profile's iterations scaled by how fast the candidate ran the
same first K iterations, plus its other steps as the trial ran them; the linear guess (the
trial's mean iteration times the count) is printed beside it. The uncertainty is the larger
of the spread of the per-iteration speed ratios and how far the published layout's own trial
strayed from its full run (the same work twice: the machine's noise). ``--verify`` also runs
every candidate in full and prints each prediction's error.

Stages that refine until they converge (``--auto_refine``) are refused: their iteration
count is not known in advance and a trial cannot stop early.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from relionbench import builds, workflows
from relionbench.constants import STEPS_DIR
from relionbench.machine import calibration
from relionbench.run import invoke, records
from relionbench.run.layouts import parse_trial, pool


class TuneError(ValueError):
    """A stage or option tune cannot use; the message says what to give."""


def candidates(published, cores):
    """Layouts worth a trial on nodes of ``cores``: the published one, all cores as threads
    of one process, half of them, one rank per core plus the leader, two-thread followers,
    and the published layout with a small and a large ``--pool``."""
    threads = int(published.split('x')[1])
    found = [published, f'1x{cores}', f'1x{max(1, cores // 2)}', f'{cores + 1}x1']
    if cores >= 4:
        found.append(f'{cores // 2 + 1}x2')
    else:
        found.append(f'2x{cores}')
    found += [f'{published}:10', f'{published}:{max(100, 4 * pool(threads))}']
    return list(dict.fromkeys(found))


@dataclass
class Run:
    """One case's per-step seconds and its refine steps' iterations, from its rb_steps."""
    layout: str
    steps: dict = field(default_factory=dict)          #: label -> seconds
    setup: dict = field(default_factory=dict)          #: refine label -> seconds
    iterations: dict = field(default_factory=dict)     #: refine label -> [seconds]

    @property
    def total(self):
        return sum(self.steps.values())


def read_run(folder, layout):
    """The Run recorded in a check's stage or output folder."""
    run = Run(layout, {r.label: r.seconds for r in records.read_steps(folder)})
    for table in records.steps_dir(folder).glob('*.iterations.tsv'):
        label = table.name.split('_', 1)[1].removesuffix('.iterations.tsv')
        rows = [r.split('\t') for r in table.read_text().splitlines()[1:]]
        run.setup[label] = float(rows[0][1])
        run.iterations[label] = [float(r[1]) for r in rows[1:]]
    return run


@dataclass(frozen=True)
class Prediction:
    layout: str
    trial_seconds: float
    predicted: float
    uncertainty: float
    linear: float
    ratio: float                #: the candidate's iteration time over the profile's


def predict(profile, trial, iterations, noise):
    """The full-run Prediction of ``trial`` (a Run of K iterations) from ``profile`` (the
    full Run at the published layout) and ``noise`` (relative)."""
    predicted = linear = scaled = 0.0
    ratios = []
    for label, seconds in trial.steps.items():
        if label not in trial.iterations:
            predicted += seconds
            linear += seconds
            continue
        tried, full = trial.iterations[label], profile.iterations[label]
        k = len(tried)
        ratio = sum(tried) / sum(full[:k])
        ratios += [t / f for t, f in zip(tried, full[:k]) if f > 0]
        scaled += ratio * sum(full)
        predicted += trial.setup[label] + ratio * sum(full)
        linear += trial.setup[label] + statistics.mean(tried) * iterations
    spread = statistics.stdev(ratios) / statistics.mean(ratios) if len(ratios) > 1 else 0.0
    return Prediction(trial.layout, trial.total, predicted, max(spread, noise) * scaled, linear,
                      statistics.mean(ratios) if ratios else 1.0)


def reframe(args, runs, system, build):
    """Run the suite's reframe on ``system`` with results under ``runs``; the report."""
    runs.mkdir(parents=True, exist_ok=True)
    report = runs / f'report-{len(list(runs.glob("report-*.json")))}.json'
    command = invoke.command('-r', '--system', system, '--exec-policy', 'serial', *args,
                             *(['-p', build] if build else []), '--report-file', str(report))
    done = subprocess.run(command, env=invoke.environ(RELIONBENCH_RUNS=str(runs)),
                          capture_output=True, text=True)
    if not report.exists():
        raise TuneError(f'reframe did not run ({" ".join(command)}):\n{done.stdout[-2000:]}')
    return json.loads(report.read_text())


def cases(report):
    """{layout: Run} of a report's stage cases that ran every step (trials by their layout,
    the unparameterised case as ''); a case that failed before its performance was read (a
    layout RELION refused) is left out."""
    found, environs = {}, set()
    for case in (c for r in report['runs'] for c in r['testcases']):
        if '%case=' not in case['display_name']:
            continue
        if case['result'] != 'pass' and case.get('fail_phase') != 'performance':
            continue
        environs.add(case['environ'])
        if len(environs) > 1:
            raise TuneError(f'several builds ran ({", ".join(sorted(environs))}): name one '
                            'with --build')
        layout = case['display_name'].split('%.run_layout=')[-1].split()[0] \
            if '%.run_layout=' in case['display_name'] else ''
        for folder in (case.get('outputdir'), case.get('stagedir')):
            if folder and Path(folder, STEPS_DIR, 'steps.tsv').exists():
                found[layout] = read_run(folder, layout)
                break
    return found


def tune(stage_name, check='Miniature', system='local', build='', layouts=None, trial=1,
         verify=False, runs=None, cores=None, say=print):
    """Run the profile, the trials (and with ``verify`` the full candidates); returns
    (rows, recommended Prediction, the published layout's Prediction)."""
    workflow = workflows.CHECK_WORKFLOWS.get(check)
    if workflow is None:
        raise TuneError(f'unknown workflow {check!r}: one of '
                        f'{", ".join(workflows.CHECK_WORKFLOWS)}')
    names = [s.name for s in workflow.stages]
    if stage_name not in names:
        raise TuneError(f'{check} has no stage {stage_name!r}: one of {", ".join(names)}')
    stage = workflow.stage(stage_name)
    count = workflows.iterations(stage)
    if not any(s.refine for s in stage.steps) or count is None:
        raise TuneError(f'{check} {stage_name} has no relion_refine step with --iter (a '
                        'refinement runs until it converges, so a trial cannot stop early): '
                        'tune a classification (Class2D, Class3D, ...)')
    if trial >= count:
        raise TuneError(f'--trial-iterations {trial}: {stage_name} runs {count}; give fewer')
    published = stage.cpu_scales[0]
    layouts = layouts or candidates(published, cores or calibration.usable_cores())
    for layout in layouts:
        try:
            parse_trial(layout)
        except ValueError as err:
            raise TuneError(f'--layouts: {err}') from None
    if not build and system.split(':')[0] in ('local', 'ci-slurm'):
        default = builds.data_tools(builds.discover())
        build = f'^{default.name}$' if default else ''
    select = ['-n', f'^{check}(?!Chain).*%case={stage_name}/cpu-plain/']
    runs = Path(runs or Path(os.environ.get('TMPDIR', '/tmp'), f'relionbench-tune-{os.getpid()}'))
    say(f'profile: {check} {stage_name} in full at the published layout {published}')
    profile = cases(reframe(select, runs, system, build)).get('')
    if profile is None:
        raise TuneError(f'the full run of {check} {stage_name} at {published} did not run on '
                        f'{system} (a build with -p? the dataset?); see {runs}')
    say(f'trials: {len(layouts)} layouts, {trial} iteration(s) each')
    param = ['-P', f'run_layout={",".join(layouts)}']
    trials = cases(reframe([*select, *param, '-S', f'run_iterations={trial}'], runs, system,
                           build))
    own = trials.get(published)
    noise = 0.0
    if own:
        noise = abs(predict(profile, own, count, 0.0).predicted / profile.total - 1)
    rows = {layout: predict(profile, trials[layout], count, noise)
            for layout in layouts if layout in trials}
    measured = {}
    if verify:
        say(f'verify: {len(rows)} layouts in full')
        measured = {k: v.total for k, v in cases(reframe([*select, *param], runs, system,
                                                          build)).items()}
    table = []
    for layout, p in rows.items():
        real = measured.get(layout)
        table.append({'layout': layout + (' (published)' if layout == published else ''),
                      'trial_s': p.trial_seconds, 'predicted_s': p.predicted,
                      'plus_minus_s': p.uncertainty, 'linear_s': p.linear,
                      'measured_s': real,
                      'error_pct': 100 * (p.predicted - real) / real if real else None,
                      'linear_error_pct': 100 * (p.linear - real) / real if real else None})
    best = min(rows.values(), key=lambda p: p.predicted) if rows else None
    return table, best, rows.get(published), profile, runs
