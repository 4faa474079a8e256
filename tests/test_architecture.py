"""The rules of docs/architecture.md, checked on the source.

Every module under `postplan/` is parsed with `ast` (nothing is imported), and every `import`
and `from … import` anywhere in it counts: at the top, inside a function, under
`if TYPE_CHECKING:`. A type-only import is still a dependency of the design, and a
function-level import only hides a cycle from the interpreter, not from the reader.

The layout is data: `LAYERS` names the layer of each package (or sub-package, or module), the
longest dotted prefix wins, and `PUBLIC` names the one module (or few) through which another
domain may reach a domain. A new package or a new wing of a domain is a row in those tables.
Every exception is a row in an allowlist below, with the reason it is allowed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from functools import cache
from pathlib import Path

import postplan

ROOT = Path(postplan.__file__).parent


class Layer(IntEnum):
    """Higher layers import lower ones, never the other way round."""

    core = 0
    edge = 1  # generation, channels: no HTTP, no database
    domain = 2  # HTTP + database + business rules
    entry = 3  # what starts the process: the app, the CLI, migrations


#: The tables: at the edges' rank (beside them; neither imports the other), importing core only.
MODELS = "models"

#: The layer of each package or module (longest dotted prefix wins). `postplan` itself (the
#: version) and `postplan.config` (the settings every layer reads) are core.
LAYERS: dict[str, Layer | str] = {
    "postplan": Layer.core,
    "postplan.config": Layer.core,
    "postplan.core": Layer.core,
    "postplan.models": MODELS,
    "postplan.generation": Layer.edge,
    "postplan.channels": Layer.edge,
    "postplan.calendars": Layer.domain,
    "postplan.exports": Layer.domain,
    "postplan.publishing": Layer.domain,
    "postplan.health": Layer.domain,
    "postplan.web": Layer.domain,
    "postplan.notifications": Layer.domain,
    "postplan.alerts": Layer.domain,  # operations: the alert rules over every domain's metrics
    "postplan.media": Layer.domain,
    # Pure code (files in, facts and copies out; ffprobe/ffmpeg/Pillow): no HTTP, no database.
    "postplan.media.inspection": Layer.edge,
    "postplan.app": Layer.entry,
    "postplan.api": Layer.entry,
    "postplan.cli": Layer.entry,
    "postplan.migrations": Layer.entry,
}

#: How another domain may reach each domain: only through these modules. A domain's wing that
#: is a unit of its own (a row in LAYERS) gets a row here too.
PUBLIC: dict[str, frozenset[str]] = {
    "postplan.calendars": frozenset({"postplan.calendars.service"}),
    "postplan.exports": frozenset({"postplan.exports.service"}),
    "postplan.publishing": frozenset({"postplan.publishing.intake.service"}),
    "postplan.media": frozenset({"postplan.media.service"}),
    "postplan.health": frozenset(),
    "postplan.web": frozenset(),
    "postplan.alerts": frozenset(),
    "postplan.notifications": frozenset({"postplan.notifications.outbox"}),
}

#: What an edge never imports (top-level names or dotted prefixes).
EDGE_FORBIDDEN = ("fastapi", "starlette", "sse_starlette", "sqlalchemy", "alembic",
                  "postplan.models")

#: Words that belong to a domain. An identifier that core defines (a function, class, argument,
#: variable, attribute or keyword name, an imported name or module) carries one when one of its
#: words (split at `_`, `.` and camelCase humps, lower-cased) is in this set. Comments, strings
#: and names core only reads (`asyncio.run`) do not count. Channel names and entry formats are
#: the shared vocabulary every layer speaks (core/vocab.py), not a domain's.
DOMAIN_WORDS = frozenset({
    "calendar", "calendars", "publish", "publishing", "published", "intent", "intents",
    "run", "runs", "generation", "generate", "export", "exports",
})

#: Core identifiers that carry a domain word, and why that is right.
CORE_WORD_ALLOWED: dict[str, str] = {
    "run": "the verb (a loop's `run` method), not a generation run",
    "run_every": "the verb: run a callback every N seconds",
    "opentelemetry.sdk.trace.export": "OpenTelemetry's module for sending spans out "
                                      "(core/tracing.py), not a calendar export",
}

#: Core modules that may carry domain words, and why.
CORE_MODULES_ALLOWED: dict[str, str] = {
    "postplan.config": "settings are named by the contract (docs/contract.md §7), e.g. "
                       "`CALENDAR_SERVICE_ENABLED`, `MAX_CONCURRENT_RUNS_PER_USER`; one "
                       "validated Settings object is read by every layer",
    "postplan.core.metrics": "every metric is declared in this one module (CONTRIBUTING: only "
                             "metrics declared here, each pre-created at 0), so /metrics shows "
                             "each series from the first scrape; their names are domain words",
    "postplan.core.flags": "feature flag names are fixed by the contract (docs/contract.md §7, "
                           "`CALENDAR_SERVICE_ENABLED`, `PUBLISH_SERVICE_ENABLED`); the flag "
                           "service that evaluates them is shared by every layer",
}

#: Lines above which a module must be split, unless its reason is written here.
MAX_LINES = 400
LONG_MODULES_ALLOWED: dict[str, str] = {
    "postplan.core.spool": "one class, `Spool`: every method runs under the same flock and "
                           "keeps the same index of whole frames true; the frame format, the "
                           "drain and the availability breaker are already their own modules",
    "postplan.cli.smoke": "the release smoke is one linear script (generate, export, publish, "
                          "logs), each step reading the previous step's answers; split, it "
                          "would have to pass its state between modules",
}


# -- reading the tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    """One import: `source` imports `target` (a module of postplan, or an outside name)."""

    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line} imports {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (migrations' version files included)."""
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


