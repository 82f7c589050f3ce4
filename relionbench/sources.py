"""The package's own modules and what each imports, read from the source with ``ast`` (nothing
is imported; imports inside functions count). The miniature's cache key and the report's
figure digests hash the source of what makes them (``closure``); tests/test_layers.py checks
the dependency rule on ``graph``."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def modules(package=PACKAGE):
    """{dotted module name: source file} of ``package``."""
    found = {}
    for path in sorted(package.rglob('*.py')):
        parts = path.relative_to(package.parent).with_suffix('').parts
        if parts[-1] == '__init__':
            parts = parts[:-1]
        found['.'.join(parts)] = path
    return found


def imports(name, path, known):
    """The modules of ``known`` that module ``name`` (at ``path``) imports."""
    found = set()
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                base = '.'.join(parts[:len(parts) - node.level + 1] +
                                ([node.module] if node.module else []))
            found |= {f'{base}.{a.name}' if f'{base}.{a.name}' in known else base
                      for a in node.names}
    return found & set(known)


def graph(package=PACKAGE):
    """{module: the package's modules it imports}."""
    known = modules(package)
    return {name: imports(name, path, known) for name, path in known.items()}


def closure(name, package=PACKAGE):
    """{module: source file} of module ``name`` and of every module of the package it
    imports, directly or not (a package's ``__init__`` where something is taken from the
    package itself), by name."""
    edges, known = graph(package), modules(package)
    seen, todo = set(), [name]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo += edges.get(module, ())
    return {m: known[m] for m in sorted(seen) if m in known}
