"""Check that an output file exists and parses: STAR with starfile, MRC with mrcfile."""

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
        return f'{path} was not written'
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
