"""`rnnlab import-keras FILE OUT`, then the usual commands on OUT; and no Keras at run time."""

import csv
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stdout

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":  # pragma: no cover
    pytest.skip("Keras must run on its torch backend", allow_module_level=True)

from rnnlab.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")

L = keras.layers
ROWS = [[12, 7, 43], [5, 0, 9, 9, 31, 2], [48, 47, 46, 45, 44, 43, 42, 41, 40]]


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            L.Embedding(50, 6, mask_zero=True),
            L.LSTM(5),
            L.Dense(3, activation="softmax"),
        ]
    )
    model.set_weights([w * 4 for w in model.get_weights()])
    path = tmp_path_factory.mktemp("k") / "topics.keras"
    model.save(path)
    return model, path


def _keras_batch(rows, steps=8):
    x = np.zeros((len(rows), steps), dtype="int64")
    for i, row in enumerate(rows):
        row = row[-steps:]  # truncating 'pre'
        x[i, steps - len(row) :] = row
    return x


def test_import_then_predict_reads_what_keras_reads(keras_model, tmp_path, capsys):
    model, path = keras_model
    out = tmp_path / "imported"
    assert main(["import-keras", str(path), str(out), "--labels", "earn,acq,crude"]) == 0
    printed = capsys.readouterr().out
    assert "3 classes (earn, acq, crude), reads ids (maxlen 8, padding pre)" in printed
    lines = tmp_path / "ids.txt"
    lines.write_text("".join(" ".join(map(str, r)) + "\n" for r in ROWS))
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        assert main(["predict", str(out), str(lines)]) == 0
    table = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert table[0] == ["id", "label", "p_earn", "p_acq", "p_crude"]
    got = np.array([[float(v) for v in row[2:]] for row in table[1:]])
    expected = model.predict(_keras_batch(ROWS), verbose=0)
    np.testing.assert_allclose(got, expected, atol=2e-6)  # printed to 6 decimals
    names = ["earn", "acq", "crude"]
    assert [row[1] for row in table[1:]] == [names[k] for k in expected.argmax(1)]


def test_an_id_beyond_the_embedding_is_one_line_and_exit_2(keras_model, tmp_path, capsys):
    _, path = keras_model
    assert main(["import-keras", str(path), str(tmp_path / "m")]) == 0
    (tmp_path / "ids.txt").write_text("3 4 50\n")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m"), str(tmp_path / "ids.txt")]) == 2
    assert capsys.readouterr().err == (
        "rnnlab: error: token ids must be in [0, 49] for this model (its Embedding has 50 rows), "
        "got ids from 0 to 50; map larger ids to the oov id (2 in the Keras layout), as "
        "load_data(num_words=...) does\n"
    )


def test_a_refused_model_is_one_line_and_exit_2(tmp_path, capsys):
    model = keras.Sequential(
        [
            keras.Input((8,)),
            L.Embedding(50, 6),
            L.Conv1D(2, 3, name="c"),
            L.GlobalMaxPooling1D(),
            L.Dense(1, activation="sigmoid"),
        ]
    )
    model.save(tmp_path / "conv.h5")
    assert main(["import-keras", str(tmp_path / "conv.h5"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rnnlab: error: layer 'c' (Conv1D): unsupported layer; rnnlab imports")
    assert "\n" not in err and not (tmp_path / "out").exists()


def test_import_reads_no_keras_and_no_tensorflow(keras_model, tmp_path):
    _, path = keras_model
    index = tmp_path / "word_index.json"
    index.write_text(json.dumps({f"w{r}": r for r in range(1, 100)}))
    # None in sys.modules makes any import of these fail.
    code = (
        "import sys; sys.modules.update(keras=None, tensorflow=None); "
        "from rnnlab.cli import main; "
        f"rc = main(['import-keras', {str(path)!r}, {str(tmp_path / 'm')!r}, "
        f"'--word-index', {str(index)!r}]); "
        f"rc = rc or main(['predict', {str(tmp_path / 'm')!r}, '-']); sys.exit(rc)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        input="w1 w2 w3\n",
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "reads text (maxlen 8, padding pre)" in run.stdout
    assert run.stdout.splitlines()[-2] == "id,label,p_0,p_1,p_2"
