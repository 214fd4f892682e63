"""The README opens with the two commands, and CI runs exactly the second one."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands():
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_starts_with_exactly_two_commands_pinning_cpu_torch():
    main_job, tests = _commands()
    assert "pip install -q torch==2.13.0" in main_job and "rnnlab reproduce" in main_job
    assert "pip install -q torch==2.13.0" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _commands()[1] in ci


def test_ci_also_smokes_a_regular_install_from_an_empty_directory():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert 'pip" install -q torch==2.13.0 .\n' in ci  # not editable: the wheel's contents only
    for command in (
        "train --config imdb/lstm --quick",
        "train --config ../own.yaml",
        "reproduce --quick",
        "-m rnnlab --help",
    ):
        assert command in ci
    assert "^| $name | " in ci  # the report must hold real rows


def test_ci_runs_the_linters_and_the_type_checker_with_pinned_versions():
    ci = (ROOT / ".ci" / "run").read_text()
    for command in ("ruff check src tests benchmarks", "ruff format --check", "/mypy\n"):
        assert command in ci, command
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"ruff==' in pyproject and '"mypy==' in pyproject
