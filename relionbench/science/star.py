"""Reading RELION's STAR files: by block and label with ``starfile``, never by line number."""

import re
from pathlib import Path

import starfile


def blocks(path):
    """Every block of a STAR file, by name."""
    return starfile.read(path, always_dict=True)


def single(block, label):
    """A value of a key-value STAR block (starfile gives a one-row table or a dict)."""
    value = block[label]
    return float(value.iloc[0] if hasattr(value, 'iloc') else value)


def last_iteration(prefix):
    """``<prefix>_itNNN_model.star`` of the highest NNN."""
    prefix = Path(prefix)
    found = [(int(m.group(1)), p) for p in prefix.parent.glob(f'{prefix.name}_it*_model.star')
             if (m := re.search(r'_it(\d+)_model\.star$', p.name))]
    if not found:
        raise FileNotFoundError(f'no {prefix}_it*_model.star')
    return max(found)[1]
