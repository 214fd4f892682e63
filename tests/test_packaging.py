"""The package as pip sees it: one version, every import declared, configs and licence shipped."""

import ast
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import rnnlab

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "rnnlab"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Import names that differ from the distribution that provides them.
DISTRIBUTION_OF = {"yaml": "pyyaml", "sklearn": "scikit-learn"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _canonical(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement).group(0))


def _imported_modules(path: Path) -> set[str]:
    """Top-level names of every absolute import in ``path``, lazy ones inside functions too."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_version_is_written_once_and_read_without_importing():
    assert "version" not in PYPROJECT["project"] and "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "rnnlab.__version__"}
    # A plain string literal: setuptools reads it from the AST, so the isolated build
    # environment (setuptools only) never imports rnnlab, numpy or torch.
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    literal = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
        and isinstance(node.value, ast.Constant)
    ]
    assert literal == [rnnlab.__version__]


def test_installed_metadata_version_is_the_package_version():
    assert metadata.version("rnnlab") == rnnlab.__version__


def test_every_imported_third_party_module_is_a_declared_dependency():
    declared = {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}
    for extra in PYPROJECT["project"]["optional-dependencies"].values():
        declared |= {_requirement_name(r) for r in extra}
    installed = metadata.packages_distributions()
    undeclared = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for module in _imported_modules(path) - set(sys.stdlib_module_names) - {"rnnlab"}:
            dists = {_canonical(d) for d in installed.get(module, [])}
            dists |= {DISTRIBUTION_OF.get(module, _canonical(module))}
            if not dists & declared:
                undeclared.setdefault(module, []).append(str(path.relative_to(ROOT)))
    assert not undeclared, f"imported but not in pyproject's dependencies: {undeclared}"


def test_the_dependency_scan_sees_lazy_imports():
    # The scan must not pass by looking at too little: report.py imports matplotlib
    # inside its plotting functions only.
    assert "matplotlib" in _imported_modules(PACKAGE / "experiments" / "report.py")
    assert "scipy" in _imported_modules(PACKAGE / "engine" / "inference.py")


def _copy_source(dst: Path) -> Path:
    """What pip builds from: the build files and src/, without this checkout's build outputs."""
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dst / name)
    shutil.copytree(
        ROOT / "src",
        dst / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info"),
    )
    return dst


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A wheel and an sdist built from a copy of the sources, offline (no build isolation)."""
    src = _copy_source(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])",
            str(out),
        ],
        cwd=src,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("rnnlab-*.whl")
    (sdist,) = out.glob("rnnlab-*.tar.gz")
    return wheel, sdist


SHIPPED = sorted(
    p.relative_to(PACKAGE.parent).as_posix() for p in (PACKAGE / "configs").glob("*/*.yaml")
)


def test_the_wheel_carries_the_configs_the_licence_and_the_metadata(built):
    wheel, _ = built
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        text = zf.read(meta).decode()
    assert len(SHIPPED) >= 10 and set(SHIPPED) <= names, sorted(set(SHIPPED) - names)
    assert "rnnlab/__main__.py" in names and "rnnlab/experiments/catalog.py" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert f"\nVersion: {rnnlab.__version__}\n" in text
    assert "\nLicense-Expression: MIT\n" in text
    assert "\nRequires-Dist: scipy" in text


def test_the_sdist_carries_the_configs_the_licence_and_the_c_source(built):
    _, sdist = built
    with tarfile.open(sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    assert {f"src/{p}" for p in SHIPPED} <= names
    assert {"LICENSE", "pyproject.toml", "setup.py", "src/rnnlab/nn/paths/_native_loops.c"} <= names
