"""The comparison environment: Keras 3 on TensorFlow, in a virtual environment of its own.

rnnlab never needs TensorFlow (a large install, and one that would put a second
copy of every framework thread pool into rnnlab's venv), so the reference
lives outside the project: created once with `python -m venv` + pip, reused
while it still imports `tensorflow` and `keras`. Every process run with its
python gets `keras_subprocess_env()`: KERAS_BACKEND=tensorflow, whatever the
caller has set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PACKAGES = ("tensorflow-cpu==2.21.0", "keras==3.15.1", "numpy")
MODULES = ("tensorflow", "keras")  # what a usable reference venv imports
BACKEND = "tensorflow"  # the only backend the reference venv has
DEFAULT_VENV = Path.home() / ".cache" / "rnnlab" / "bench-keras-tf"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def keras_subprocess_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every process run with the reference venv's python.

    ``base`` (default: this process's environment) with KERAS_BACKEND forced to
    'tensorflow'. The caller's own KERAS_BACKEND (the test suite sets 'torch') must not
    leak in: Keras would look for torch in a venv that holds only TensorFlow, and
    fail to import.
    """
    env = dict(os.environ if base is None else base)
    env["KERAS_BACKEND"] = BACKEND
    return env


def import_error(python: Path | str, modules: tuple[str, ...] = MODULES) -> str | None:
    """Why ``python`` cannot import ``modules`` (the end of its stderr), or None if it can."""
    if not Path(python).exists():
        return f"{python} does not exist"
    code = "import " + ", ".join(modules)
    done = subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        env=keras_subprocess_env(),
        check=False,
    )
    if done.returncode == 0:
        return None
    tail = "\n".join(done.stderr.strip().splitlines()[-15:])
    return tail or f"`{python} -c '{code}'` exited with {done.returncode} and no message"


def imports_ok(python: Path | str, modules: tuple[str, ...] = MODULES) -> bool:
    """Whether ``python`` can import ``modules`` (a half-finished install cannot)."""
    return import_error(python, modules) is None


def ensure_keras_venv(venv: Path, log=print) -> Path:
    """The python of a venv at ``venv`` holding `PACKAGES`; created (or repaired) if needed."""
    python = venv_python(venv)
    problem = import_error(python)
    if problem is None:
        return python
    log(
        f"creating the Keras/TensorFlow venv {venv} ({' '.join(PACKAGES)}); once, a few minutes "
        f"(it does not import now: {problem.splitlines()[-1]})"
    )
    venv.parent.mkdir(parents=True, exist_ok=True)
    # --clear: a previous, interrupted install leaves a venv that cannot import tensorflow.
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    problem = import_error(python)
    if problem is not None:
        raise RuntimeError(
            f"{venv}: tensorflow and keras installed but do not import "
            f"(KERAS_BACKEND={BACKEND}):\n{problem}"
        )
    return python


def package_versions(
    python: Path | str, names: tuple[str, ...], env: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """Installed versions of ``names`` in the environment of ``python`` (None: not installed).

    ``env``: the child's environment (`keras_subprocess_env()` for the reference venv).
    """
    code = (
        "import json, sys\nfrom importlib import metadata\nout = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try:\n        out[n] = metadata.version(n)\n"
        "    except metadata.PackageNotFoundError:\n        out[n] = None\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run(
        [str(python), "-c", code, *names],
        capture_output=True,
        text=True,
        check=True,
        env=None if env is None else dict(env),
    )
    return json.loads(done.stdout)
