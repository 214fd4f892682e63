"""The reference venv's processes run on TensorFlow whatever KERAS_BACKEND the caller has set.

The test suite itself sets KERAS_BACKEND=torch (conftest.py); before the fix the
import check inherited it, failed, rebuilt the venv and stopped without the error.
Fake interpreters (shell scripts) stand in for the venv's python: they fail unless
KERAS_BACKEND is 'tensorflow', as Keras does in a venv without torch.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    """The benchmark driver's modules (they import each other as top-level modules)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    import keras_env
    import run
    import sizes
    import spawn

    return keras_env, spawn, sizes, run


def _fake_python(path: Path, on_tensorflow: str) -> Path:
    """A script that runs ``on_tensorflow`` when KERAS_BACKEND=tensorflow, else fails as Keras."""
    path.write_text(
        "#!/bin/sh\n"
        'if [ "$KERAS_BACKEND" != tensorflow ]; then\n'
        '  echo "ModuleNotFoundError: No module named torch (KERAS_BACKEND=$KERAS_BACKEND)" >&2\n'
        "  exit 1\n"
        "fi\n" + on_tensorflow + "\n"
    )
    path.chmod(0o755)
    return path


def test_the_helper_forces_tensorflow_and_keeps_everything_else(bench, monkeypatch):
    keras_env, *_ = bench
    monkeypatch.setenv("RNNLAB_BENCH_MARK", "kept")
    env = keras_env.keras_subprocess_env()
    assert env["KERAS_BACKEND"] == "tensorflow" and env["RNNLAB_BENCH_MARK"] == "kept"
    assert os.environ["KERAS_BACKEND"] == "torch"  # the caller's environment is untouched
    assert keras_env.keras_subprocess_env({"KERAS_BACKEND": "jax", "A": "1"}) == {
        "KERAS_BACKEND": "tensorflow",
        "A": "1",
    }


def test_the_import_check_runs_on_tensorflow(bench, tmp_path):
    keras_env, *_ = bench
    python = _fake_python(tmp_path / "python", "exit 0")
    assert keras_env.imports_ok(python)
    assert keras_env.import_error(python) is None


def test_a_venv_that_does_not_import_says_why(bench, tmp_path, monkeypatch):
    keras_env, *_ = bench
    broken = _fake_python(
        tmp_path / "python",
        'echo "ImportError: libtensorflow_framework.so.2: cannot open" >&2\nexit 1',
    )
    assert not keras_env.imports_ok(broken)
    assert "libtensorflow_framework.so.2" in keras_env.import_error(broken)
    assert "does not exist" in keras_env.import_error(tmp_path / "missing")
    # ensure_keras_venv: the venv and pip steps are skipped; the error must carry the stderr.
    real_run = subprocess.run
    skipped = []

    def run_or_skip(cmd, *args, **kwargs):
        if "venv" in cmd or "pip" in cmd:
            skipped.append(cmd)
            return subprocess.CompletedProcess(cmd, 0)
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(keras_env.subprocess, "run", run_or_skip)
    monkeypatch.setattr(keras_env, "venv_python", lambda venv: broken)
    logged = []
    with pytest.raises(
        RuntimeError,
        match=r"(?s)do not import \(KERAS_BACKEND=tensorflow\):\n"
        r".*libtensorflow_framework.so.2: cannot open",
    ):
        keras_env.ensure_keras_venv(tmp_path / "venv", log=logged.append)
    assert len(skipped) == 2 and "libtensorflow_framework" in logged[0]


def test_a_working_venv_is_reused_not_rebuilt(bench, tmp_path, monkeypatch):
    keras_env, *_ = bench
    python = _fake_python(tmp_path / "python", "exit 0")
    monkeypatch.setattr(keras_env, "venv_python", lambda venv: python)
    monkeypatch.setattr(keras_env.subprocess, "run", _only(subprocess.run, "-c"))
    assert keras_env.ensure_keras_venv(tmp_path / "venv", log=pytest.fail) == python


def _only(run, flag):
    """subprocess.run that refuses every command without ``flag`` (no venv, no pip)."""

    def guarded(cmd, *args, **kwargs):
        assert flag in cmd, f"unexpected command {cmd}"
        return run(cmd, *args, **kwargs)

    return guarded


def test_package_versions_and_the_workers_get_tensorflow(bench, tmp_path):
    keras_env, spawn, sizes, run = bench
    python = _fake_python(
        tmp_path / "python", """echo '{"keras": "3.15.1", "tensorflow-cpu": "2.21.0"}'"""
    )
    line, info = run.machine_line({"rnnlab": sys.executable, "keras": str(python)}, "tensorflow")
    assert (info["keras"], info["tensorflow"]) == ("3.15.1", "2.21.0")
    assert "backend tensorflow" in line
    assert spawn.child_env("keras", sizes.FULL)["KERAS_BACKEND"] == "tensorflow"
    assert spawn.child_env("keras", sizes.QUICK)["KERAS_BACKEND"] == "tensorflow"
    # The smoke profile runs Keras on torch in this venv, on purpose.
    assert spawn.child_env("keras", sizes.SMOKE)["KERAS_BACKEND"] == "torch"
