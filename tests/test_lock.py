"""The pinned environment (requirements/*.txt, written by scripts/lock): every dependency of
pyproject.toml pinned with its hashes, the tests' lock a superset of the suite's, and
scripts/setup installing from them."""

import re

from relionbench import ROOT


def pins(name):
    """{package: version} of a lock file, each with at least one sha256 hash."""
    text = (ROOT / 'requirements' / f'{name}.txt').read_text()
    found = dict(re.findall(r'^([A-Za-z0-9_.-]+)==(\S+) \\$', text, re.M))
    blocks = re.split(r'^(?=[A-Za-z0-9_.-]+==)', text, flags=re.M)[1:]
    assert all('--hash=sha256:' in block for block in blocks)
    return {k.lower().replace('_', '-'): v for k, v in found.items()}


def names(requirements):
    return {re.split(r'[<>=\[ ;]', r, maxsplit=1)[0].lower() for r in requirements}


def test_every_dependency_is_pinned_with_hashes_and_the_tests_lock_holds_the_suite_s():
    text = (ROOT / 'pyproject.toml').read_text()
    dependencies = re.findall(r'"([^"]+)"', re.search(r'^dependencies = \[(.*?)\]', text,
                                                     re.M | re.S)[1])
    tests = re.findall(r'"([^"]+)"', re.search(r'^test = \[(.*?)\]', text, re.M)[1])
    suite, test = pins('suite'), pins('test')
    assert len(dependencies) > 5 and names(dependencies) <= set(suite)
    assert names(tests) <= set(test)
    assert {'setuptools'} <= set(suite)             # the suite's own build, offline
    assert suite.items() <= test.items()            # the same versions in both


def test_setup_installs_the_locks_and_the_nightly_the_suite_s_alone():
    setup = (ROOT / 'scripts' / 'setup').read_text()
    assert '--require-hashes' in setup and 'requirements/suite.txt' in setup
    assert 'scripts/setup --no-tests' in (ROOT / 'scripts' / 'nightly').read_text()
