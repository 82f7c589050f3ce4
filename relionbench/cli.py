"""The ``relionbench`` command."""

import argparse
import sys
import time
from pathlib import Path


def references_table(system):
    """One row per reference metric: the value, the absolute band ReFrame will apply, source."""
    import pandas as pd
    from reframe.utility.sanity import reference_bounds

    from relionbench import references
    rows = []
    for entry in references.load(system):
        for name, spec in entry.metrics.items():
            value, lower, upper, unit = references.thresholds(name, spec, entry)
            low, high = reference_bounds(value, lower, upper)
            rows.append({'workflow': entry.workflow, 'stage': entry.stage,
                         'variant': entry.variant, 'scale': entry.scale,
                         'partition': entry.partition, 'build': entry.build,
                         'metric': name, 'value': value,
                         'min': f'{low:.6g}', 'max': f'{high:.6g}', 'unit': unit,
                         'source': entry.source})
    return pd.DataFrame(rows)


def cmd_derive(args):
    """YAML references from repeat runs' ReFrame reports (median, tolerance from the spread),
    with the calibration those runs measured."""
    import json

    import yaml

    from relionbench import references, timing
    runs, calibrations = [], []
    for report in args.derive:
        cases = json.loads(Path(report).read_text())['runs'][0]['testcases']
        # a run that missed a reference is still a measurement; one that failed earlier is not
        runs.append({(c['display_name'].split(' /')[0], c['environ']): timing.perf(c)
                     for c in cases
                     if '%case=' in c['display_name'] and
                     (c['result'] == 'pass' or c.get('fail_phase') == 'performance')})
        calibrations += [found for c in cases if c['display_name'].startswith('Calibration')
                         if (found := timing.calibration(c))]
    derived = references.derive(runs, args.system, args.source, [c for c in calibrations if c])
    print(yaml.safe_dump(derived, sort_keys=False, width=100), end='')
    return 0


def cmd_references(args):
    from relionbench import references
    if args.derive:
        return cmd_derive(args)
    try:
        table = references_table(args.system)
    except references.ReferenceError as err:
        print(f'relionbench: {err}', file=sys.stderr)
        return 1
    if table.empty:
        print(f'no references for system {args.system!r} '
              f'(looked for {references.REFERENCE_DIR / (args.system + ".yaml")})')
        return 0
    if args.stage:
        table = table[table.stage == args.stage]
    print(table.to_csv(index=False) if args.csv else table.to_string(index=False))
    return 0


def cmd_builds(args):
    """The RELION builds of this machine (the local system's environments)."""
    from relionbench import builds
    found = builds.discover()
    default = builds.data_tools(found)
    if args.default:
        if not default:
            print('relionbench builds: no RELION found (relion_refine not on PATH, none in '
                  f'${builds.LISTED} or {builds.OPT}/relion-*)', file=sys.stderr)
            return 1
        print(default.name)
        return 0
    for build in found:
        mark = ' (default; makes the miniature)' if build is default else ''
        print(f'{build.name}: RELION {build.version}, {build.accelerator}, '
              f'{build.prefix or build.bindir}{mark}')
    return 0


def cmd_mini_generate(args):
    from relionbench import miniature, synthetic
    start = time.perf_counter()
    try:
        size = synthetic.Size.parse(args.size)
    except ValueError as err:
        print(f'relionbench mini generate: --size: {err}', file=sys.stderr)
        return 2
    how = ''
    try:
        if args.cache:
            key, copied = miniature.prepare_cached(Path(args.out), args.cache, args.seed, size)
            how = f', {"copied from" if copied else "kept in"} {Path(args.cache) / key}'
        else:
            miniature.prepare(Path(args.out), seed=args.seed, size=size)
    except (OSError, RuntimeError) as err:
        print(f'relionbench mini generate: {err}', file=sys.stderr)
        return 1
    took = time.perf_counter() - start
    print(f'prepared {Path(args.out).resolve()} (size {size}{how}) in {took:.1f} s')
    return 0


def _load(args):
    """The results under --runs, or a one-line error (None)."""
    from relionbench import results
    folder = Path(args.runs or results.default_folder()).resolve()
    what = {'auto': 'results database and perflogs', 'db': 'results database',
            'perflogs': 'perflogs'}[args.source]
    try:
        found = results.load(folder, args.source)
    except (OSError, ValueError) as err:
        print(f'relionbench: {err}', file=sys.stderr)
        return None
    if args.system:
        found = results.Results(found.runs[found.runs.system == args.system], found.values)
    if found.empty:
        print(f'relionbench: no results in {args.runs or results.default_folder()} '
              f'(run the suite first, or point --runs at its folder)', file=sys.stderr)
        return None
    count = len(found.runs)
    print(f'relionbench: read {count} run{"s" * (count != 1)} from the {what} under {folder}',
          file=sys.stderr)
    return found


