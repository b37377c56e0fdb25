"""The import layers of docs/architecture.md, checked by parsing every module under swatch/ (and the root scripts)."""

from __future__ import annotations

import ast
import fnmatch
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "swatch"
DOC = ROOT / "docs" / "architecture.md"

#: every top-level module or package of swatch/ and its layer; a module may import its own package and the
#: packages of lower layers, plus the few same-layer pairs in SIDEWAYS (docs/architecture.md, "Layers")
LAYERS: dict[str, int] = {
    # 0 foundation: settings, files, image decoding, grammars, publishing versions
    "swatch": 0, "bounds": 0, "config": 0, "fsutil": 0, "icc": 0, "images": 0, "logs": 0, "metadata": 0,
    "versioning": 0,
    # 1 the catalogue: every SQL statement and the in-memory metadata snapshot
    "catalog": 1,
    # 2 domain: feature extraction and storage, jobs, metrics
    "features": 2, "jobs": 2, "metrics": 2,
    # 3 services: what a request or a command runs
    "search": 3, "clustering": 3, "training": 3, "ingest": 3, "demo": 3, "watch": 3,
    # 4 entry points (and every `__main__` module, wherever it is: it may run the command)
    "web": 4, "cli": 4, "serve": 4, "__main__": 4,
    # 5 what tests and benchmarks share; nothing in swatch/ imports it
    "testing": 5,
}
LAYER_NAMES = ("foundation", "catalogue", "domain", "services", "entry points", "testing")
#: allowed imports inside one layer (importer, imported); every other same-layer import is refused
SIDEWAYS: frozenset[tuple[str, str]] = frozenset({
    ("logs", "config"), ("images", "icc"), ("versioning", "fsutil"), ("metadata", "config"),
    ("metrics", "jobs"),
    ("cli", "web"), ("cli", "serve"), ("serve", "web"), ("serve", "cli"), ("__main__", "cli"),
})
#: third-party libraries that only some places may import (package or module prefixes under swatch.)
THIRD_PARTY: dict[str, tuple[str, ...]] = {
    "flask": ("web",),
    "werkzeug": ("web",),
    "waitress": ("cli", "serve"),
    "gunicorn": ("cli",),
    "faiss": ("search.faiss_*", "clustering"),
    "torch": ("features", "training"),
    "timm": ("features",),
    "onnxruntime": ("features.pattern.runtime",),
    "psycopg": ("catalog.postgres", "testing.postgres"),
    "pymilvus": ("search.milvus_client",),
    "milvus_lite": ("testing.milvus",),
}
#: the root scripts are shims over the command (and app.py over create_app for `flask --app app`)
ROOT_SCRIPTS = ("app.py", "extract_features.py", "train_model.py", "auto_cluster.py")
ROOT_SCRIPT_IMPORTS = ("swatch.cli", "swatch.web")


@dataclass(frozen=True)
class Edge:
    """One import: the importing module, its file and line, and the imported module's dotted name."""

    module: str
    path: str
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.target}"


def module_name(path: Path, base: Path = ROOT) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved against `module`)."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    base = parts[:keep]
    return ".".join(base + ([node.module] if node.module else []))


def _dynamic(node: ast.AST) -> list[tuple[int, str]]:
    """Module names given as text: `import_module("swatch.x")` / `__import__(...)` calls and *_MODULES constants
    (a dependency hidden in a string is still a dependency)."""
    found: list[tuple[int, str]] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = sub.args[0] if sub.args else None
            text = first.value if isinstance(first, ast.Constant) else None
            if name in ("import_module", "__import__") and isinstance(text, str):
                found.append((sub.lineno, text))
        elif isinstance(sub, ast.Assign | ast.AnnAssign):
            targets = sub.targets if isinstance(sub, ast.Assign) else [sub.target]
            if any(isinstance(t, ast.Name) and t.id.endswith("_MODULES") for t in targets) and sub.value:
                for const in ast.walk(sub.value):
                    if isinstance(const, ast.Constant) and isinstance(const.value, str):
                        found.append((const.lineno, const.value))
    return found


