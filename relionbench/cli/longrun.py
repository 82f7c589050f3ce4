"""``relionbench watch`` and ``relionbench tune``: running sessions; layouts by trials."""

import sys
from pathlib import Path


def cmd_watch(args):
    """Progress of a running session: live on a terminal, plain lines otherwise."""
    from relionbench import results
    from relionbench.longrun import watch
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

    from relionbench.longrun import tune
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


def add(sub):
    """Add this module's commands to the ``relionbench`` parser."""
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
