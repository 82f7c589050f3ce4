"""RELION builds: each one a ReFrame programming environment (docs/developers/architecture.md,
"Builds").

A build is an installation prefix, a set of modules or a container image. Its environment's
features select it: ``relion``, its accelerator (``altcpu``, ``cuda``, ``plain``) and, in
``extras``, its version and release, so ``-p NAME`` picks builds and a check's variant
follows the build (``cpu-altcpu`` needs ``+altcpu``, ``gpu`` needs ``+cuda``).

On the ``local`` system the builds are found (the RELION on PATH, the prefixes listed in
``RELIONBENCH_RELION``, those under ``/opt/relion-*``) and identified from what their own
``relion_refine --version`` prints; where it prints no accelerator tag, from the libraries
the binary links against.
"""

import functools
import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace

from relionbench.builds import releases
from relionbench.constants import ENV_ALTCPU, ENV_CUDA, ENV_RELION, ENV_VDAM

UNKNOWN = 'unknown'
ALTCPU, CUDA, HIP, SYCL, PLAIN = 'ALTCPU', 'CUDA', 'HIP', 'SYCL', 'plain'
FEATURES = {ALTCPU: ENV_ALTCPU, CUDA: ENV_CUDA, HIP: 'hip', SYCL: 'sycl', PLAIN: 'plain'}
"""Environment feature of each accelerator."""

TAGS = {'VECTOR-ACC': ALTCPU, 'CUDA-ACC': CUDA, 'HIP-ACC': HIP, 'SYCL-ACC': SYCL}
"""Accelerator tags of ``relion_refine --version`` (RELION 3.1 to 5.0: macros.h)."""

LIBRARIES = {r'libcudart|libcufft': CUDA, r'libamdhip|libhipfft': HIP, r'libsycl': SYCL,
             r'libtbb': ALTCPU}
"""Libraries that give a build's accelerator away when its binary prints no tag."""

LISTED = 'RELIONBENCH_RELION'          # ':'-separated install prefixes
DATA_RELION = 'RELIONBENCH_DATA_RELION'  # the prefix whose programs make the miniature
OPT = '/opt'
LINKED = '--- linked libraries:'
PROGRAM = '--- program:'


@dataclass(frozen=True)
class Build:
    """One RELION installation as the suite runs it."""

    name: str                       #: environment name (letters, digits, '_' and '-')
    version: str = UNKNOWN          #: '5.0.1'
    accelerator: str = UNKNOWN      #: ALTCPU, CUDA, HIP, SYCL or plain
    prefix: str = ''                #: install prefix put first in PATH ('' : PATH as it is)
    bindir: str = ''                #: where its programs are ('' for modules and images)
    modules: tuple = ()             #: modules that provide it
    image: str = ''                 #: container image file (in the partition's image_dir)
    descr: str = ''
    features: tuple = field(default=())   #: extra environment features
    fft: str = ''                   #: FFT library: 'FFTW', 'MKL', 'FFTW+cuFFT' ('' unknown)
    isa: str = ''                   #: instruction set of its code: 'AVX2', 'AVX-512', ...
    cuda: str = ''                  #: CUDA release and GPU code: '13.0 sm_90+compute_90'

    @property
    def release_key(self):
        """(major, minor), (0, 0) when unknown."""
        return releases.release_key(self.version) or (0, 0)

    @property
    def release(self):
        """'5.0' of '5.0.1' ('' when unknown)."""
        key = releases.release_key(self.version)
        return f'{key[0]}.{key[1]}' if key else ''

    def environment(self, systems, modules_by_hand=False):
        """The ReFrame environment entry of this build for ``systems``; ``modules_by_hand``:
        load its modules with ``module load`` lines (ReFrame has no module system there)."""
        env = {'name': self.name, 'target_systems': list(systems),
               'features': [ENV_RELION, FEATURES.get(self.accelerator, PLAIN),
                            *([ENV_VDAM] if self.release_key >= (4, 0) else []),
                            *self.features],
               'extras': {'relion_version': self.version, 'relion_release': self.release,
                          'relion_accelerator': self.accelerator,
                          'relion_prefix': self.prefix, 'relion_image': self.image,
                          'relion_modules': ' '.join(self.modules),
                          'relion_fft': self.fft, 'relion_isa': self.isa,
                          'relion_cuda': self.cuda}}
        if modules_by_hand and self.modules:
            env['prepare_cmds'] = [f'module load {m}' for m in self.modules]
        else:
            env['modules'] = list(self.modules)
        if self.prefix:
            env['env_vars'] = [['PATH', f'{self.prefix}/bin:$PATH']]
        return env


