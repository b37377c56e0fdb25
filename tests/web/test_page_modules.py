"""The pages' ES modules (static/js): imports resolve, no name defined twice, every module preloaded, small files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import swatch.web

WEB = Path(swatch.web.__file__).parent
JS = WEB / "static" / "js"
IMPORT = re.compile(r'^import \{([^}]*)\} from "([^"]+)";', re.M)
EXPORT = re.compile(r"^export (?:async )?(?:function|const|let|class) ([\w$]+)", re.M)
TOP_LEVEL = re.compile(r"^(?:export )?(?:async )?(?:function|const|let|class) ([\w$]+)", re.M)
PRELOADS = re.compile(r'{% for module in \[([^\]]*)\] %}\s*<link rel="modulepreload"')


def modules() -> list[Path]:
    return sorted(JS.rglob("*.js"))


def imports(path: Path) -> list[tuple[Path, list[str]]]:
    """(module imported, names) for each import statement of a module."""
    return [((path.parent / src).resolve(), [n.strip() for n in names.split(",") if n.strip()])
            for names, src in IMPORT.findall(path.read_text())]


def graph(entry: Path) -> set[Path]:
    """Every module an entry module loads, itself included."""
    seen: set[Path] = set()
    todo = [entry.resolve()]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(target for target, _ in imports(path))
    return seen


def test_every_import_names_an_export_of_an_existing_module() -> None:
    assert modules(), JS
    for path in modules():
        assert "import(" not in path.read_text() and "eval(" not in path.read_text(), path
        for target, names in imports(path):
            assert target.is_file(), (path, target)
            exported = set(EXPORT.findall(target.read_text()))
            assert set(names) <= exported, (path, target.name, set(names) - exported)


def test_no_top_level_name_is_defined_in_two_modules() -> None:
    owner: dict[str, Path] = {}
    for path in modules():
        for name in TOP_LEVEL.findall(path.read_text()):
            assert name not in owner, f"{name} defined in {owner.get(name)} and {path}"
            owner[name] = path


@pytest.mark.parametrize(("template", "entry"), [("index.html", "designer"), ("training.html", "training")])
def test_each_page_preloads_exactly_its_modules(template: str, entry: str) -> None:
    html = (WEB / "templates" / template).read_text()
    assert f"filename='js/{entry}.js'" in html and 'type="module"' in html
    found = PRELOADS.search(html)
    assert found, template
    listed = {JS / f"{name}.js" for name in re.findall(r'"([^"]+)"', found.group(1))}
    assert {p.resolve() for p in listed} == graph(JS / f"{entry}.js"), template


def test_modules_are_a_screen_or_two_and_say_what_they_are() -> None:
    for path in modules():
        text = path.read_text()
        assert len(text.splitlines()) <= 400, path
        assert text.startswith("// "), path
