"""The comparison environment: Keras 3 on TensorFlow, in a virtual environment of its own.

rnnlab never needs TensorFlow (a large install, and one that would put a second
copy of every framework thread pool into rnnlab's venv), so the reference
lives outside the project: created once with `python -m venv` + pip, reused
while it still imports `tensorflow` and `keras`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PACKAGES = ("tensorflow-cpu==2.21.0", "keras==3.15.1", "numpy")
DEFAULT_VENV = Path.home() / ".cache" / "rnnlab" / "bench-keras-tf"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def imports_ok(python: Path | str, modules: tuple[str, ...] = ("tensorflow", "keras")) -> bool:
    """Whether ``python`` can import ``modules`` (a half-finished install cannot)."""
    if not Path(python).exists():
        return False
    code = "import " + ", ".join(modules)
    done = subprocess.run([str(python), "-c", code], capture_output=True, check=False)
    return done.returncode == 0


def ensure_keras_venv(venv: Path, log=print) -> Path:
    """The python of a venv at ``venv`` holding `PACKAGES`; created (or repaired) if needed."""
    python = venv_python(venv)
    if imports_ok(python):
        return python
    log(f"creating the Keras/TensorFlow venv {venv} ({' '.join(PACKAGES)}); once, a few minutes")
    venv.parent.mkdir(parents=True, exist_ok=True)
    # --clear: a previous, interrupted install leaves a venv that cannot import tensorflow.
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    if not imports_ok(python):
        raise RuntimeError(f"{venv}: tensorflow and keras installed but do not import")
    return python


def package_versions(python: Path | str, names: tuple[str, ...]) -> dict[str, str | None]:
    """Installed versions of ``names`` in the environment of ``python`` (None: not installed)."""
    code = (
        "import json, sys\nfrom importlib import metadata\nout = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try:\n        out[n] = metadata.version(n)\n"
        "    except metadata.PackageNotFoundError:\n        out[n] = None\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run(
        [str(python), "-c", code, *names], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)