def cmd_report(args):
    from relionbench.workers import Workers
    start = time.perf_counter()
    with Workers() as workers:          # they import matplotlib while the results load
        from relionbench import report, results
        found = _load(args)
        if found is None:
            return 1
        out = Path(args.out or (Path(args.runs or results.default_folder()) / 'report'))
        index = report.write(found, out, last=args.last, workers=workers)
    print(f'report of {len(found.runs)} runs written to {index} '
          f'in {time.perf_counter() - start:.1f} s')
    return 0


def cmd_compare(args):
    from relionbench import compare
    found = _load(args)
    if found is None:
        return 1
    table = compare.compare(found, history=args.history, session=args.session,
                            system=args.system)
    print(table.to_csv(index=False) if args.csv else
          compare.text(table, only_flagged=args.only_flagged))
    if args.alert:
        _alert(found, table, args.system)
    return 1 if not compare.flagged(table).empty else 0


def _alert(found, table, system):
    """Send the alert, if any, and say what became of it; never changes the exit status."""
    from relionbench import alerts, compare
    message = compare.alert_message(found, table, system)
    if message is None:
        print('alert: nothing to report', file=sys.stderr)
        return
    if not alerts.channels():
        print('alert: no channel configured (set RELIONBENCH_WEBHOOK_URL or '
              'RELIONBENCH_SMTP_HOST and RELIONBENCH_SMTP_TO)', file=sys.stderr)
        return
    for outcome in alerts.send(*message):
        print(f'alert: {outcome.channel} {outcome.detail}', file=sys.stderr)


def _recipes(args):
    """The recipes named on the command line (all by default), or a one-line error (None)."""
    from relionbench import containers
    try:
        return containers.recipes(args.names)
    except (OSError, ValueError) as err:
        print(f'relionbench containers: {err}', file=sys.stderr)
        return None


def _print_problems(outcomes):
    """Print ``name + (ok or failed)`` and the problems under each; 1 when any has one."""
    failed = False
    for name, problems, ok, bad in outcomes:
        print(name + (bad if problems else ok))
        for problem in problems:
            print(f'  {problem}')
        failed = failed or bool(problems)
    return 1 if failed else 0


def cmd_containers_list(args):
    import pandas as pd
    found = _recipes(args)
    if found is None:
        return 1
    print(pd.DataFrame([{'recipe': d.name, 'backend': d.backend, 'RELION': d.version,
                         'base image': d.base, 'image': d.image} for d in found])
          .to_string(index=False))
    return 0


def cmd_containers_check(args):
    from relionbench import containers
    found = _recipes(args)
    if found is None:
        return 1
    return _print_problems((f'{d.path.name}: ', containers.problems(d), 'ok', 'FAILED')
                           for d in found)


def cmd_containers_render(args):
    from relionbench import containers
    found = _recipes(args)
    if found is None:
        return 1
    return _print_problems((str(path), problems, '', ': does not re-parse')
                           for path, problems in (containers.render(d, args.out)
                                                  for d in found))


def cmd_containers_build(args):
    import shlex

    from relionbench import containers
    found = _recipes(args)
    if found is None:
        return 1
    if args.runtime == 'podman':
        return _build_with_podman(found, args.build_arg)
    program = containers.runtime()
    if program is None:
        print('relionbench containers build: neither apptainer nor singularity is in PATH; '
              'install Apptainer >= 1.2 or SingularityCE >= 4 (for --build-arg) and run:',
              file=sys.stderr)
        for definition in found:
            print(shlex.join(containers.build_command(definition, args.out, args.build_arg)))
        return 2
    for definition in found:
        status = containers.build(definition, args.out, args.build_arg, program)
        if status:
            print(f'relionbench containers build: {definition.name} failed (exit status '
                  f'{status})', file=sys.stderr)
            return status
    return 0


def _build_with_podman(found, build_args):
    """Build each recipe with podman; the last line printed is the last image's reference."""
    from relionbench import podman
    if not podman.available():
        print('relionbench containers build: podman is not in PATH; install it (Debian: '
              'apt-get install podman runc debootstrap)', file=sys.stderr)
        return 2
    for definition in found:
        status, reference = podman.build(definition, build_args)
        if status:
            print(f'relionbench containers build: {definition.name} failed with podman (exit '
                  f'status {status})', file=sys.stderr)
            return status
        print(reference)
    return 0


