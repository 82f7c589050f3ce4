"""The shape of a declared Slurm system, for ``scripts/slurm-pseudo-cluster up --like SYSTEM``:
its Slurm partitions and, per node, the features its access options constrain to, cores,
memory and GPUs, and as many nodes as its checks may span.

``python -m relionbench.machine.clustershape SYSTEM`` prints the node and partition lines of a
slurm.conf (without addresses: the script gives each node its own).
"""

import importlib.util
import re
import sys
from dataclasses import dataclass, replace

from relionbench import ROOT
from relionbench import constants as c

CONFIG = ROOT / 'config'


@dataclass(frozen=True)
class Partition:
    """A Slurm partition of the shape and the nodes it has."""
    name: str
    default: bool
    nodes: tuple
    cores: int
    mem_mib: int
    gpus: int
    features: tuple


def system_module(name):
    """The module of ``config/systems/NAME.py``; a clear error for a system not declared."""
    path = CONFIG / 'systems' / f'{name}.py'
    if not path.is_file():
        known = ', '.join(sorted(p.stem for p in (CONFIG / 'systems').glob('*.py')))
        raise SystemExit(f'clustershape: no system {name!r} in {CONFIG}/systems (known: {known})')
    for folder in (CONFIG, CONFIG.parent):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    spec = importlib.util.spec_from_file_location(f'relionbench_like_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _option(access, name):
    """The value of ``--NAME=VALUE`` (or ``--NAME VALUE``) in an access list, or ''."""
    for i, item in enumerate(access):
        if item.startswith(f'--{name}='):
            return item.split('=', 1)[1]
        if item == f'--{name}' and i + 1 < len(access):
            return access[i + 1]
    return ''


def partitions(system):
    """The Slurm partitions a system's ReFrame partitions reach (by their ``--partition``
    access option; without one, Slurm's default partition, named after the first)."""
    found = {}
    for part in system['partitions']:
        if part.get('scheduler') != 'slurm':
            continue
        access, extras = part.get('access', []), part.get('extras', {})
        name = _option(access, 'partition')
        features = tuple(f for f in re.split(r'[&|,()\[\]]|\*\d+', _option(access, 'constraint'))
                         if f)
        key = name or ''
        if key in found:
            continue
        label = name or part['name']
        count = max(1, int(extras.get(c.X_MAX_NODES, 1)))
        found[key] = Partition(
            name=label, default=not name, nodes=tuple(f'{label}-{k}' for k in range(1, count + 1)),
            cores=int(extras.get(c.X_CORES, 1)), mem_mib=int(extras.get(c.X_MEM_GB, 1)) * 1024,
            gpus=int(extras.get(c.X_GPUS, 0)), features=features)
    if not found:
        raise SystemExit(f'clustershape: system {system["name"]!r} has no Slurm partition')
    if not any(p.default for p in found.values()):
        first = next(iter(found))
        found[first] = replace(found[first], default=True)
    return list(found.values())


def conf_lines(shape):
    """slurm.conf NodeName and PartitionName lines (no NodeAddr, no State)."""
    lines = []
    for part in shape:
        for node in part.nodes:
            line = f'NodeName={node} CPUs={part.cores} RealMemory={part.mem_mib}'
            if part.gpus:
                line += f' Gres=gpu:{part.gpus}'
            if part.features:
                line += f' Feature={",".join(part.features)}'
            lines.append(line)
    for part in shape:
        lines.append(f'PartitionName={part.name} Nodes={",".join(part.nodes)}'
                     f' Default={"YES" if part.default else "NO"} MaxTime=INFINITE State=UP')
    return lines


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit('usage: python -m relionbench.machine.clustershape SYSTEM')
    print('\n'.join(conf_lines(partitions(system_module(args[0]).system))))


if __name__ == '__main__':
    main()
