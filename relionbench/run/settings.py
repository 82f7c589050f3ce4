"""The checks' ``-S`` settings checked before anything runs: the configuration reads them
from ReFrame's command line (``config/common.py``), and a value out of range stops the
session with one line saying what to give."""

import argparse

from relionbench.run import layouts

CHECKED = ('time_tolerance', 'resolution_shells', 'run_iterations', 'run_layout')
TYPES = {'time_tolerance': float, 'resolution_shells': int, 'run_iterations': int,
         'run_layout': str}
KINDS = {float: 'a number', int: 'a whole number'}


def given(argv):
    """{setting: value as written} of ReFrame's ``-S [CLASS.]NAME=VALUE`` in ``argv``, for
    the settings checked here."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument('-S', '--setvar', action='append', default=[])
    found = {}
    for item in parser.parse_known_args(argv)[0].setvar:
        name, _, value = item.partition('=')
        name = name.rsplit('.', 1)[-1]
        if name in CHECKED:
            found[name] = value
    return found


def problem(argv):
    """What is wrong with the ``-S`` settings in ``argv`` ('' when nothing)."""
    for name, text in given(argv).items():
        try:
            value = TYPES[name](text)
        except ValueError:
            return f'-S {name}={text}: not {KINDS[TYPES[name]]}'
        wrong = _range(name, value)
        if wrong:
            return f'-S {name}={text}: {wrong}'
    return ''


def _range(name, value):
    if name == 'time_tolerance' and not 0 < value <= 10:
        return 'give a relative tolerance above 0 and at most 10 (0.2 allows 20 % slower)'
    if name == 'resolution_shells' and not 0 <= value <= 50:
        return 'give a number of Fourier shells from 0 to 50 (the default is 2)'
    if name == 'run_iterations' and value < 0:
        return 'give 0 (as the stage table says) or more'
    if name == 'run_layout' and value:
        try:
            layouts.parse_trial(value)
        except ValueError as err:
            return str(err)
    return ''
