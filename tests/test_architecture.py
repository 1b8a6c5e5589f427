"""No import circles in ``escucha``: no two modules import each other, directly or through others.

A circle means two modules share an idea that belongs in a third, lower one. Every import counts,
including those inside functions (grimp reads them all). A package's ``__init__`` importing its
own submodules (to re-export their names, or a registry whose members register themselves) is
not a circle; importing a package from outside it is taken as importing what its ``__init__``
imports from inside it, so a circle that passes through another package's re-exports is found.
"""

from __future__ import annotations

from collections import deque

import grimp

PACKAGE = "escucha"


def _inside(module: str, package: str) -> bool:
    return module.startswith(package + ".")


def import_edges(graph) -> dict[str, set[str]]:
    """``{module: modules it depends on}`` under the rules of the module docstring."""
    modules = set(graph.modules)
    raw = {m: set(graph.find_modules_directly_imported_by(m)) for m in modules}
    packages = {m for m in modules if any(_inside(o, m) for o in modules)}

    def reexported(package: str) -> set[str]:
        out = set()
        for d in raw[package]:
            if _inside(d, package):
                out.add(d)
                if d in packages:
                    out |= reexported(d)
        return out

    edges: dict[str, set[str]] = {m: set() for m in modules}
    for m in modules:
        for t in raw[m]:
            if m in packages and _inside(t, m):      # a package's __init__ importing its own submodules
                continue
            edges[m].add(t)
            if t in packages and not _inside(m, t):  # importing a package runs its __init__'s imports
                edges[m] |= reexported(t) - {m}
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, targets = work[-1]
            w = next(targets, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return sorted(found)


def one_cycle(edges: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest cycle through the first module of ``component``, staying inside it."""
    start, members = component[0], set(component)
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        v = queue.popleft()
        for w in sorted(edges[v] & members):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start] + path[::-1][1:] + [start] if v != start else [start, start]
            if w not in came_from:
                came_from[w] = v
                queue.append(w)
    return component


def _describe(graph, cycle: list[str]) -> str:
    steps = []
    for a, b in zip(cycle, cycle[1:]):
        details = graph.get_import_details(importer=a, imported=b)
        if details:
            where = f" (line {details[0]['line_number']}: {details[0]['line_contents']})"
        else:
            where = " (through a package __init__ it imports)"
        steps.append(f"    {a} -> {b}{where}")
    return "\n".join(steps)


def test_no_import_circles_between_modules():
    graph = grimp.build_graph(PACKAGE, include_external_packages=False)
    edges = import_edges(graph)
    found = circles(edges)
    report = "\n\n".join(f"  {', '.join(c)}:\n{_describe(graph, one_cycle(edges, c))}" for c in found)
    assert not found, f"{len(found)} import circle(s) in {PACKAGE}:\n{report}"


def _graph(imports: dict[str, list[str]]):
    g = grimp.ImportGraph()
    for m in {m for pair in imports.items() for m in (pair[0], *pair[1])}:
        g.add_module(m)
    for a, bs in imports.items():
        for b in bs:
            g.add_import(importer=a, imported=b)
    return g


def test_the_check_finds_circles_and_leaves_re_exports_alone():
    ok = _graph({"p": ["p.a", "p.b"],                 # p/__init__ re-exports its submodules
                 "p.a": ["p", "p.b"],                  # a submodule reads its package's registry
                 "q.c": ["p"]})
    assert circles(import_edges(ok)) == []
    direct = _graph({"p": [], "p.a": ["p.b"], "p.b": ["p.a"]})
    assert circles(import_edges(direct)) == [["p.a", "p.b"]]
    assert one_cycle(import_edges(direct), ["p.a", "p.b"]) == ["p.a", "p.b", "p.a"]
    through_init = _graph({"q": ["q.d"], "q.d": ["p.a"], "p": [], "p.a": ["q"]})   # p.a -> q's __init__ -> q.d
    assert circles(import_edges(through_init)) == [["p.a", "q.d"]]