@cache
def tree(name: str) -> ast.Module:
    return ast.parse(modules()[name].read_text(encoding="utf-8"))


def is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def resolve(name: str) -> str:
    """The postplan module `name` lands in (the longest prefix that is one), or `name`."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        candidate = ".".join(parts[:cut])
        if candidate in modules():
            return candidate
    return name


def imports_of(source: str, module: ast.Module) -> Iterator[Edge]:
    """Every import anywhere in `module` (function bodies and TYPE_CHECKING blocks too)."""
    package = source if is_package(source) else source.rpartition(".")[0]
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Edge(source, resolve(alias.name), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            for alias in node.names:
                # `from pkg import mod` imports the module pkg.mod; `from mod import name` mod.
                full = f"{stem}.{alias.name}"
                yield Edge(source, full if full in modules() else resolve(stem), node.lineno)


@cache
def all_imports() -> tuple[Edge, ...]:
    return tuple(edge for name in modules() for edge in imports_of(name, tree(name)))


def internal(edge: Edge) -> bool:
    return edge.target == "postplan" or edge.target.startswith("postplan.")


def unit(name: str) -> str:
    """The LAYERS row a module belongs to (longest prefix)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        candidate = ".".join(parts[:cut])
        if candidate in LAYERS:
            return candidate
    raise AssertionError(f"{name} is in no row of LAYERS: give its package a layer")


def rank(name: str) -> int:
    layer = LAYERS[unit(name)]
    return int(layer) if isinstance(layer, Layer) else int(Layer.edge)


def kind(name: str) -> str:
    """`core`, `edge`, `models`, `domain` or `entry`."""
    layer = LAYERS[unit(name)]
    return layer.name if isinstance(layer, Layer) else layer


# -- the checks, each returning what is wrong ---------------------------------------------------


