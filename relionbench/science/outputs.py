"""Check that an output file exists and parses (STAR with starfile, MRC with mrcfile), and
that a step's outputs hold everything the step must produce."""

import re
from pathlib import Path

import mrcfile
import starfile

MRC = ('.mrc', '.mrcs', '.map')
RECORDS = ('particles', 'micrographs', 'movies')
"""Tables that must not be empty: RELION only warns when, say, extraction finds no particle."""


def problem(path):
    """What is wrong with an output file, or '' when it is present and readable."""
    path = Path(path)
    if not path.is_file():
        return f'{path} was not written' + _last_iteration_note(path)
    if path.stat().st_size == 0:
        return f'{path} is empty'
    try:
        if path.suffix == '.star':
            if not path.read_bytes().endswith(b'\n'):
                return f'{path} is truncated (its last line is incomplete)'
            blocks = starfile.read(path, always_dict=True)
            if not blocks or all(len(b) == 0 for b in blocks.values()):
                return f'{path} holds no STAR data'
            for name, block in blocks.items():
                if hasattr(block, 'iloc') and len(block) and block.iloc[-1].isna().any():
                    return f'{path} is truncated (last row of data_{name} is incomplete)'
                if name in RECORDS and len(block) == 0:
                    return f'{path} lists no {name} (RELION wrote an empty data_{name} table)'
        elif path.suffix in MRC:
            with mrcfile.mmap(path, mode='r', permissive=False) as mrc:
                if mrc.data is None or mrc.data.size == 0:
                    return f'{path} holds no image data'
    except Exception as err:  # noqa: BLE001 - any parse failure is the finding
        return f'{path} is corrupt or truncated ({type(err).__name__}: {err})'
    return ''


def _last_iteration_note(path):
    """For a missing ``_itNNN_`` file: which iteration RELION last wrote."""
    found = re.search(r'_it(\d+)_', path.name)
    if not found:
        return ''
    pattern = path.name.replace(found.group(0), '_it*_')
    done = sorted(int(m.group(1)) for p in path.parent.glob(pattern)
                  if (m := re.search(r'_it(\d+)_', p.name)))
    last = f'iteration {done[-1]}' if done else 'no iteration'
    return f' (RELION wrote {last} of the {int(found.group(1))} asked for)'


KEEPS_EVERY_PARTICLE = ('relion_refine', 'relion_refine_mpi', 'relion_ctf_refine',
                        'relion_ctf_refine_mpi')
"""Programs whose particle outputs hold every particle of their ``--i`` (and Polish's apply,
``relion_motion_refine --combine_frames``)."""


def _particles(path):
    blocks = starfile.read(path, always_dict=True)
    table = blocks.get('particles', next(iter(blocks.values())) if len(blocks) == 1 else None)
    return table if hasattr(table, 'iloc') else None


def shortfall(step, root='.'):
    """What a step's parseable outputs lack, or '': fewer particles than went in, a class
    table with fewer classes than ``--K`` asked for (one for a refinement)."""
    args = step.args()
    options = dict(zip(args, args[1:]))
    keeps = step.program in KEEPS_EVERY_PARTICLE or (
        step.program.startswith('relion_motion_refine') and '--combine_frames' in args)
    given = Path(root, options['--i']) if '--i' in options else None
    expected = None
    if keeps and given and given.suffix == '.star' and given.is_file():
        table = _particles(given)
        expected = None if table is None else len(table)
    for output in step.output_files():
        path = Path(root, output)
        if path.suffix != '.star':
            continue
        blocks = starfile.read(path, always_dict=True)
        particles = blocks.get('particles')
        if expected is not None and hasattr(particles, 'iloc') and len(particles) < expected:
            return (f'{path} lists {len(particles)} particles of the {expected} in '
                    f'{options["--i"]}')
        classes = blocks.get('model_classes')
        if path.name.endswith('_model.star') and hasattr(classes, 'iloc'):
            want = int(options.get('--K', 1))
            if len(classes) < want:
                return f'{path} holds {len(classes)} of the {want} classes asked for (--K)'
    return ''
