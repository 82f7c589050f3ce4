"""What a build's ``relion_refine`` carries, read from the binary itself: the FFT library it
links, the x86 instruction set its code uses, and for a CUDA build the CUDA release that
compiled it and the GPU architectures it has machine code (and PTX) for.

The instruction set is read from the disassembly (``objdump``): AVX-512 code uses the zmm
registers, AVX2 code ymm with the AVX2/FMA instructions. It takes about a second, so it is
kept per binary (by its GNU build id) in ``$XDG_CACHE_HOME/relionbench/binaries``."""

import os
import re
import shutil
import struct
import subprocess
from collections import Counter
from pathlib import Path

UNKNOWN = 'unknown'

FFT = (('MKL', r'libmkl_'), ('FFTW', r'libfftw3'), ('cuFFT', r'libcufft'))
"""FFT libraries by the names they link as, in the order a record names them."""

FATBIN = struct.pack('<I', 0xBA55ED50)
"""The magic number that starts each CUDA fat binary in an executable."""
PTX, CUBIN = 1, 2           # the kinds of a fat binary's entries

ISA_WORDS = re.compile(r'%zmm|%ymm|vfmadd|vpbroadcast|vpermd|vpgather')
CUDA_RELEASE = re.compile(rb'Cuda compilation tools, release (\d+\.\d+), V([\d.]+)')


def fft(linked):
    """The FFT libraries ``ldd``'s text names ('MKL', 'FFTW', 'FFTW+cuFFT'; '' for none)."""
    return '+'.join(name for name, pattern in FFT if re.search(pattern, linked))


def isa_of(words):
    """The instruction set of code whose disassembly has ``words`` ({word: count})."""
    if words.get('%zmm'):
        return 'AVX-512'
    if words.get('%ymm'):
        return 'AVX2' if any(words.get(w) for w in ('vfmadd', 'vpbroadcast', 'vpermd',
                                                     'vpgather')) else 'AVX'
    return 'SSE2'


def isa(paths):
    """The instruction set of the code in ``paths`` (a binary and its RELION libraries), or
    UNKNOWN without objdump."""
    if not shutil.which('objdump'):
        return UNKNOWN
    words = Counter()
    for path in paths:
        dump = subprocess.run(['objdump', '-d', '--no-show-raw-insn', str(path)],
                              capture_output=True, text=True)
        words.update(ISA_WORDS.findall(dump.stdout))
    return isa_of(words)


def cuda(data):
    """(release, architectures) of the CUDA code in an executable's bytes: ('13.0',
    'sm_90+compute_90'); ('', '') when it has none."""
    release = CUDA_RELEASE.search(data)
    found = set()
    at = data.find(FATBIN)
    while at >= 0 and at + 16 <= len(data):
        _, _, header, size = struct.unpack_from('<IHHQ', data, at)
        entry, end = at + header, min(at + header + size, len(data))
        while entry + 32 <= end:
            kind, _, entry_header, entry_size = struct.unpack_from('<HHIQ', data, entry)
            arch = struct.unpack_from('<I', data, entry + 28)[0]
            if kind in (PTX, CUBIN) and 0 < arch < 1000:
                found.add((kind == PTX, arch))
            if not entry_header:
                break
            entry += entry_header + entry_size
        at = data.find(FATBIN, max(end, at + 4))
    archs = '+'.join(f'{"compute" if ptx else "sm"}_{arch}' for ptx, arch in sorted(found))
    return (release[1].decode() if release else ''), archs


def build_id(data):
    """The GNU build id of an ELF file's bytes ('' without one)."""
    note = data.find(b'GNU\x00', 0, 1 << 16)
    while note >= 12:
        namesz, descsz, kind = struct.unpack_from('<III', data, note - 12)
        if namesz == 4 and kind == 3:           # NT_GNU_BUILD_ID
            return data[note + 4:note + 4 + descsz].hex()
        note = data.find(b'GNU\x00', note + 4, 1 << 16)
    return ''


def _cache():
    root = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache')
    return Path(root, 'relionbench', 'binaries')


def libraries(linked):
    """The RELION libraries ``ldd``'s text names (Debian's relion links its code from one)."""
    return re.findall(r'=>\s*(\S*librelion\S*)', linked)


def describe(program, linked=''):
    """{'fft', 'isa', 'cuda'} of the executable ``program``, whose ``ldd`` text is
    ``linked``: 'cuda' is its CUDA release and GPU code ('13.0 sm_90+compute_90'; '' for
    none). The instruction set is kept per build id, so each binary is disassembled once."""
    found = {'fft': fft(linked) or UNKNOWN, 'isa': UNKNOWN, 'cuda': ''}
    data = Path(program).read_bytes()
    if not data.startswith(b'\x7fELF'):        # a wrapper script: nothing to read here
        return found
    found['cuda'] = ' '.join(filter(None, cuda(data)))
    key = build_id(data)
    cached = _cache() / f'{key}.isa'
    if key and cached.is_file():
        found['isa'] = cached.read_text().strip()
        return found
    found['isa'] = isa([program, *libraries(linked)])
    if key and found['isa'] != UNKNOWN:
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(found['isa'])
        except OSError:
            pass
    return found
