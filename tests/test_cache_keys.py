"""What the miniature cache key covers: the source of every module that makes the miniature,
wherever it lives in the package, and nothing else (an edit to the report keeps every cached
miniature). Each key is computed by a fresh Python on a copy of the package."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / 'relionbench'
KEY = 'from relionbench.data import miniature, sizes; print(miniature.cache_key(0, sizes.Size()))'


@pytest.fixture
def copy(tmp_path):
    shutil.copytree(PACKAGE, tmp_path / 'relionbench',
                    ignore=shutil.ignore_patterns('__pycache__'))
    return tmp_path


def key(root):
    found = subprocess.run([sys.executable, '-c', KEY], cwd=root, capture_output=True,
                           text=True, env={'PYTHONPATH': str(root), 'PATH': '/usr/bin:/bin'})
    assert found.returncode == 0, found.stderr
    return found.stdout.strip()


def edit(root, module):
    with (root / 'relionbench' / module).open('a') as out:
        out.write('\n# an edit\n')


@pytest.mark.parametrize('module', ['science/truth.py', 'science/star.py', 'data/sizes.py',
                                    'data/miniature.py', 'builds/__init__.py'])
def test_an_edit_to_what_makes_the_miniature_changes_its_key(copy, module):
    before = key(copy)
    edit(copy, module)
    assert key(copy) != before


@pytest.mark.parametrize('module', ['report/__init__.py', 'results/compare.py',
                                    'run/check.py', 'data/datasets.py'])
def test_an_edit_elsewhere_keeps_the_key(copy, module):
    before = key(copy)
    edit(copy, module)
    assert key(copy) == before


def test_every_module_of_the_generator_is_covered(copy):
    """The synthetic generator, a module or a package of them, is in the key."""
    generator = copy / 'relionbench' / 'data' / 'synthetic'
    files = sorted(generator.glob('*.py')) if generator.is_dir() else [
        generator.with_suffix('.py')]
    for path in files:
        before = key(copy)
        with path.open('a') as out:
            out.write('\n# an edit\n')
        assert key(copy) != before, path.name
