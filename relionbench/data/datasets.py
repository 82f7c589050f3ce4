"""Where a workflow's dataset lives, and what to tell the user when it is not there."""

import shlex
from pathlib import Path

from relionbench import ROOT


def locate(dataset, override='', data_root=''):
    """The dataset folder: ``override`` if set, else ``<data_root>/<dataset>``."""
    if override:
        return Path(override).expanduser()
    if data_root:
        return Path(data_root).expanduser() / dataset
    return None


def missing_inputs(folder, inputs):
    """Inputs of a stage that the dataset folder lacks (all of them if it is absent)."""
    if folder is None or not folder.is_dir():
        return list(inputs)
    return [i for i in inputs if not (folder / i).exists()]


def fetch_hint(dataset, folder, missing):
    """One line: what is missing and how to get it."""
    where = folder if folder else '(no data_root in the partition extras)'
    dest = shlex.quote(str(folder.parent)) if folder else 'DATA_ROOT'
    return (f'dataset {dataset} not found at {where} (missing {missing[0]}'
            f'{f" and {len(missing) - 1} more" if len(missing) > 1 else ""}): fetch it with '
            f'{ROOT / "scripts" / "fetch-dataset"} {dataset} --dest {dest}, '
            f'or point -S dataset_dir=PATH at the RELION project folder of an existing copy')
