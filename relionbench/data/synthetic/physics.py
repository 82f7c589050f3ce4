"""The microscope's physics: electron wavelength, Euler matrix, CTF, beam tilt, radiation damage.

Conventions are RELION's: an image spectrum is ``CTF * exp(i phase) * P`` with the CTF of
``relion/src/ctf.h`` (positive at its first peak for underfocus), the beam-tilt phase of
``jaz/ctf/tilt_helper.cpp`` and projections along z of atoms rotated by the Euler matrix
of ``Euler_angles2matrix``.
"""

import numpy as np

from relionbench.data.sizes import AMPLITUDE_CONTRAST, B_PER_DOSE, CS, DOSE_PER_FRAME, VOLTAGE


def wavelength(kv=VOLTAGE):
    """Relativistic electron wavelength in A."""
    volts = kv * 1e3
    return 12.2643247 / np.sqrt(volts * (1 + 0.978466e-6 * volts))


def euler_matrix(rot, tilt, psi):
    """RELION's ``Euler_angles2matrix`` (ZYZ, degrees); the rows of the result are the image
    axes, so ``A @ r`` is an atom's position in the particle's frame."""
    a, b, g = np.radians([rot, tilt, psi])
    ca, sa, cb, sb, cg, sg = np.cos(a), np.sin(a), np.cos(b), np.sin(b), np.cos(g), np.sin(g)
    cc, cs, sc, ss = cb * ca, cb * sa, sb * ca, sb * sa
    return np.array([[cg * cc - sg * sa, cg * cs + sg * ca, -cg * sb],
                     [-sg * cc - cg * sa, -sg * cs + cg * ca, sg * sb],
                     [sc, ss, cb]])


def ctf(kx, ky, defocus_u, defocus_v, angle):
    """RELION's CTF at spatial frequencies ``kx``, ``ky`` (1/A): ``sin(chi + asin(Q))``."""
    lam, cs = wavelength(), CS * 1e7
    k2 = kx ** 2 + ky ** 2
    azimuth = np.arctan2(ky, kx) - np.radians(angle)
    defocus = 0.5 * (defocus_u + defocus_v) + 0.5 * (defocus_u - defocus_v) * np.cos(2 * azimuth)
    chi = np.pi * lam * defocus * k2 - 0.5 * np.pi * cs * lam ** 3 * k2 ** 2
    q = AMPLITUDE_CONTRAST
    return np.sqrt(1 - q ** 2) * np.sin(chi) + q * np.cos(chi)


def beam_tilt_phase(kx, ky, tilt_x, tilt_y):
    """``exp(i phase)`` RELION multiplies a prediction by for a beam tilt in mrad."""
    scale = 2e-3 * np.pi * CS * 1e7 * wavelength() ** 2
    return np.exp(-1j * scale * (kx ** 2 + ky ** 2) * (kx * tilt_x + ky * tilt_y))


def damage_bfactor(frame):
    """B-factor (A^2) of frame ``frame`` (0-based) at the exposure of its middle."""
    return B_PER_DOSE * DOSE_PER_FRAME * (frame + 0.5)