def _containers_parser(sub):
    from relionbench import containers
    con = sub.add_parser('containers', help='the RELION container recipes in containers/')
    con_sub = con.add_subparsers(dest='containers_command', required=True)
    commands = {
        'list': (cmd_containers_list, 'list the recipes'),
        'check': (cmd_containers_check, 'validate sections, labels and build flags '
                  '(exit status 1 on a problem)'),
        'render': (cmd_containers_render, 'write the Docker equivalent of each recipe'),
        'build': (cmd_containers_build, 'build the images with apptainer or singularity '
                  '(exit status 2 when neither is installed)'),
    }
    for name, (func, help_text) in commands.items():
        command = con_sub.add_parser(name, help=help_text)
        command.add_argument('names', nargs='*', metavar='RECIPE',
                             help=f'recipe name, e.g. relion-cuda or cuda (default: all in '
                             f'{containers.RECIPES})')
        command.set_defaults(func=func)
        if name == 'render':
            command.add_argument('--out', default='dockerfiles',
                                 help='folder to write (default: dockerfiles/)')
        if name == 'build':
            command.add_argument('--out', default='images',
                                 help='folder for the .sif images (default: images/)')
            command.add_argument('--build-arg', action='append', default=[],
                                 metavar='NAME=VALUE',
                                 help=f'e.g. {containers.VERSION_ARG}=5.0.1 (repeatable)')
            command.add_argument('--runtime', choices=('apptainer', 'podman'),
                                 default='apptainer',
                                 help='apptainer (or singularity): a .sif under --out; podman: '
                                 'an OCI image, its base made with debootstrap when missing; '
                                 'prints the image reference last')


def cmd_watch(args):
    """Progress of a running session: live on a terminal, plain lines otherwise."""
    from relionbench import results, watch
    runs = Path(args.runs or results.default_folder()).resolve()
    try:
        session = watch.find_session(runs, args.session)
    except FileNotFoundError as err:
        print(f'relionbench watch: {err}', file=sys.stderr)
        return 1
    if sys.stdout.isatty() and not args.once:
        try:
            watch.live(session, args.interval)
        except KeyboardInterrupt:
            pass
        return 0
    found = watch.states(session)
    print(f'session {session}: {len(found)} benchmark job(s)')
    for state in found:
        print(watch.line(state))
    return 0


def cmd_tune(args):
    """Short trials of a stage over candidate layouts; the recommended one and the table."""
    import pandas as pd

    from relionbench import tune
    layouts = [x for x in (args.layouts or '').split(',') if x]
    try:
        table, best, published, profile, runs = tune.tune(
            args.stage, args.workflow, args.system, args.build, layouts, args.trial_iterations,
            args.verify, args.runs, args.cores)
    except tune.TuneError as err:
        print(f'relionbench tune: {err}', file=sys.stderr)
        return 1
    tried = {row['layout'].split()[0] for row in table}
    missing = [x for x in (layouts or []) if x not in tried]
    if missing:
        print(f'relionbench tune: no trial result for {", ".join(missing)} (see the runs under '
              f'{runs})', file=sys.stderr)
    frame = pd.DataFrame(table).dropna(axis=1, how='all')
    print(frame.to_string(index=False, float_format=lambda v: f'{v:.1f}'))
    if best is None:
        print('relionbench tune: no trial ran its steps; see the runs under ' + str(runs),
              file=sys.stderr)
        return 1
    print(f'profile: the published layout in full, {profile.total:.1f} s')
    print(f'recommended: {best.layout}, predicted {best.predicted:.1f} s '
          f'+- {best.uncertainty:.1f} s' + (
              f' (published {published.layout}: {published.predicted:.1f} s '
              f'+- {published.uncertainty:.1f} s)' if published else ''))
    print(f'runs: {runs}')
    return 0


def _results_options(parser):
    parser.add_argument('--runs', help='the suite\'s results folder (default: $RFM_PREFIX, '
                        '$RELIONBENCH_RUNS or relionbench-runs/ in the checkout)')
    parser.add_argument('--source', choices=('auto', 'db', 'perflogs'), default='auto',
                        help='read the results database, the perflogs, or both (default)')
    parser.add_argument('--system', help='only this system')


