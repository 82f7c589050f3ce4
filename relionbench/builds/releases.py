"""What later RELION releases changed in the options the stage tables use, recorded once.

The stage tables hold each stage as published (RELION 3.1 command lines). A release that
removed an option, or changed the default an option switched, gets a command line with the
same science and no option it does not know (RELION only warns on an unknown option, and
the checks fail on that warning). Read from RELION's own option parsers (src/ml_optimiser.cpp
of tags 3.1.3, 4.0.1 and 5.0.1).
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """One option a release changed, for the programs it concerns."""

    since: str                      #: first release with the change ('4.0')
    programs: tuple                 #: programs (an ``_mpi`` twin included)
    option: str                     #: the option of a 3.1 command line
    present: tuple                  #: what stands for it where the step has it
    absent: tuple = ()              #: what keeps 3.1's default where the step lacks it
    needs: str = ''                 #: ``absent`` only applies to a step with this option
    why: str = ''

    def concerns(self, program):
        return program.removesuffix('_mpi') in self.programs


CHANGES = (
    Change('4.0', ('relion_refine',), '--skip_gridding', present=(),
           absent=('--dont_skip_gridding',),
           why='gridding is skipped by default; --dont_skip_gridding does it'),
    Change('4.0', ('relion_refine',), '--ctf_corrected_ref', present=(),
           absent=('--ctf_uncorrected_ref',), needs='--ref',
           why='references are taken as CTF-corrected; --ctf_uncorrected_ref says otherwise'),
)


def release_key(release):
    """(major, minor) of '5.0' or '5.0.1'; None when unknown (a 3.1 command line is kept)."""
    found = re.match(r'(\d+)\.(\d+)', release or '')
    return (int(found[1]), int(found[2])) if found else None


def adapt(program, args, release):
    """``args`` of ``program`` (a 3.1 command line) as ``release`` takes them."""
    key = release_key(release)
    if key is None:
        return list(args)
    args = list(args)
    for change in CHANGES:
        if not change.concerns(program) or key < release_key(change.since):
            continue
        if change.option in args:
            at = args.index(change.option)
            args[at:at + 1] = change.present
        elif change.absent and (not change.needs or change.needs in args):
            args += change.absent
    return args


def table():
    """The changes as Markdown rows (README)."""
    return [f'| {c.since} | {", ".join(c.programs)} | `{c.option}` | '
            f'{" ".join(c.present) or "(dropped)"} | {" ".join(c.absent) or "-"} | {c.why} |'
            for c in CHANGES]
