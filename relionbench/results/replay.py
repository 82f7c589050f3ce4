"""What ``compare`` flags after each session of a history, session by session: how many
runs a change point takes to be named (scripts/measure-changes).

``python -m relionbench.results.replay --replay RUNS`` prints it for the results under RUNS.
"""

import argparse
import sys

from relionbench import results
from relionbench.results import compare


def replay(folder, history=5):
    """What compare flags after each session of the results under ``folder``: lines of text."""
    loaded = results.load(folder)
    sessions = list(dict.fromkeys(loaded.runs.sort_values('time').session))
    lines = []
    for number in range(1, len(sessions) + 1):
        runs = loaded.runs[loaded.runs.session.isin(sessions[:number])]
        table = compare.compare(results.Results(runs, loaded.values), history=history)
        shown = compare.flagged(table)
        lines.append(f'after run {number}: ' + ('nothing flagged' if shown.empty else
                     f'{len(shown)} flagged'))
        lines += [f'  {row.case} {row.metric}: {compare.fmt(row.baseline)} -> '
                  f'{compare.fmt(row.latest)} {row.unit} ({row.change} against the median); '
                  f'{row.status}' + (f', a step of {row.step} began {row.began}' if row.began
                                     else '')
                  for row in shown.itertuples()]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m relionbench.results.replay')
    parser.add_argument('--replay', metavar='RUNS', required=True)
    args = parser.parse_args(argv)
    print('\n'.join(replay(args.replay)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
