"""Exporting trained models to run outside Python: ONNX graphs and the JSON that feeds them.

`export_onnx(model_dir, "model.onnx")` writes ``model.onnx`` (inputs ``ids``
and ``lengths``, output ``probabilities``) and ``model.json`` (labels,
tokenizer, vocabulary, padding); `rnnlab export MODEL OUT.onnx` does the same
from the command line. onnx and onnxruntime come with ``pip install
'rnnlab[export]'`` and are imported only when an export runs. See docs/export.md.
"""

from rnnlab.export.deps import MissingDependencyError
from rnnlab.export.onnx_export import ExportResult, export_onnx
from rnnlab.export.registry import EXPORTERS, register_exporter
from rnnlab.export.runtime import ExportParityError

__all__ = [
    "EXPORTERS",
    "ExportParityError",
    "ExportResult",
    "MissingDependencyError",
    "export_onnx",
    "register_exporter",
]
