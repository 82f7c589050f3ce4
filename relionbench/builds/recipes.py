"""The RELION container recipes in ``containers/``: parse, check, render, build.

Definitions are Apptainer/Singularity files parsed with spython. ``check`` validates what
the suite relies on: sections, labels, the RELION version argument and the build flags of
the recipe's backend. ``render`` writes the Docker equivalent; spython's own writer loses
``%files`` destinations, writes labels as ``LABEL key value`` and runs each ``%post`` line
in its own shell, so the suite writes Dockerfiles itself from spython's parse. ``build``
calls ``apptainer build`` or ``singularity build``.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from spython.main.parse.parsers import DockerParser, SingularityParser

from relionbench import ROOT

RECIPES = ROOT / 'containers'
VERSION_ARG = 'RELION_VERSION'
SECTIONS = ('arguments', 'labels', 'help', 'environment', 'post', 'test', 'runscript')
PACKAGED = 'debian'
"""``relion.source`` of a recipe that installs a distribution's RELION package (it passes
no build flags; its %post installs ``relion={{ RELION_VERSION }}-*``)."""
LABELS = ('relion.version', 'relion.backend', 'relion.compiler', 'relion.flags',
          'relion.cmake', 'relion.run')
SUPPORTED_VERSIONS = re.compile(r'^(3\.1|5\.0)\.\d+$')
CUDA_ARCHS = {'70': 'V100', '80': 'A100', '90': 'H100'}

#: CMake options (and compiler flags) every recipe of a backend must pass in ``%post``
BACKEND_FLAGS = {
    'ALTCPU': ('-DALTCPU=ON', '-DMKLFFT=ON', '-xCOMMON-AVX512'),
    'CUDA': ('-DCUDA=ON',),
    'plain': ('-DALTCPU=OFF', '-DCUDA=OFF'),
}
COMMON_FLAGS = ('-DGUI=OFF', '-DCMAKE_BUILD_TYPE=Release', '-DFETCH_WEIGHTS=OFF')
PLACEHOLDER = re.compile(r'\{\{\s*(\w+)\s*\}\}')


class _Parser(SingularityParser):
    """spython's parser, also keeping every section's lines as written (``%arguments``,
    ``%help``, ``%test`` and ``%runscript`` included, which spython folds into others)."""

    KEEP_ONLY = ('arguments', 'help', 'test', 'runscript')

    def __init__(self, path):
        self.sections = {}
        super().__init__(str(path))

    def _get_mapping(self, section):
        section = section.lower()
        original = None if section in self.KEEP_ONLY else super()._get_mapping(section)

        def record(lines, *layer):
            self.sections.setdefault(section, []).extend(lines)
            if original:
                original(lines, *layer)
        return record


@dataclass
class Definition:
    """One recipe: its base image, sections and the values the checks read."""

    name: str
    path: Path
    base: str
    sections: dict
    labels: dict
    arguments: dict
    environ: list
    files: list

    @property
    def backend(self):
        return self.labels.get('relion.backend', '')

    @property
    def packaged(self):
        """Whether the recipe installs a distribution's package rather than building."""
        return self.labels.get('relion.source') == PACKAGED

    @property
    def version(self):
        return self.arguments.get(VERSION_ARG, '')

    @property
    def image(self):
        """File name of the image built with the recipe's own RELION version."""
        return self.image_name()

    def image_name(self, version=None):
        """File name of the image of RELION ``version`` (default: the recipe's): the recipe,
        the version and the accelerator, ``relion-cuda-5.0.1-cuda.sif``."""
        return f'{self.name}-{version or self.version}-{self.backend.lower()}.sif'


def parse(path):
    """The Definition in ``path`` (spython parse)."""
    path = Path(path)
    parser = _Parser(path)
    recipe = next(iter(parser.recipe.values()))
    sections = parser.sections
    labels = dict(_pair(line, ' ') for line in sections.get('labels', []))
    arguments = dict(_pair(line, '=') for line in sections.get('arguments', []))
    files = [tuple(line.split(None, 1)) if ' ' in line.strip() else (line, line)
             for line in recipe.files]
    return Definition(path.stem, path, recipe.fromHeader or '', sections, labels, arguments,
                      recipe.environ, files)