def layering_violations(edges: tuple[Edge, ...]) -> list[str]:
    """Imports that point up, or sideways between units that may not meet."""
    out = []
    for edge in edges:
        if not internal(edge) or unit(edge.source) == unit(edge.target):
            continue
        src, dst = rank(edge.source), rank(edge.target)
        if dst > src:
            out.append(f"{edge}: {kind(edge.source)} imports upward into {kind(edge.target)}")
        elif dst == src and kind(edge.source) not in ("core", "domain", "entry"):
            out.append(f"{edge}: {kind(edge.source)} {unit(edge.source)} imports "
                       f"{kind(edge.target)} {unit(edge.target)} (siblings are independent)")
    return out


def edge_violations(edges: tuple[Edge, ...]) -> list[str]:
    """Edges that import a web framework, the database layer or the tables."""
    return [f"{e}: an edge imports {e.target.split('.')[0] if not internal(e) else e.target}"
            for e in edges
            if kind(e.source) == "edge"
            and any(e.target == f or e.target.startswith(f + ".") for f in EDGE_FORBIDDEN)]


def public_module_violations(edges: tuple[Edge, ...]) -> list[str]:
    """A domain reaching into another domain past its public module."""
    out = []
    for edge in edges:
        if not internal(edge) or kind(edge.source) != "domain" or kind(edge.target) != "domain":
            continue
        target_unit = unit(edge.target)
        if target_unit != unit(edge.source) and edge.target not in PUBLIC[target_unit]:
            allowed = ", ".join(sorted(PUBLIC[target_unit])) or "nothing"
            out.append(f"{edge}: another domain's internals (public: {allowed})")
    return out