def main(argv=None):
    parser = argparse.ArgumentParser(prog='relionbench', description=__doc__)
    sub = parser.add_subparsers(dest='command', required=True)
    bld = sub.add_parser('builds', help="this machine's RELION builds (the local system's "
                         'environments; -p NAME picks them)')
    bld.add_argument('--default', action='store_true',
                     help='print only the default build (the one that makes the miniature)')
    bld.set_defaults(func=cmd_builds)
    ref = sub.add_parser('references', help='print the references applied on a system')
    ref.add_argument('--system', required=True, help='system name, e.g. scarf')
    ref.add_argument('--stage', help='only this stage, e.g. Class2D')
    ref.add_argument('--csv', action='store_true', help='CSV instead of a table')
    ref.add_argument('--derive', nargs='+', metavar='REPORT',
                     help='print YAML references derived from repeat runs (ReFrame run reports)')
    ref.add_argument('--source', default='repeat runs', help='source text for --derive')
    ref.set_defaults(func=cmd_references)
    rep = sub.add_parser('report', help='write tables and plots of the results (index.html)')
    _results_options(rep)
    rep.add_argument('--out', help='folder to write (default: <runs>/report)')
    rep.add_argument('--last', type=int, default=10,
                     help='runs shown per stage table (default 10; the plots show all)')
    rep.set_defaults(func=cmd_report)
    cmp = sub.add_parser('compare', help='compare the latest run of each check with its history '
                         '(exit status 1 when something regressed)')
    _results_options(cmp)
    cmp.add_argument('--history', type=int, default=5,
                     help='baseline: median of this many previous runs (default 5)')
    cmp.add_argument('--session', help='baseline: the run in this ReFrame session (uuid)')
    cmp.add_argument('--only-flagged', action='store_true', help='print only what is flagged')
    cmp.add_argument('--csv', action='store_true', help='CSV instead of a table')
    cmp.add_argument('--alert', action='store_true',
                     help='post missed references and regressions of the newest session to '
                     'the webhook / email set in the environment')
    cmp.set_defaults(func=cmd_compare)
    tun = sub.add_parser('tune', help='short trials of a stage over candidate layouts (ranks '
                         'x threads, --pool): the predicted full-run time of each and the '
                         'recommended one')
    tun.add_argument('stage', nargs='?', default='Class2D',
                     help='a stage with --iter iterations (default Class2D)')
    tun.add_argument('--workflow', default='Miniature',
                     help='the check: Miniature (default), MiniRibosome, Aldolase, Ribosome')
    tun.add_argument('--system', default='local', help='reframe --system (default local)')
    tun.add_argument('--build', default='', help='reframe -p: one build (default on local '
                     'and ci-slurm: the default build, `relionbench builds --default`)')
    tun.add_argument('--layouts', help='comma-separated TASKSxTHREADS[:POOL] (default: the '
                     'published layout and its variations for this machine\'s cores)')
    tun.add_argument('--cores', type=int, help='cores per node for the default candidates '
                     '(default: the cores this process may use)')
    tun.add_argument('--trial-iterations', type=int, default=1,
                     help='iterations of each trial (default 1)')
    tun.add_argument('--verify', action='store_true',
                     help='also run every candidate in full and print the prediction errors')
    tun.add_argument('--runs', help='folder for the runs (default: a new one under $TMPDIR)')
    tun.set_defaults(func=cmd_tune)
    wat = sub.add_parser('watch', help='progress of a running session: step, iteration, '
                         'elapsed time, the time left and whether it fits the time limit')
    wat.add_argument('session', nargs='?', default='',
                     help='a session folder name under <runs>/stage or a stage folder '
                     '(default: the newest)')
    wat.add_argument('--runs', help="the suite's results folder (default: $RFM_PREFIX, "
                     '$RELIONBENCH_RUNS or relionbench-runs/ in the checkout)')
    wat.add_argument('--once', action='store_true',
                     help='print one snapshot and exit, even on a terminal')
    wat.add_argument('--interval', type=float, default=2.0,
                     help='seconds between refreshes of the live display (default 2)')
    wat.set_defaults(func=cmd_watch)
    _containers_parser(sub)
    mini = sub.add_parser('mini', help='the synthetic miniature dataset')
    mini_sub = mini.add_subparsers(dest='mini_command', required=True)
    gen = mini_sub.add_parser('generate', help='simulate the data and prepare every stage input')
    gen.add_argument('--out', required=True, help='folder to write (created if missing)')
    gen.add_argument('--seed', type=int, default=0, help='simulation seed (default 0)')
    gen.add_argument('--size', default='small',
                     help='BOXxPARTICLES (e.g. 96x440) or small (48x440, the default), '
                     'medium (96x440), large (144x440)')
    gen.add_argument('--cache', help='a folder that keeps miniatures by what made them: copy '
                     'the one made from the same seed, size, suite code and RELION, or make '
                     'it there first')
    gen.set_defaults(func=cmd_mini_generate)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
