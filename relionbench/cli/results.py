"""``relionbench report`` and ``relionbench compare``: the results of past sessions."""

import argparse
import os
import sys
import time
from pathlib import Path

from relionbench.choices import not_one_of


def _results_options(parser):
    parser.add_argument('--runs', help='the suite\'s results folder (default: $RFM_PREFIX, '
                        '$RELIONBENCH_RUNS or relionbench-runs/ in the checkout)')
    parser.add_argument('--source', choices=('auto', 'db', 'perflogs'), default='auto',
                        help='read the results database, the perflogs, or both (default)')
    parser.add_argument('--system', help='only this system')


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
    if args.system and not found.empty and args.system not in set(found.runs.system):
        print(f'relionbench: {not_one_of("--system", args.system, sorted(set(found.runs.system)))}'
              f' (the systems with results in {folder})', file=sys.stderr)
        return None
    if args.system:
        found = results.Results(found.runs[found.runs.system == args.system], found.values)
    if getattr(args, 'session', None) and args.session not in set(found.runs.session):
        latest = found.runs.sort_values('time').session.dropna().unique()[-5:][::-1]
        print(f'relionbench: --session {args.session!r} is not a session of these results; '
              f'the latest: {", ".join(latest)}', file=sys.stderr)
        return None
    if found.empty:
        print(f'relionbench: no results in {args.runs or results.default_folder()} '
              f'(run the suite first, or point --runs at its folder)', file=sys.stderr)
        return None
    count = len(found.runs)
    print(f'relionbench: read {count} run{"s" * (count != 1)} from the {what} under {folder}',
          file=sys.stderr)
    return found


def cmd_report(args):
    from relionbench.report.workers import Workers
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
    from relionbench.results import compare
    found = _load(args)
    if found is None:
        if args.alert and args.since:
            _send(*compare.did_not_run(args.system, args.since),
                  args.report or _report_link())
        return 1
    table = compare.compare(found, history=args.history, session=args.session,
                            system=args.system)
    print(table.to_csv(index=False) if args.csv else
          compare.text(table, only_flagged=args.only_flagged))
    if args.alert:
        _alert(found, table, args.system, args.report or _report_link(), args.since)
    return 1 if not compare.flagged(table).empty else 0


def _alert(found, table, system, report='', since=None):
    """Send the alert, if any, and say what became of it; never changes the exit status."""
    from relionbench.results import compare
    message = compare.alert_message(found, table, system, since)
    if message is None:
        print('alert: nothing to report', file=sys.stderr)
        return
    _send(*message, report)


def _send(subject, text, report=''):
    """Send an alert on every channel configured; False when none took it."""
    from relionbench.results import alerts
    text += f'\n\nReport: {report}' if report else ''
    if not alerts.channels():
        print('alert: no channel configured (set RELIONBENCH_WEBHOOK_URL or '
              'RELIONBENCH_SMTP_HOST and RELIONBENCH_SMTP_TO)', file=sys.stderr)
        return False
    outcomes = alerts.send(subject, text)
    for outcome in outcomes:
        print(f'alert: {outcome.channel} {outcome.detail}', file=sys.stderr)
    return any(o.ok for o in outcomes)


def cmd_alert(args):
    """An alert of the caller's own (the nightly's when the benchmark did not run)."""
    text = sys.stdin.read() if args.text == '-' else args.text
    return 0 if _send(args.subject, text, args.report or _report_link()) else 1


def _moment(text):
    """--since: an ISO 8601 time (UTC unless it says otherwise)."""
    import pandas as pd
    try:
        moment = pd.Timestamp(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an ISO 8601 time '
                                         f'(e.g. 2026-12-06T01:00:00Z)') from None
    return moment.tz_localize('UTC') if moment.tzinfo is None else moment


def _report_link():
    """Where the alert says the report is: $RELIONBENCH_REPORT_URL, else '' ."""
    return os.environ.get('RELIONBENCH_REPORT_URL', '')


def add(sub):
    """Add this module's commands to the ``relionbench`` parser."""
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
    cmp.add_argument('--report', help='the report\'s address, named in the alert (default: '
                     '$RELIONBENCH_REPORT_URL)')
    cmp.add_argument('--since', type=_moment, help='the alert covers every run since this '
                     'ISO 8601 time (a pipeline of several sessions), not the newest session '
                     'alone; none since then: it says the benchmark did not run')
    cmp.set_defaults(func=cmd_compare)
    alert = sub.add_parser('alert', help='post an alert of your own to the webhook / email '
                           'set in the environment (exit status 1 when none took it)')
    alert.add_argument('subject')
    alert.add_argument('text', help="the message ('-': read it from standard input)")
    alert.add_argument('--report', help='the report\'s address (default: '
                       '$RELIONBENCH_REPORT_URL)')
    alert.set_defaults(func=cmd_alert)