def imports_of(path: Path, base: Path = ROOT) -> list[Edge]:
    """Every import in a file (top level, inside functions and under TYPE_CHECKING alike)."""
    module = module_name(path, base)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = str(path.relative_to(base))
    edges: list[Edge] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            edges += [Edge(module, rel, node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path.name == "__init__.py", node)
            edges.append(Edge(module, rel, node.lineno, target))
            if target == "swatch":  # `from swatch import metrics` imports swatch.metrics
                edges += [Edge(module, rel, node.lineno, f"swatch.{a.name}") for a in node.names
                          if a.name in LAYERS]
    edges += [Edge(module, rel, line, name) for line, name in _dynamic(tree)]
    return edges


def swatch_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def package_of(dotted: str) -> str:
    """The top-level part of swatch a dotted module name belongs to ("swatch" for the package itself); a
    `__main__` module counts as an entry point of its own."""
    parts = dotted.split(".")
    if parts[-1] == "__main__":
        return "__main__"
    return parts[1] if len(parts) > 1 else "swatch"


@functools.cache
def _all_swatch_edges() -> tuple[Edge, ...]:
    return tuple(e for p in swatch_files() for e in imports_of(p))


def swatch_edges() -> list[Edge]:
    """Every import of every module under swatch/ (parsed once per test run)."""
    return list(_all_swatch_edges())


def internal(edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if e.target == "swatch" or e.target.startswith("swatch.")]


def _layer_problem(edge: Edge) -> str | None:
    src, dst = package_of(edge.module), package_of(edge.target)
    if src == dst or dst not in LAYERS or src not in LAYERS:
        return None
    if LAYERS[dst] < LAYERS[src] or (src, dst) in SIDEWAYS:
        return None
    where = "a higher" if LAYERS[dst] > LAYERS[src] else "its own"
    return f"{edge}  ({src}: {LAYER_NAMES[LAYERS[src]]} may not import {dst} from {where} layer)"


def test_the_scanner_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The rules are only as good as the parser: each way of importing is seen, relative ones resolved."""
    folder = tmp_path / "swatch" / "search"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("from . import engine\n")
    (folder / "probe.py").write_text(
        "import importlib\nfrom typing import TYPE_CHECKING\nimport swatch.catalog.db\n"
        "from swatch import metrics\nfrom ..web import params\nfrom .engine import run\n"
        "if TYPE_CHECKING:\n    from swatch.training import head\n"
        "def later():\n    from swatch.cli import main\n    importlib.import_module('swatch.demo')\n"
        "PLUGIN_MODULES = ('swatch.clustering.kmeans',)\n"
    )
    found = {e.target for e in imports_of(folder / "probe.py", tmp_path)}
    assert {"swatch.catalog.db", "swatch.metrics", "swatch.web", "swatch.search.engine", "swatch.training",
            "swatch.cli", "swatch.demo", "swatch.clustering.kmeans"} <= found
    assert {e.target for e in imports_of(folder / "__init__.py", tmp_path)} == {"swatch.search"}
    problems = [_layer_problem(e) for e in internal(imports_of(folder / "probe.py", tmp_path))]
    assert sum(p is not None for p in problems) == 5  # web, training, cli, demo, clustering


def test_every_top_level_part_has_a_layer() -> None:
    """A new module or package under swatch/ must be given a layer here and a line in docs/architecture.md."""
    parts = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    parts |= {p.name for p in PACKAGE.iterdir() if p.is_dir() and any(p.rglob("*.py"))}
    missing = sorted(parts - set(LAYERS))
    assert not missing, f"give these a layer in tests/test_architecture.py and docs/architecture.md: {missing}"


def test_imports_follow_the_layers() -> None:
    problems = [msg for e in internal(swatch_edges()) if (msg := _layer_problem(e)) is not None]
    assert not problems, "imports against the layers (docs/architecture.md):\n" + "\n".join(problems)


@pytest.mark.parametrize(("rule", "source", "forbidden"), [
    ("the catalogue imports no service or entry point", "catalog",
     ("features", "search", "clustering", "training", "ingest", "web", "cli", "serve", "jobs", "demo")),
    ("metadata grammars know no database", "metadata", ("catalog", "features", "search", "web", "cli")),
    ("versioning is a leaf", "versioning", ("catalog", "features", "search", "clustering", "training", "web")),
    ("features import neither the demo nor training", "features",
     ("demo", "training", "search", "clustering", "web", "cli")),
    ("search does not reach into web, cli, clustering or training", "search",
     ("web", "cli", "serve", "clustering", "training")),
    ("clustering does not reach into web, cli, search or training", "clustering",
     ("web", "cli", "serve", "search", "training")),
    ("training does not reach into web, cli, search or clustering", "training",
     ("web", "cli", "serve", "search", "clustering")),
    ("web does not import the command line", "web", ("cli", "serve")),
])
def test_named_rules(rule: str, source: str, forbidden: tuple[str, ...]) -> None:
    bad = [str(e) for e in internal(swatch_edges())
           if package_of(e.module) == source and package_of(e.target) in forbidden]
    assert not bad, f"{rule}:\n" + "\n".join(bad)


def test_only_the_entry_points_import_web() -> None:
    bad = [str(e) for e in internal(swatch_edges())
           if package_of(e.target) == "web" and package_of(e.module) not in ("web", "cli", "serve", "testing")]
    assert not bad, "swatch.web is imported only by swatch.cli (and swatch.serve):\n" + "\n".join(bad)


def test_nothing_in_swatch_imports_testing() -> None:
    bad = [str(e) for e in internal(swatch_edges())
           if package_of(e.target) == "testing" and package_of(e.module) != "testing"]
    assert not bad, "swatch.testing is for tests and benchmarks only:\n" + "\n".join(bad)


def _allowed_for(library: str, module: str) -> bool:
    inside = module.split(".", 1)[1] if "." in module else ""
    return any(fnmatch.fnmatchcase(inside, p) or inside.startswith(p + ".") for p in THIRD_PARTY[library])


def test_heavy_libraries_stay_in_their_layer() -> None:
    """No flask outside web, no faiss outside the Faiss index (and k-means), no torch outside features/training."""
    bad = []
    for e in swatch_edges():
        library = e.target.split(".", 1)[0]
        if library in THIRD_PARTY and not _allowed_for(library, e.module):
            bad.append(f"{e}  ({library} only in {', '.join('swatch.' + p for p in THIRD_PARTY[library])})")
    assert not bad, "\n".join(bad)


def test_root_scripts_are_shims() -> None:
    bad = []
    for name in ROOT_SCRIPTS:
        path = ROOT / name
        if not path.exists():
            continue
        for e in internal(imports_of(path)):
            if not any(e.target == p or e.target.startswith(p + ".") for p in ROOT_SCRIPT_IMPORTS):
                bad.append(str(e))
    assert not bad, "root scripts import only swatch.cli (app.py: swatch.web):\n" + "\n".join(bad)


def test_benchmarks_do_not_import_tests() -> None:
    bad = []
    for path in sorted((ROOT / "bench").glob("*.py")):
        for e in imports_of(path):
            if e.target.split(".", 1)[0] in ("tests", "conftest", "harness"):
                bad.append(str(e))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        bad += [f"bench/{path.name}:{n.lineno}: edits sys.path" for n in ast.walk(tree)
                if isinstance(n, ast.Attribute) and n.attr == "path" and getattr(n.value, "id", "") == "sys"]
    assert not bad, "benchmarks share code through swatch.testing, never tests/ or sys.path:\n" + "\n".join(bad)


def test_the_document_names_every_layer_part() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = [p for p in LAYERS if p not in ("swatch", "__main__")]
    missing = [p for p in named if not re.search(rf"`(swatch[./])?{re.escape(p)}", text)]
    assert not missing, f"docs/architecture.md does not mention: {missing}"
