"""docs/layout.md lists every source file of the package and the benchmarks, and nothing else.

Source files are the .py and .c files, and the shipped configs (package data);
each is described by its first docstring line (or first comment line).
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = ROOT / "docs" / "layout.md"
SUFFIXES = (".py", ".c", ".yaml")


def entries() -> tuple[dict[str, str], list[str]]:
    """(file -> description under the `## dir/` sections, the names listed above them)."""
    files, top, section = {}, [], None
    for line in LAYOUT.read_text().splitlines():
        if m := re.match(r"## `(.+)/`$", line):
            section = m.group(1)
        elif m := re.match(r"- `([^`]+)`: (\S.*)$", line):
            if section is None:
                top.append(m.group(1))
            elif "/" not in m.group(1):
                files[f"{section}/{m.group(1)}"] = m.group(2)
    return files, top


def present() -> set[str]:
    found = set()
    for top in ("src/rnnlab", "benchmarks"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix in SUFFIXES and "__pycache__" not in path.parts:
                found.add(path.relative_to(ROOT).as_posix())
    return found


def first_line(path: Path) -> str:
    """The first line of a module's docstring, a C file's first comment, a config's first one."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".py":
        return (ast.get_docstring(ast.parse(text)) or "").strip().split("\n")[0]
    line = text.split("\n", 1)[0]
    return (
        line.removeprefix("/* ").removesuffix(" */")
        if path.suffix == ".c"
        else line.removeprefix("# ")
    )


def test_layout_doc_lists_every_source_file():
    listed = set(entries()[0])
    missing, gone = present() - listed, listed - present()
    assert not missing, f"add to docs/layout.md: {sorted(missing)}"
    assert not gone, f"remove from docs/layout.md: {sorted(gone)}"


def test_layout_doc_describes_each_file_by_its_first_docstring_line():
    wrong = {
        path: (described, first_line(ROOT / path))
        for path, described in entries()[0].items()
        if (ROOT / path).is_file() and described != first_line(ROOT / path)
    }
    assert not wrong, f"docs/layout.md (described, actual): {wrong}"


def test_the_top_level_entries_exist():
    top = entries()[1]
    assert {"pyproject.toml", "setup.py", "LICENSE", "CHANGELOG.md", ".ci/run"} <= set(top)
    assert [name for name in top if not (ROOT / name).exists()] == []