def _pair(line, sep):
    key, _, value = line.strip().partition(sep)
    return key.strip(), value.strip()


def recipes(names=()):
    """The Definitions in ``containers/`` (all, or those named by file name or stem)."""
    found = sorted(RECIPES.glob('*.def'))
    if not names:
        return [parse(p) for p in found]
    chosen = []
    for name in names:
        match = [p for p in found if name in (p.name, p.stem, p.stem.removeprefix('relion-'))]
        if not match and Path(name).is_file():
            match = [Path(name)]
        if not match:
            known = ', '.join(p.stem for p in found)
            raise ValueError(f'no container recipe {name!r}: choose from {known}')
        chosen.append(parse(match[0]))
    return chosen


def problems(definition):
    """What is wrong with a definition, one line each (empty when it passes)."""
    d = definition
    found = []
    if not d.base:
        found.append('no "From:" base image')
    found += [f'missing section %{s}' for s in SECTIONS if not d.sections.get(s)
              and not (s == 'environment' and d.packaged)]     # a package needs no PATH
    found += [f'missing label {label}' for label in LABELS if not d.labels.get(label)]
    if not SUPPORTED_VERSIONS.match(d.version):
        found.append(f'%arguments {VERSION_ARG}={d.version or "?"}: give a 3.1.x or 5.0.x '
                     'default')
    post = '\n'.join(d.sections.get('post', []))
    if VERSION_ARG not in PLACEHOLDER.findall(post):
        found.append(f'%post does not use {{{{ {VERSION_ARG} }}}}')
    if VERSION_ARG not in PLACEHOLDER.findall(d.labels.get('relion.version', '')):
        found.append(f'label relion.version does not record {{{{ {VERSION_ARG} }}}}')
    used = set(PLACEHOLDER.findall(d.path.read_text()))
    found += [f'{{{{ {name} }}}} has no default in %arguments'
              for name in sorted(used - set(d.arguments))]
    if d.backend not in BACKEND_FLAGS:
        found.append(f'label relion.backend={d.backend!r}: one of {", ".join(BACKEND_FLAGS)}')
    if d.packaged:
        if not re.search(r'relion=(\$\{RELION_VERSION\}|\{\{ RELION_VERSION \}\})-\*', post):
            found.append('%post does not install relion=${RELION_VERSION}-* (relion.source '
                         f'{PACKAGED})')
    else:
        flags = (*COMMON_FLAGS, *BACKEND_FLAGS.get(d.backend, ()))
        found += [f'%post does not pass {flag}' for flag in flags if flag not in post]
    if d.backend == 'CUDA':
        archs = set(re.findall(r'CUDA_ARCH=(\d+)', post)) | set(re.findall(r'sm_(\d+)', post))
        found += [f'%post builds no code for {gpu} (sm_{arch})'
                  for arch, gpu in CUDA_ARCHS.items() if arch not in archs]
    if not any('relion_refine --version' in line for line in d.sections.get('test', [])):
        found.append('%test does not run relion_refine --version')
    return found


def _docker_value(text):
    """A .def value for a Dockerfile: ``{{ NAME }}`` becomes ``${NAME}``."""
    return PLACEHOLDER.sub(r'${\1}', text)


def _run(tag, lines, scripts=None):
    """``RUN`` of a script given inline (quoted heredoc: the shell expands, not Docker), or,
    with ``scripts`` (a dict filled with file name -> text), copied in from the build
    context: builders without heredocs (podman < 4.8)."""
    body = '\n'.join(_docker_value(line) for line in lines)
    if scripts is None:
        return f"RUN <<'{tag}'\n{body}\n{tag}"
    name = f'{tag.lower()}.sh'
    scripts[name] = body + '\n'
    return f'COPY {name} /.relionbench/{name}\nRUN sh -e /.relionbench/{name}'


