"""The miniature's settings: the simulated specimen, microscope, dose and geometry, and the
size presets that scale them (``Size``). No numpy: the stage tables and the report read the
presets without loading the simulation."""

import math
import re
from dataclasses import dataclass

BOX = 48                    #: px, particle box
APIX = 3.0                  #: A/px, movies and particles
VOLTAGE = 300.0             #: kV
CS = 2.7                    #: mm
AMPLITUDE_CONTRAST = 0.1
MOVIE_SIZE = 512            #: px, square frames
N_FRAMES = 12
DOSE_PER_FRAME = 3.0        #: e/A^2
N_MOVIES = 6
N_PARTICLES = 440
DECOY_FRACTION = 0.25
CONTRAST = 0.5              #: fractional dose modulation per unit of the normalised projection
ATOM_SIGMA = 1.3            #: A, Gaussian width of a pseudo-atom
B_PER_DOSE = 4.0            #: A^2 of radiation-damage B-factor per e/A^2 of exposure
DEFOCUS_RANGE = (10000.0, 25000.0)  #: A, true mean defocus of the micrographs
ASTIGMATISM_RANGE = (200.0, 600.0)  #: A, DefocusU - DefocusV
DEFOCUS_ERROR_RANGE = (200.0, 500.0)  #: A, magnitude of the error written for CtfRefine
BEAM_TILT_MRAD = 3.5        #: magnitude; the direction is drawn from the seed
DRIFT_RANGE = (3.0, 6.0)    #: px, global drift from the first to the last frame
FIELD_ROTATION_DEG = 0.4    #: in-plane rotation of the specimen over a movie (local motion)
GRID_STEP = 50              #: px between particle slots
GRID_START = 56             #: px, first slot (keeps boxes and drift inside the frame)
JITTER = 3                  #: px, random offset of a particle from its slot
PROJECTION_BOX = 64         #: px, box a particle is projected in before pasting
LOWPASS_REFERENCE = 40.0    #: A, resolution of Reference/initial_model.mrc
BG_RADIUS = 18              #: px, extraction's background radius
OFFSET_RANGE = 3            #: px, the classifications' and refinements' offset search
OFFSET_STEP = 1.5           #: px

MOTIONCORR = 'MotionCorr/job002'
CTFFIND = 'CtfFind/job003'
COORD_DIR = 'Picks'
COORD_SUFFIX = '_pick.star'
OPTICS_GROUP = 'opticsGroup1'


@dataclass(frozen=True)
class Size:
    """A size preset: the particle box (px) and the particle count. The specimen, the
    microscope and the dose per A^2 stay; the box always spans ``BOX * APIX`` = 144 A, so a
    larger box samples finer (smaller pixels, larger movies), and more particles fill more
    movies. ``Size()`` is the miniature as published in reference/local.yaml."""

    box: int = BOX
    particles: int = N_PARTICLES

    def __post_init__(self):
        if self.box % 2 or not 32 <= self.box <= 256:
            raise ValueError(f'box {self.box}: choose an even box from 32 to 256 px')
        if not 100 <= self.particles <= 20000:
            raise ValueError(f'{self.particles} particles: choose 100 to 20000')

    def __str__(self):
        return f'{self.box}x{self.particles}'

    @classmethod
    def parse(cls, text):
        """``BOXxPARTICLES`` (e.g. ``96x440``) or a preset name of ``SIZES``."""
        if text in SIZES:
            return SIZES[text]
        found = re.fullmatch(r'(\d+)x(\d+)', text or '')
        if not found:
            raise ValueError(f'size {text!r}: give BOXxPARTICLES (e.g. 96x440) or one of '
                             f'{", ".join(SIZES)}')
        return cls(int(found[1]), int(found[2]))

    def dataset(self, name):
        """The id of dataset ``name`` at this size: ``name`` itself at the default size,
        ``name-BOXxPARTICLES`` otherwise (a resized miniature has its own history)."""
        return name if self.default else f'{name}-{self}'

    @classmethod
    def of_dataset(cls, dataset):
        """The size a resized dataset's id names (``miniature-96x440``); None for any other
        id (the default size, a real dataset)."""
        name, _, size = (dataset or '').rpartition('-')
        found = re.fullmatch(r'(\d+)x(\d+)', size) if name else None
        return cls(int(found[1]), int(found[2])) if found else None

    @property
    def default(self):
        return self == Size()

    def _px(self, value):
        """A length of the published miniature in px, at this box."""
        return value * self.box / BOX

    @property
    def apix(self):
        return APIX * BOX / self.box

    @property
    def movie_size(self):
        return 2 * round(self._px(MOVIE_SIZE) / 2)

    @property
    def projection_box(self):
        return 2 * round(self._px(PROJECTION_BOX) / 2)

    @property
    def grid(self):
        """First slot, step between slots and jitter of the particles, px."""
        return round(self._px(GRID_START)), round(self._px(GRID_STEP)), round(self._px(JITTER))

    @property
    def movies(self):
        start, step, _ = self.grid
        slots = ((self.movie_size - 2 * start) // step + 1) ** 2
        return max(N_MOVIES, math.ceil(self.particles / slots))

    @property
    def options(self):
        """The stage tables' size-dependent options (relionbench.workflows)."""
        return {'box': self.box, 'bg_radius': round(self._px(BG_RADIUS)),
                'apix': f'{self.apix:.4g}', 'offset_range': f'{self._px(OFFSET_RANGE):.4g}',
                'offset_step': f'{self._px(OFFSET_STEP):.4g}'}


SIZES = {'small': Size(), 'medium': Size(96), 'large': Size(144)}
"""Named presets; ``small`` is the default."""


def settings(size=Size()):
    """Every simulation setting, for ``truth/planted.json``."""
    found = {k.lower(): v for k, v in globals().items()
             if k.isupper() and isinstance(v, (int, float, tuple))}
    return found if size.default else {**found, 'size': str(size), 'apix_at_size': size.apix,
                                       'movies_at_size': size.movies}
