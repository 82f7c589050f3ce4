"""ReFrame configuration: common.py plus one file per system under systems/.

Point ReFrame here with ``RFM_CONFIG_FILES=config/settings.py``. Systems are tried in
order; ``local`` matches any hostname and so comes last.
"""

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE, HERE.parent):            # common.py, and relionbench without installing
    if str(path) not in sys.path:
        sys.path.append(str(path))             # append: ReFrame restores sys.path by index

import common  # noqa: E402


def _load(path):
    spec = importlib.util.spec_from_file_location(f'relionbench_config_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_systems = sorted((HERE / 'systems').glob('*.py'), key=lambda p: (p.stem == 'local', p.stem))
_modules = [_load(p) for p in _systems]

site_configuration = {
    **common.site_configuration,
    'systems': [m.system for m in _modules],
    'environments': [env for m in _modules for env in m.environments],
}
