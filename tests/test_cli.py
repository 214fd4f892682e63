"""The command line: train -> evaluate -> predict on a small CSV, and one clear line per bad input."""

import csv
import json
import subprocess
import sys

import pytest

from rnnlab.cli import main

POS = "good great fine excellent lovely superb".split()
NEG = "bad awful poor terrible boring worst".split()


@pytest.fixture(scope="module")
def toy_csv(tmp_path_factory):
    import random

    rng = random.Random(0)
    path = tmp_path_factory.mktemp("data") / "toy.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["review", "sentiment"])
        for _ in range(200):
            label = rng.choice(["pos", "neg"])
            words = rng.choices(POS if label == "pos" else NEG, k=4) + rng.choices(
                ["the", "plot"], k=4
            )
            rng.shuffle(words)
            w.writerow([" ".join(words), label])
    return path


@pytest.fixture(scope="module")
def trained(toy_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "r"
    rc = main(
        [
            "train",
            "--config",
            "text/gru",
            "--data",
            str(toy_csv),
            "--out",
            str(out),
            "--quiet",
            "--seed",
            "0",
            "data.text_column=review",
            "data.label_column=sentiment",
            "train.epochs=8",
            "train.early_stopping_patience=8",
        ]
    )
    assert rc == 0
    return out


def test_train_evaluate_predict(trained, toy_csv, capsys, tmp_path):
    assert (trained / "model" / "model.safetensors").is_file()
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate",
                str(trained / "model"),
                str(toy_csv),
                "--text-column",
                "review",
                "--label-column",
                "sentiment",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    acc = float(out.split("accuracy ")[1].split(",")[0])
    assert acc > 0.9, out
    assert "neg" in out and "pos" in out and "precision" in out
    texts = tmp_path / "texts.txt"
    texts.write_text("a great superb film\nawful boring plot\n")
    assert main(["predict", str(trained / "model"), str(texts), "--format", "jsonl"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["label"] for r in rows] == ["pos", "neg"]
    assert abs(sum(rows[0]["probabilities"].values()) - 1) < 1e-5
    assert main(["predict", str(trained / "model"), str(texts)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id,label,p_neg,p_pos" and lines[1].startswith("1,pos,")


def test_predict_reads_stdin(trained):
    proc = subprocess.run(
        [sys.executable, "-m", "rnnlab.cli", "predict", str(trained / "model")],
        input="superb lovely\nworst terrible\n",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert [line.split(",")[1] for line in proc.stdout.splitlines()[1:]] == ["pos", "neg"]


def _fails(args, capsys, *needles):
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


def test_bad_inputs_give_one_clear_line(trained, toy_csv, capsys, tmp_path):
    model = str(trained / "model")
    _fails(
        ["train", "--config", "text/gru", "--data", str(tmp_path / "missing.csv")],
        capsys,
        "does not exist",
    )
    _fails(
        ["train", "--config", "text/gru", "--data", str(toy_csv), "data.text_column=body"],
        capsys,
        "body",
        "review",
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    _fails(["train", "--config", "text/gru", "--data", str(empty)], capsys, "empty.csv")
    _fails(["train", "--config", "imdb/lstn"], capsys, "unknown experiment", "imdb/lstm")
    _fails(["train", "--config", "text/gru", "trian.epochs=1"], capsys, "did you mean `train`")
    _fails(["evaluate", str(tmp_path / "nomodel"), str(toy_csv)], capsys, "no saved model")
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("review,sentiment\ngreat film,pos\nodd film,meh\n")
    _fails(
        ["evaluate", model, str(unseen), "--text-column", "review", "--label-column", "sentiment"],
        capsys,
        "never seen in training",
        "meh",
    )
    _fails(["predict", model, str(tmp_path / "none.txt")], capsys, "does not exist")


def test_python_dash_m_rnnlab_is_the_command_line(tmp_path):
    import rnnlab

    help_ = subprocess.run(
        [sys.executable, "-m", "rnnlab", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert help_.returncode == 0, help_.stderr
    assert help_.stdout.startswith("usage: rnnlab ") and "reproduce" in help_.stdout
    version = subprocess.run(
        [sys.executable, "-m", "rnnlab", "--version"], capture_output=True, text=True, cwd=tmp_path
    )
    assert version.stdout.strip() == f"rnnlab {rnnlab.__version__}"


def test_debug_shows_the_traceback(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnlab.cli",
            "--debug",
            "evaluate",
            str(tmp_path / "x"),
            str(tmp_path / "y.csv"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_overrides_may_sit_between_options(capsys):
    # `train.epochs=1` before `--quick` must still be an override, and strays are refused.
    from rnnlab import cli

    seen = {}
    orig = cli._cmd_train
    try:
        cli._cmd_train = lambda args: seen.setdefault("o", args.overrides) and 0
        assert cli.main(["train", "--config", "x", "a.b=1", "--quick", "c.d=2"]) == 0
    finally:
        cli._cmd_train = orig
    assert seen["o"] == ["a.b=1", "c.d=2"]
    with pytest.raises(SystemExit):
        cli.main(["data", "x=1"])


def test_own_data_config_without_a_path_says_how(capsys):
    _fails(["train", "--config", "text/gru"], capsys, "`data.path` is required", "--data")


def test_a_file_the_os_refuses_is_one_line_naming_it(toy_csv, capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    _fails(
        [
            "train",
            "--config",
            "text/gru",
            "--data",
            str(toy_csv),
            "--quick",
            "--quiet",
            "--out",
            str(blocker / "run"),
            "data.text_column=review",
            "data.label_column=sentiment",
        ],
        capsys,
        str(blocker),
    )


def test_reproduce_that_finds_no_experiment_is_an_error_not_an_empty_report(
    capsys, tmp_path, monkeypatch
):
    from rnnlab.experiments import catalog

    _fails(
        ["reproduce", "--quick", "--seeds", "0", "--out", str(tmp_path / "a")],
        capsys,
        "`--seeds` must be a positive integer, got 0",
    )
    (tmp_path / "rnnlab").mkdir()  # an install whose package data did not ship
    monkeypatch.setattr(catalog.resources, "files", lambda package: tmp_path / package)
    _fails(
        ["reproduce", "--quick", "--out", str(tmp_path / "b")],
        capsys,
        "holds no experiment configs",
    )
    _fails(["train", "--config", "imdb/lstm", "--quick"], capsys, "holds no experiment configs")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def _raising(exc):
    """A command that fails with ``exc``, standing in for a real one."""

    def command(args):
        raise exc

    return command


@pytest.mark.parametrize(
    "bug",
    [
        ZeroDivisionError("division by zero"),
        RuntimeError("an invariant broke"),
        ValueError("a plain ValueError from deep inside"),
        KeyError("missing"),
    ],
)
def test_an_unexpected_exception_is_a_bug_and_keeps_its_traceback(bug, monkeypatch):
    from rnnlab import cli

    monkeypatch.setattr(cli, "_cmd_train", _raising(bug))
    with pytest.raises(type(bug)) as caught:
        cli.main(["train", "--config", "text/gru"])
    assert caught.value is bug


def test_rnnlab_errors_and_os_errors_are_one_line_and_interrupts_exit_130(monkeypatch, capsys):
    from rnnlab import cli
    from rnnlab.errors import DataError, InvalidTypeError

    for exc, text in [
        (DataError("first line\nsecond line"), "first line second line"),
        (InvalidTypeError("`x` must be int"), "`x` must be int"),
        (PermissionError(13, "Permission denied", "/data/x.csv"), "/data/x.csv: Permission denied"),
    ]:
        monkeypatch.setattr(cli, "_cmd_train", _raising(exc))
        assert cli.main(["train", "--config", "text/gru"]) == 2
        assert capsys.readouterr().err == f"rnnlab: error: {text}\n"
        with pytest.raises(type(exc)):
            cli.main(["--debug", "train", "--config", "text/gru"])

    monkeypatch.setattr(cli, "_cmd_train", _raising(KeyboardInterrupt()))
    assert cli.main(["train", "--config", "text/gru"]) == 130
    assert capsys.readouterr().err == "rnnlab: interrupted\n"
    # Data-parallel workers stop together: rank 0 alone says so, every rank exits 130.
    for rank, said in (("0", "rnnlab: interrupted\n"), ("1", "")):
        monkeypatch.setenv("RANK", rank)
        assert cli.main(["train", "--config", "text/gru"]) == 130
        assert capsys.readouterr().err == said


def test_train_with_data_and_no_config_runs_the_default_own_data_recipe(toy_csv, tmp_path, capsys):
    out = tmp_path / "default"
    args = ["--data", str(toy_csv), "--out", str(out), "--quiet", "--quick"]
    columns = ["data.text_column=review", "data.label_column=sentiment"]
    assert main(["train", *args, *columns]) == 0
    config = (out / "config.yaml").read_text()
    assert "name: text_default" in config and "model_kind: hybrid" in config
    assert json.loads((out / "model" / "model.json").read_text())["architecture"] == (
        "HybridClassifier"
    )
    # The same as naming the default config.
    assert (
        main(
            [
                "train",
                "--config",
                "text/default",
                *args[:2],
                "--out",
                str(tmp_path / "n"),
                "--quiet",
                "--quick",
                *columns,
            ]
        )
        == 0
    )
    assert (tmp_path / "n" / "config.yaml").read_text() == config
    # The padded length is sized by the training lengths (8 words and the start id here).
    assert json.loads((out / "model" / "model.json").read_text())["inputs"]["maxlen"] == 9


def test_train_with_neither_config_nor_data_names_both(capsys):
    _fails(["train"], capsys, "--config NAME", "--data FILE", "text/default")
