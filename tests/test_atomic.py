"""rnnlab.atomic: a write lands whole or not at all, with normal permissions; the only writer."""

import ast
import os
import stat
from pathlib import Path

import pytest

from rnnlab import atomic
from rnnlab.atomic import atomic_path, write_bytes_atomic, write_text_atomic

SRC = Path(__file__).resolve().parents[1] / "src" / "rnnlab"


def test_writes_replace_the_file_and_leave_no_temporary(tmp_path):
    path = tmp_path / "report.md"
    assert write_text_atomic(path, "first ±\n") == path
    assert write_bytes_atomic(path, b"second") == path
    assert path.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
    assert write_text_atomic(str(tmp_path / "é.txt"), "ü").read_text(encoding="utf-8") == "ü"


def test_a_new_file_gets_the_permissions_open_would_give(tmp_path):
    plain = tmp_path / "plain"
    with open(plain, "w") as fh:
        fh.write("x")
    written = write_text_atomic(tmp_path / "atomic", "x")
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    old = os.umask(0o077)
    try:
        private = write_text_atomic(tmp_path / "private", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "figure.png"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="writer died"), atomic_path(path, ".part") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".part") and tmp != path
        tmp.write_bytes(b"half a fig")
        raise RuntimeError("writer died")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]


def test_a_failing_rename_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    path.write_text("{}")

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(dst))

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(PermissionError):
        write_text_atomic(path, '{"new": 1}')
    assert path.read_text() == "{}" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_the_data_reaches_the_disk_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(atomic.os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(
        atomic.os, "replace", lambda a, b: events.append("replace") or real_replace(a, b)
    )
    write_bytes_atomic(tmp_path / "ckpt", b"state")
    assert events == ["fsync", "replace", "fsync"]  # the file, the rename, the directory


# saving.py swaps a whole staged directory in with one rename: its own atomic scheme.
OWN_SCHEME = {"atomic.py", "saving.py"}
WRITE_METHODS = {"write_text", "write_bytes", "savefig"}
ARRAY_SAVES = {
    ("np", "save"),
    ("np", "savez"),
    ("np", "savez_compressed"),
    ("np", "savetxt"),
    ("torch", "save"),
}


def _is_write(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Attribute) and f.attr in WRITE_METHODS:
        return True
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        if (f.value.id, f.attr) in ARRAY_SAVES:
            return True
    if isinstance(f, ast.Name) and f.id == "save_file":
        return True
    if getattr(f, "id", getattr(f, "attr", None)) in ("open", "fdopen"):
        mode = (
            call.args[1]
            if len(call.args) > 1
            else next((k.value for k in call.keywords if k.arg == "mode"), None)
        )
        return isinstance(mode, ast.Constant) and any(c in str(mode.value) for c in "wax+")
    return False


def _writes_outside_atomic_path(node: ast.AST, inside: bool = False) -> list[int]:
    if isinstance(node, (ast.With, ast.AsyncWith)) and any(
        getattr(getattr(item.context_expr, "func", None), "id", None) == "atomic_path"
        for item in node.items
    ):
        inside = True
    found = [node.lineno] if isinstance(node, ast.Call) and _is_write(node) and not inside else []
    for child in ast.iter_child_nodes(node):
        found += _writes_outside_atomic_path(child, inside)
    return found


def test_every_file_write_in_the_package_goes_through_rnnlab_atomic():
    raw = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.name not in OWN_SCHEME:
            lines = _writes_outside_atomic_path(ast.parse(path.read_text(encoding="utf-8")))
            if lines:
                raw[str(path.relative_to(SRC))] = lines
    assert not raw, f"write these through rnnlab.atomic: {raw}"


def test_the_write_scan_finds_a_raw_write():
    code = (
        "import numpy as np\nwith open(p, 'wb') as f: pass\nnp.save(p, a)\nfig.savefig(p)\n"
        "with atomic_path(p) as t: fig.savefig(t)\nwith open(p) as f: pass\n"
    )
    assert _writes_outside_atomic_path(ast.parse(code)) == [2, 3, 4]
