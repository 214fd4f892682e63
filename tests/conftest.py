import os
from pathlib import Path

# Keras (parity tests only) must use its torch backend: no TensorFlow here.
os.environ.setdefault("KERAS_BACKEND", "torch")

# Developers running plain `pytest` get the shared data sets; CI sets RNNLAB_DATA itself.
_shared = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
if "RNNLAB_DATA" not in os.environ and _shared.is_dir():
    os.environ["RNNLAB_DATA"] = str(_shared.resolve())

# Tests use tiny models on 2 shared cores (pytest -n 2): one intra-op thread per
# worker avoids threads spinning against each other (40 ms vs 0.3 ms per batch).
os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

torch.set_num_threads(1)