def parse_version(text):
    """(version, accelerator) from ``relion_refine --version`` output; accelerator is
    UNKNOWN when no tag is printed (or no version at all)."""
    version = re.search(r'RELION version:\s*(\S+)', text)
    if not version:
        return UNKNOWN, UNKNOWN
    tag = next((acc for tag, acc in TAGS.items() if f'{tag}=' in text), None)
    if tag:
        return version[1], tag
    return version[1], PLAIN if 'Precision:' in text else UNKNOWN


def from_libraries(ldd_text):
    """The accelerator that ``ldd``'s list of a binary's libraries shows (PLAIN for none)."""
    return next((acc for pattern, acc in LIBRARIES.items() if re.search(pattern, ldd_text)),
                PLAIN)


def version_command(program='relion_refine'):
    """A shell command printing what the build says of itself: ``--version``, then the
    libraries its binary links against (the fallback where no accelerator tag is printed,
    and its FFT library), then which binary it was."""
    return (f'{program} --version 2>&1; echo "{LINKED}"; '
            f'ldd "$(command -v {program})" 2>/dev/null || true; '
            f'echo "{PROGRAM}"; command -v {program}')


def _sections(text):
    """(printed, linked, program) of ``version_command``'s output."""
    printed, _, rest = text.partition(LINKED)
    linked, _, program = rest.partition(PROGRAM)
    return printed, linked, program.strip()


def read_version(text):
    """(version, accelerator) from ``version_command``'s output."""
    printed, linked, _ = _sections(text)
    version, accelerator = parse_version(printed)
    if version != UNKNOWN and accelerator == UNKNOWN and linked.strip():
        accelerator = from_libraries(linked)
    return version, accelerator


def read_carried(text, native=True):
    """{'fft', 'isa', 'cuda'} of the binary ``version_command`` ran (binary.describe): its
    FFT library from the libraries it linked there; the rest from the binary itself where
    this process can read it (``native``: not inside an image, whose paths are not ours)."""
    from relionbench.builds import binary
    _, linked, program = _sections(text)
    if native and program and os.path.isfile(program):
        return binary.describe(program, linked)
    return {'fft': binary.fft(linked) or UNKNOWN, 'isa': UNKNOWN, 'cuda': ''}


def mismatch(extras, version, accelerator):
    """How the RELION a job ran (``version``, ``accelerator``: what it printed) differs from
    the build its environment declares (``extras``); '' when they agree or one is unknown."""
    declared = extras.get('relion_version', ''), extras.get('relion_accelerator', '')
    ran = version, accelerator
    differ = [f'{what} {has} instead of {want}'
              for what, want, has in zip(('version', 'accelerator'), declared, ran)
              if UNKNOWN not in (want or UNKNOWN, has) and
              has.split('-')[0].lower() != want.split('-')[0].lower()]
    return ', '.join(differ)


@functools.cache
def _said(bindir):
    """``version_command``'s output with the relion_refine in ``bindir`` ('' when it does
    not run)."""
    env = {**os.environ, 'PATH': f'{bindir}:{os.environ.get("PATH", "")}'}
    try:
        out = subprocess.run(['sh', '-c', version_command()], capture_output=True, text=True,
                             timeout=60, env=env)
    except (OSError, subprocess.TimeoutExpired):
        return ''
    return out.stdout + out.stderr


def identify(bindir):
    """(version, accelerator) of the relion_refine in ``bindir``, from what it prints;
    (UNKNOWN, UNKNOWN) when it does not run."""
    return read_version(_said(bindir))


@functools.cache
def carried(bindir):
    """{'fft', 'isa', 'cuda'} of the relion_refine in ``bindir``."""
    return read_carried(_said(bindir))