def cycles(edges: tuple[Edge, ...]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {name: set() for name in modules()}
    for edge in edges:
        if internal(edge) and edge.target != edge.source and edge.target in graph:
            graph[edge.source].add(edge.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


_HUMPS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def words(identifier: str) -> set[str]:
    """`PUBLISH_RESULTS` → {publish, results}; `runId` → {run, id}."""
    return {w.lower() for part in re.split(r"[._]", identifier) for w in _HUMPS.findall(part)}


def defined_identifiers(module: ast.Module) -> Iterator[tuple[str, int]]:
    """The names a module defines or imports (not the names it only reads)."""
    for node in ast.walk(module):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node.name, node.lineno
        elif isinstance(node, ast.arg):
            yield node.arg, node.lineno
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id, node.lineno
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            yield node.attr, node.lineno
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.arg, node.value.lineno
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if isinstance(node, ast.ImportFrom) and node.module:
                yield node.module, node.lineno
            for alias in node.names:
                yield alias.name, node.lineno
                if alias.asname:
                    yield alias.asname, node.lineno


def core_word_violations() -> list[str]:
    out = []
    for name in modules():
        if kind(name) != "core" or name in CORE_MODULES_ALLOWED:
            continue
        module_words = words(name.removeprefix("postplan.")) & DOMAIN_WORDS
        if module_words:
            out.append(f"{name}: the module's name carries {sorted(module_words)}")
        seen: set[str] = set()
        for identifier, line in defined_identifiers(tree(name)):
            hit = words(identifier) & DOMAIN_WORDS
            if hit and identifier not in CORE_WORD_ALLOWED and identifier not in seen:
                seen.add(identifier)
                out.append(f"{name}:{line} defines {identifier!r} ({', '.join(sorted(hit))})")
    return out


def line_count(name: str) -> int:
    return len(modules()[name].read_text(encoding="utf-8").splitlines())


def long_modules() -> list[str]:
    return [f"{name}: {line_count(name)} lines (over {MAX_LINES}, no reason in "
            f"LONG_MODULES_ALLOWED)"
            for name in modules()
            if line_count(name) > MAX_LINES and name not in LONG_MODULES_ALLOWED]


# -- the rules ---------------------------------------------------------------------------------


def report(violations: list[str]) -> None:
    """Fail listing every violation, one a line."""
    assert not violations, f"{len(violations)} violations:\n" + "\n".join(violations)


def test_every_module_has_a_layer() -> None:
    for name in modules():
        unit(name)  # raises for a package no row of LAYERS covers
    for domain, public in PUBLIC.items():
        assert kind(domain) == "domain", domain
        assert all(unit(m) == domain and m in modules() for m in public), (domain, public)
    assert set(PUBLIC) == {u for u in LAYERS if LAYERS[u] == Layer.domain}


def test_imports_point_down_only() -> None:
    report(layering_violations(all_imports()))


def test_edges_import_no_framework_database_or_models() -> None:
    report(edge_violations(all_imports()))


def test_a_domain_reaches_another_only_through_its_public_module() -> None:
    report(public_module_violations(all_imports()))


def test_no_import_cycles() -> None:
    report([" <-> ".join(group) for group in cycles(all_imports())])


def test_core_carries_no_domain_words() -> None:
    report(core_word_violations())


def test_no_module_over_the_size_limit_without_a_reason() -> None:
    report(long_modules())


def test_allowlists_hold_no_stale_rows() -> None:
    """An exception that no longer applies is removed, so the lists stay the real ones."""
    stale = [m for m in LONG_MODULES_ALLOWED if m not in modules() or line_count(m) <= MAX_LINES]
    stale += [m for m in CORE_MODULES_ALLOWED if m not in modules()]
    report(stale)


def test_citations_resolve_inside_the_repository() -> None:
    """The code cites the contract and the research in docs/, never a page outside the
    repository, and every `docs/contract.md §N` names a section that exists."""
    docs = ROOT.parent / "docs"
    contract = (docs / "contract.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\d+)\.", contract, flags=re.M))
    outside = re.compile(r"DESIGN\.md|shared/reference|\.\./shared|reference/[\w-]+\.md")
    cited = re.compile(r"docs/contract\.md\s+§(\d+)(?:\s*(?:-|–|and)\s*§(\d+))?")
    problems = []
    tests = ROOT.parent / "tests"
    for path in [*ROOT.rglob("*.py"), *ROOT.rglob("*.json"), *tests.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        if path.name == Path(__file__).name:
            continue
        problems += [f"{path}: cites {m.group(0)!r} outside the repository"
                     for m in outside.finditer(text)]
        problems += [f"{path}: cites docs/contract.md §{n}, which does not exist"
                     for m in cited.finditer(text) for n in m.groups() if n and n not in sections]
    report(problems)


# -- the checker sees what it must see --------------------------------------------------------


def _edges(source: str, code: str) -> tuple[Edge, ...]:
    return tuple(imports_of(source, ast.parse(code)))


def test_the_checker_sees_function_level_and_type_only_imports() -> None:
    code = ("from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from postplan.models import Calendar\n"
            "def f():\n    import sqlalchemy\n    from postplan.calendars import service\n")
    edges = _edges("postplan.generation.base", code)
    assert {e.target for e in edges} >= {"postplan.models", "sqlalchemy",
                                         "postplan.calendars.service"}
    assert len(edge_violations(edges)) == 2
    assert len(layering_violations(edges)) == 2  # upward into models' rank and into a domain


def test_the_checker_resolves_relative_imports_and_submodules() -> None:
    edges = _edges("postplan.exports.service", "from ..calendars import importing\n"
                                              "from . import records\n")
    assert [e.target for e in edges] == ["postplan.calendars.importing",
                                         "postplan.exports.records"]
    assert len(public_module_violations(edges)) == 1


def test_the_checker_finds_a_cycle_through_a_function_level_import() -> None:
    edges = (_edges("postplan.core.db", "def f():\n    from postplan.core import errors\n")
             + _edges("postplan.core.errors", "from postplan.core.db import utcnow\n"))
    assert ["postplan.core.db", "postplan.core.errors"] in cycles(edges)


def test_domain_words_are_split_as_written() -> None:
    assert words("PUBLISH_RESULTS") == {"publish", "results"}
    assert words("runId") == {"run", "id"}
    assert words("running_drainer") & DOMAIN_WORDS == set()
