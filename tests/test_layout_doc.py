"""docs/layout.md lists every source file of the package and the benchmarks, and nothing else."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def listed() -> set[str]:
    files, section = set(), None
    for line in (ROOT / "docs" / "layout.md").read_text().splitlines():
        if m := re.match(r"## `(.+)/`$", line):
            section = m.group(1)
        elif section and (m := re.match(r"- `([^`/]+)`: \S", line)):
            files.add(f"{section}/{m.group(1)}")
    return files


def present() -> set[str]:
    found = set()
    for top in ("src/rnnlab", "benchmarks"):
        for path in (ROOT / top).rglob("*"):
            if path.suffix in (".py", ".c") and "__pycache__" not in path.parts:
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_layout_doc_lists_every_source_file():
    missing, gone = present() - listed(), listed() - present()
    assert not missing, f"add to docs/layout.md: {sorted(missing)}"
    assert not gone, f"remove from docs/layout.md: {sorted(gone)}"