def entrypoint(definition):
    """The runscript as an exec-form ENTRYPOINT: arguments reach it as ``"$@"``."""
    script = '\n'.join(_docker_value(line) for line in definition.sections['runscript'])
    return ['/bin/sh', '-c', script, 'runscript']


def dockerfile(definition, scripts=None):
    """The Docker equivalent of a definition (BuildKit syntax: heredocs; with ``scripts``,
    see ``_run``, none)."""
    d = definition
    out = ['# syntax=docker/dockerfile:1',
           f'# Rendered from containers/{d.path.name} by "relionbench containers render":',
           '# edit the definition, not this file.',
           f'FROM {d.base}']
    out += [f'ARG {key}={value}' for key, value in d.arguments.items()]
    out += [f'LABEL {key}={_label(value)}' for key, value in d.labels.items()]
    out += [f'COPY {src} {dst}' for src, dst in d.files]
    out += [f'ENV {_docker_value(env)}' for env in d.environ]
    out.append(_run('POST', d.sections.get('post', []), scripts))
    out.append(_run('TEST', d.sections.get('test', []), scripts))
    if d.sections.get('runscript'):
        out.append(f'ENTRYPOINT {json.dumps(entrypoint(d))}')
    return '\n'.join(out) + '\n'


def _label(value):
    """A label value for a Dockerfile: placeholders as ARGs, in double quotes."""
    value = _docker_value(value)
    return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'


def reparse_problems(definition, path):
    """What spython's Docker parser reads differently from ``definition`` in the rendered
    Dockerfile at ``path`` (empty when the render round-trips)."""
    recipe = next(iter(DockerParser(str(path)).recipe.values()))
    found = []
    if recipe.fromHeader != definition.base:
        found.append(f'FROM is {recipe.fromHeader!r}, not {definition.base!r}')
    labels = {key: value for label in recipe.labels for key, _, value in
              [label[0].partition('=')]}
    for key, value in definition.labels.items():
        if labels.get(key) != _label(value):
            found.append(f'label {key} reads back as {labels.get(key)!r}')
    if definition.sections.get('runscript') and recipe.entrypoint != entrypoint(definition):
        found.append(f'runscript reads back as {recipe.entrypoint!r}')
    install = {line.strip() for line in recipe.install}
    found += [f'%post line lost: {line}' for line in definition.sections.get('post', [])
              if _docker_value(line) not in install]
    found += [f'file lost: {src} {dst}' for src, dst in definition.files
              if [src, dst] not in recipe.files]
    return found


def render(definition, out_dir):
    """Write ``<out_dir>/<name>.Dockerfile``; returns its path and what failed to re-parse."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f'{definition.name}.Dockerfile'
    path.write_text(dockerfile(definition))
    return path, reparse_problems(definition, path)


def runtime():
    """``apptainer`` or ``singularity`` from PATH, or None."""
    return shutil.which('apptainer') or shutil.which('singularity')


def build_command(definition, out_dir, build_args=(), program='apptainer'):
    """The command that builds ``definition`` into ``<out_dir>/<name>.sif``."""
    command = [program, 'build']
    if os.geteuid() != 0:
        command.append('--fakeroot')
    for arg in build_args:
        command += ['--build-arg', arg]
    image = definition.image_name(built_version(build_args))
    return command + [str(Path(out_dir) / image), str(definition.path)]


def built_version(build_args):
    """The RELION version ``--build-arg RELION_VERSION=...`` asks for (None without)."""
    return next((a.split('=', 1)[1] for a in build_args if a.startswith(f'{VERSION_ARG}=')),
                None)


def build(definition, out_dir, build_args=(), program=None):
    """Build one image; returns the exit status of the runtime."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    command = build_command(definition, out_dir, build_args, program or runtime())
    print('+', shlex.join(command), flush=True)
    return subprocess.run(command).returncode