def env_name(text):
    """``text`` as a ReFrame environment name: 'relion-5.0.1-altcpu' -> 'relion-5_0_1-altcpu'."""
    name = re.sub(r'[^A-Za-z0-9_-]', '_', text)
    return name if re.match(r'[A-Za-z_]', name) else f'relion-{name}'


def candidates(path=None, listed=None, opt=OPT):
    """[(bindir, prefix)]: the RELION on PATH (prefix ''), then each listed prefix, then
    ``<opt>/relion-*``; each installation once."""
    found, seen = [], set()
    on_path = shutil.which('relion_refine', path=path)
    if on_path:
        found.append((os.path.dirname(on_path), ''))
        seen.add(os.path.realpath(os.path.dirname(on_path)))
    listed = os.environ.get(LISTED, '') if listed is None else listed
    prefixes = [p for p in listed.split(':') if p] + sorted(glob.glob(f'{opt}/relion-*'))
    for prefix in prefixes:
        bindir = os.path.join(prefix, 'bin')
        real = os.path.realpath(bindir)
        if real in seen or not os.access(os.path.join(bindir, 'relion_refine'), os.X_OK):
            continue
        seen.add(real)
        found.append((bindir, os.path.abspath(prefix)))
    return found


def discover(path=None, listed=None, opt=OPT):
    """Every RELION build this machine has, identified; those that do not run are left out.
    Names come from what the build is ('relion-3_1_3-plain'); two builds that identify
    alike are told apart by their prefix's folder name."""
    builds = []
    for bindir, prefix in candidates(path, listed, opt):
        version, accelerator = identify(bindir)
        if version == UNKNOWN:
            continue
        has = carried(bindir)
        kind = [FEATURES.get(accelerator, accelerator), *(['mkl'] if has['fft'] == 'MKL' else []),
                *(['avx512'] if has['isa'] == 'AVX-512' else [])]
        name = env_name(f'relion-{version}-{"-".join(kind)}')
        taken = {b.name for b in builds}
        if name in taken:
            name = env_name(os.path.basename(prefix.rstrip('/')) or bindir)
        base, count = name, 2
        while name in taken:                # two alike in folders of one name
            name, count = f'{base}-{count}', count + 1
        where = prefix or bindir
        builds.append(Build(name, version, accelerator, prefix, bindir,
                            descr=f'RELION {version} ({accelerator}, {has["fft"]} FFT, '
                                  f'{has["isa"]}) in {where}', **has))
    return builds


def data_tools(builds, chosen=None):
    """The build whose programs make the miniature, whatever build is under test: the prefix
    in ``RELIONBENCH_DATA_RELION``, else the RELION on PATH, else the first found. None when
    there is no build."""
    chosen = os.environ.get(DATA_RELION, '') if chosen is None else chosen
    if chosen:
        real = os.path.realpath(chosen)
        return next((b for b in builds if b.prefix and os.path.realpath(b.prefix) == real),
                    Build('data-tools', prefix=os.path.abspath(chosen),
                          bindir=os.path.join(os.path.abspath(chosen), 'bin')))
    return builds[0] if builds else None


def from_recipes(names=(), version=None):
    """The builds of the container recipes in ``containers/`` (name, version, backend and
    image file from the recipe itself); ``version``: the RELION version the images were
    built with (``--build-arg RELION_VERSION=...``), named in the build and its image."""
    from relionbench.builds import recipes
    found = []
    for d in recipes.recipes(names):
        release = version or d.version
        image = d.image_name(release)
        found.append(Build(f'{d.name}-{release.replace(".", "_")}' if version else d.name,
                           release, d.backend, image=image,
                           descr=f'image {image}: RELION {release} ({d.backend}), '
                                 f'containers/{d.path.name}'))
    return found


def emulated_gpu(build):
    """``build`` declared as a CUDA build for a partition whose GPUs are emulated (CI): the
    gpu variant's layout and GRES, RELION on the CPU."""
    return replace(build, name=f'{build.name}-gpu-emulated', features=(FEATURES[CUDA],),
                   descr=f'{build.descr}; GPUs emulated, RELION on the CPU')
