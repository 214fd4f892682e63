import os
from pathlib import Path

# Keras (parity tests only) must use its torch backend: no TensorFlow here.
os.environ.setdefault("KERAS_BACKEND", "torch")

# Developers running plain `pytest` get the shared data sets; CI sets RNNLAB_DATA itself.
_shared = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
if "RNNLAB_DATA" not in os.environ and _shared.is_dir():
    os.environ["RNNLAB_DATA"] = str(_shared.resolve())
