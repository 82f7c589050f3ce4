"""A system declared in ``config/systems/<name>.py`` checked without running anything: its
partitions and their extras and options, its builds and their images, and its references
matched to the checks it can run. Every problem is one line naming the partition, build or
reference entry and what to do."""

from pathlib import Path

from relionbench import constants as c
from relionbench.choices import not_one_of
from relionbench.machine import clustershape
from relionbench.results import references
from relionbench.workflows import WORKFLOWS

EXTRAS = {v for k, v in vars(c).items() if k.startswith('X_')}
"""Every partition extra the suite reads."""
NUMBERS = (c.X_CORES, c.X_GPUS, c.X_MAX_NODES, c.X_MEM_GB, c.X_GPU_THREADS)


def problems(name, module=None, reference_dir=references.REFERENCE_DIR):
    """(problems, summary) of system ``name`` (its ``config/systems`` module unless given):
    one line per problem, and what was checked."""
    module = module or clustershape.system_module(name)
    partitions = module.system['partitions']
    environs = {e['name']: e for e in module.environments}
    found = []
    for part in partitions:
        found += _partition(part, environs)
    found += _builds(partitions, environs)
    try:
        entries = references.load(name, reference_dir, builds=sorted(environs),
                                  partitions=[p['name'] for p in partitions])
    except references.ReferenceError as err:
        return [*found, str(err)], ''
    for number, entry in enumerate(entries, start=1):
        if not _runnable(entry, partitions, environs):
            found.append(f'reference/{name}.yaml: entry {number} ({entry.stage} '
                         f'{entry.variant} {entry.scale}, build {entry.build}, partition '
                         f'{entry.partition}) matches no check of {name}: no partition '
                         'offers that variant with that build')
    summary = (f'{name}: {len(partitions)} partition(s), {len(environs)} build(s), '
               f'{len(entries)} reference(s)')
    return found, summary


def _partition(part, environs):
    where = f'partition {part["name"]}'
    found = []
    extras = part.get('extras', {})
    for key, value in extras.items():
        if key not in EXTRAS:
            found.append(f'{where}: {not_one_of("extra", key, sorted(EXTRAS))}')
        elif key in NUMBERS and (not isinstance(value, int) or value < 0):
            found.append(f'{where}: extra {key}={value!r}: give a whole number')
    if part.get('scheduler') in ('slurm', 'squeue') and not extras.get(c.X_CORES):
        found.append(f'{where}: no {c.X_CORES}: the layouts need the cores of a node')
    if c.FEAT_GPU in part.get('features', []) and not extras.get(c.X_GPUS):
        found.append(f'{where}: a gpu partition without {c.X_GPUS}')
    for option in [*part.get('access', []), *extras.get(c.X_LAUNCHER_OPTIONS, [])]:
        if not str(option).startswith('-'):
            found.append(f'{where}: option {option!r} is not an option (write --name=value)')
    if '--exclusive' in part.get('access', []):
        found.append(f'{where}: --exclusive in access makes the one-task fixture jobs '
                     'exclusive too: drop it (slurm_partition asks it for the stages)')
    for env in part.get('environs', []):
        if env not in environs:
            found.append(f'{where}: build {env!r} is offered but not declared in environments')
    return found


def _builds(partitions, environs):
    found = []
    for name, env in environs.items():
        image = env.get('extras', {}).get('relion_image', '')
        if not image:
            continue
        for part in partitions:
            folder = part.get('extras', {}).get(c.X_IMAGE_DIR, '')
            if name in part.get('environs', []) and folder and Path(folder).is_dir() \
                    and not (Path(folder) / image).exists():
                found.append(f'build {name}: image {image} not in {folder} (partition '
                             f'{part["name"]}): build it with relionbench containers build')
    return found


def _runnable(entry, partitions, environs):
    """Whether a check of this system would look the entry up."""
    stage = next((s for w in WORKFLOWS.values() for s in w.stages
                  if s.workflow == entry.workflow and s.name == entry.stage), None)
    part_feature = c.VARIANT_FEATURES[entry.variant].lstrip('+')
    build_features = {f.lstrip('+') for f in c.VARIANT_BUILDS[entry.variant].split()}
    if stage is not None and stage.needs:
        build_features.add(stage.needs)
    for part in partitions:
        if part_feature not in part.get('features', []) or \
                entry.partition not in ('*', part['name']):
            continue
        for env_name in part.get('environs', []):
            env = environs.get(env_name, {})
            if build_features <= set(env.get('features', [])) and \
                    entry.build in ('*', env_name):
                return True
    return False
