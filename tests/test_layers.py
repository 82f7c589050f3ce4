"""The package's dependency rule (docs/developers/architecture.md): subpackages in layers that
import only their own package or a lower layer, and no import circle anywhere, imports inside
functions included. The graph is read from the source (relionbench.sources), nothing imported."""

import shutil

import pytest

from relionbench.sources import PACKAGE, graph

LAYERS = (
    ('', 'constants', 'sources', 'choices'),    # the root (ROOT), shared names, the source
                                                # reader, one-line errors for bad choices
    ('science', 'machine', 'builds'),   # RELION's files, this machine, RELION's builds
    ('data',),                          # datasets, the miniature and its generator
    ('workflows',),                     # the stage model and tables
    ('results',),                       # results, references, comparisons, alerts
    ('run', 'report'),                  # the ReFrame check and its job; the report
    ('longrun',),                       # watch and tune, which drive and read runs
    ('cli',),                           # the command line
)
"""Lowest first. A module of one entry may import its own entry and any lower layer; the
packages of one layer do not import each other."""


def entry(name):
    """The layer entry a module belongs to: its subpackage, or '' / 'constants' at the top."""
    parts = name.split('.')[1:]
    return parts[0] if parts else ''


LEVEL = {e: level for level, entries in enumerate(LAYERS) for e in entries}


def circles(edges):
    """Each import circle (Tarjan's strongly connected components of more than one module,
    or a module importing itself)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def upward(edges):
    """'a imports b' for each import that goes up a layer or across to a sibling package."""
    bad = []
    for name, targets in sorted(edges.items()):
        for target in sorted(targets):
            mine, theirs = entry(name), entry(target)
            if mine == theirs:
                continue
            if mine not in LEVEL or theirs not in LEVEL:
                bad.append(f'{name} imports {target}: {mine or theirs} is in no layer of '
                           'tests/test_layers.py LAYERS')
            elif LEVEL[theirs] >= LEVEL[mine]:
                bad.append(f'{name} (layer {LEVEL[mine]}) imports {target} '
                           f'(layer {LEVEL[theirs]})')
    return bad


def test_the_package_has_no_import_circle():
    assert circles(graph()) == []


def test_every_import_goes_down_a_layer():
    assert upward(graph()) == []


def test_every_subpackage_has_a_layer():
    assert {entry(name) for name in graph()} <= set(LEVEL)


def test_imports_inside_functions_count(tmp_path):
    """A circle hidden by an import inside a function, planted in a copy of the package."""
    copy = tmp_path / 'relionbench'
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns('__pycache__'))
    with (copy / 'science' / 'outputs.py').open('a') as out:
        out.write('\n\ndef _planted():\n    from relionbench.science import extract\n')
    with (copy / 'science' / 'extract.py').open('a') as out:
        out.write('\nfrom relionbench.science import outputs\n')
    assert ['relionbench.science.extract', 'relionbench.science.outputs'] in circles(
        graph(copy))


@pytest.mark.parametrize('low, high', [('science/star.py', 'relionbench.results.compare'),
                                       ('data/sizes.py', 'relionbench.data.miniature')])
def test_an_import_up_a_layer_is_named(tmp_path, low, high):
    copy = tmp_path / 'relionbench'
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns('__pycache__'))
    with (copy / low).open('a') as out:
        out.write(f'\n\ndef _planted():\n    import {high}\n')
    found = circles(graph(copy)) + upward(graph(copy))
    name = 'relionbench.' + low.removesuffix('.py').replace('/', '.')
    assert any(name in str(problem) for problem in found), found
