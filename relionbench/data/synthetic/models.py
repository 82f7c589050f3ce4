"""The specimen: pseudo-atomic models (the truth and a decoy), their maps and projections.

A model is a few bundles of ideal alpha helices whose C-alpha positions carry Gaussian atoms.
A particle's projection is the exact central slice of its model's Fourier transform (a sum of
Gaussian atoms, evaluated, not interpolated); ``render_map`` samples the same transform on a
3D grid, band-limited at Nyquist.
"""

import numpy as np

from relionbench.data.sizes import APIX, ATOM_SIGMA, BOX, PROJECTION_BOX, Size
from relionbench.data.synthetic import physics


def helix(rng, centre, direction, n):
    """Pseudo-atoms at the C-alpha positions of an ideal alpha helix of ``n`` residues."""
    direction = direction / np.linalg.norm(direction)
    u = np.cross(direction, [1.0, 0.0, 0.0] if abs(direction[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(direction, u)
    t = np.arange(n) - (n - 1) / 2
    phase = np.radians(100.0) * t + rng.uniform(0, 2 * np.pi)
    return (centre + np.outer(1.5 * t, direction)
            + 2.3 * (np.outer(np.cos(phase), u) + np.outer(np.sin(phase), v)))


def domain(rng, centre, radii, n_atoms):
    """A bundle of randomly oriented helices inside an ellipsoid, ``n_atoms`` in all; each
    helix starts at the best of 16 random points (the farthest from the helices so far)."""
    atoms, starts, left = [], [], n_atoms
    while left > 0:
        candidates = centre + rng.uniform(-0.7, 0.7, (16, 3)) * radii
        if starts:
            gaps = np.linalg.norm(candidates[:, None] - np.array(starts)[None], axis=2).min(1)
            candidates = candidates[[np.argmax(gaps)]]
        n = min(int(rng.integers(9, 15)), left)
        atoms.append(helix(rng, candidates[0], rng.normal(size=3), n))
        starts.append(candidates[0])
        left -= n
    return np.concatenate(atoms)


def truth_atoms(rng):
    """Four domains of different sizes around an asymmetric core, about 90 A across."""
    layout = [((-26.0, -12.0, -8.0), (15, 12, 11), 90), ((12.0, -22.0, 10.0), (12, 10, 10), 70),
              ((24.0, 16.0, -12.0), (13, 11, 10), 75), ((-8.0, 20.0, 16.0), (10, 9, 9), 55)]
    return np.concatenate([domain(rng, np.array(c), np.array(r, float), n)
                           for c, r, n in layout])


def decoy_atoms(rng):
    """A flat ring of eight small bundles with one knob: nothing like the truth."""
    parts = []
    for k in range(8):
        a = 2 * np.pi * k / 8
        parts.append(domain(rng, np.array([30 * np.cos(a), 30 * np.sin(a), 0.0]),
                            np.array([6.0, 6.0, 5.0]), 32))
    parts.append(domain(rng, np.array([30.0, 0.0, 14.0]), np.array([6.0, 6.0, 6.0]), 30))
    return np.concatenate(parts)


def _atom_factor(k2_px, sigma_px):
    """Fourier transform of a unit Gaussian atom, cut at Nyquist (band-limited sampling)."""
    return np.where(k2_px < 0.25, np.exp(-2 * np.pi ** 2 * sigma_px ** 2 * k2_px), 0.0)


def render_map(atoms, box=None, apix=None, sigma=None):
    """The band-limited map of ``atoms`` (A, about the box centre ``box // 2``), in z, y, x;
    ``BOX``, ``APIX`` and ``ATOM_SIGMA`` by default."""
    box, apix, sigma = box or BOX, apix or APIX, sigma or ATOM_SIGMA
    kz, ky = np.fft.fftfreq(box), np.fft.fftfreq(box)
    kx = np.fft.rfftfreq(box)
    pos = atoms / apix + box // 2
    ex = np.exp(-2j * np.pi * np.outer(pos[:, 0], kx))
    ey = np.exp(-2j * np.pi * np.outer(pos[:, 1], ky))
    ez = np.exp(-2j * np.pi * np.outer(pos[:, 2], kz))
    spectrum = np.einsum('az,ay,ax->zyx', ez, ey, ex, optimize=True)
    k2 = kz[:, None, None] ** 2 + ky[None, :, None] ** 2 + kx[None, None, :] ** 2
    spectrum *= _atom_factor(k2, sigma / apix)
    return np.fft.irfftn(spectrum, s=(box,) * 3, axes=(0, 1, 2)).astype(np.float32)


def lowpass(vol, apix, resolution):
    """``vol`` with a Gaussian low-pass whose amplitude falls to 1/2 at ``resolution`` A."""
    freqs = np.meshgrid(*(np.fft.fftfreq(n, d=apix) for n in vol.shape), indexing='ij')
    k2 = sum(f ** 2 for f in freqs)
    filt = np.exp(-np.log(2) * k2 * resolution ** 2)
    return np.real(np.fft.ifftn(np.fft.fftn(vol) * filt)).astype(np.float32)


def projection_spectra(atoms, angles, box=None, apix=None, sigma=None):
    """rfft2 spectra (n, box, box//2+1) of the projections of ``atoms`` along z after
    rotation by each (rot, tilt, psi), centred on pixel ``box // 2``: the exact central
    slices of the model's Fourier transform (no interpolation). ``PROJECTION_BOX``,
    ``APIX`` and ``ATOM_SIGMA`` by default."""
    box, apix, sigma = box or PROJECTION_BOX, apix or APIX, sigma or ATOM_SIGMA
    ky, kx = np.fft.fftfreq(box), np.fft.rfftfreq(box)
    factor = _atom_factor(ky[:, None] ** 2 + kx[None, :] ** 2, sigma / apix)
    out = np.empty((len(angles), box, box // 2 + 1), np.complex128)
    for i, (rot, tilt, psi) in enumerate(angles):
        xy = (atoms @ physics.euler_matrix(rot, tilt, psi).T)[:, :2] / apix + box // 2
        ey = np.exp(-2j * np.pi * np.outer(xy[:, 1], ky))
        ex = np.exp(-2j * np.pi * np.outer(xy[:, 0], kx))
        out[i] = (ey.T @ ex) * factor
    return out


def projection_peak(atoms, size=None):
    """Maximum of the projection along z: the unit the particle contrast is given in."""
    size = size or Size()
    spectrum = projection_spectra(atoms, [(0, 0, 0)], size.projection_box, size.apix)[0]
    return float(np.fft.irfft2(spectrum).max())
