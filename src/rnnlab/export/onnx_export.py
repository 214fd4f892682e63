"""`export_onnx`: a saved model -> an ONNX file and its JSON sidecar, checked and verified.

The graph comes from the exporter of the model's architecture (`registry`); it
is validated by `onnx.checker` (with shape inference), run on onnxruntime
against rnnlab on probe batches (`runtime.verify_export`), and only then
written: the .onnx file, then the sidecar, each atomically. The sidecar holds
the SHA-256 of the .onnx file, so a service can tell a pair that belongs together.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from rnnlab.atomic import write_bytes_atomic, write_text_atomic
from rnnlab.errors import ModelFileError
from rnnlab.export.deps import require_onnx
from rnnlab.export.onnx_graph import MIN_OPSET, check_opset
from rnnlab.export.registry import exporter_for
from rnnlab.export.runtime import verify_export
from rnnlab.export.sidecar import describe, sidecar_path
from rnnlab.pipeline import Pipeline, load


@dataclass(frozen=True)
class ExportResult:
    """What `export_onnx` wrote.

    Attributes:
        onnx_path / sidecar_path: the two files.
        opset: the graph's opset.
        size_bytes: size of the .onnx file.
        max_abs_diff: largest |probability difference| from rnnlab on the probe
            batches (None when not verified).
    """

    onnx_path: Path
    sidecar_path: Path
    opset: int
    size_bytes: int
    max_abs_diff: float | None


def export_onnx(
    model: Pipeline | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    opset: int = MIN_OPSET,
    verify: bool = True,
) -> ExportResult:
    """Export a model to ONNX, with its JSON sidecar beside it (``out`` with suffix .json).

    Args:
        model: a loaded `Pipeline` or a saved model directory.
        out: the .onnx file to write (its directory must exist).
        opset: the ONNX opset (17 up to the newest the installed onnx knows).
        verify: run the graph on onnxruntime against rnnlab before writing (needs
            onnxruntime); an export that disagrees raises `ExportParityError`.

    Returns:
        An `ExportResult`.
    """
    out = Path(out)
    side = sidecar_path(out)
    if not out.parent.is_dir():
        raise ModelFileError(
            f"cannot write {str(out)!r}: the directory {str(out.parent)!r} does not exist"
        )
    opset = check_opset(opset)
    pipeline = model if isinstance(model, Pipeline) else load(model)
    graph = exporter_for(pipeline)(pipeline, opset)
    # full_check runs strict shape inference: a graph that is wrong in shape or type fails
    # here, at export, not in the service that loads it.
    require_onnx().checker.check_model(graph, full_check=True)
    data = graph.SerializeToString()
    diff = verify_export(pipeline, data) if verify else None
    write_bytes_atomic(out, data)
    sidecar = describe(pipeline, graph, out.name, hashlib.sha256(data).hexdigest())
    write_text_atomic(side, json.dumps(sidecar, indent=1, ensure_ascii=False) + "\n")
    return ExportResult(out, side, opset, len(data), diff)
