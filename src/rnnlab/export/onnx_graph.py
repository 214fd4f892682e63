"""`GraphBuilder`: one ONNX graph written node by node with `onnx.helper`, names kept unique.

Exporters describe their computation with `op` (one node, its output names
returned) and `constant` (an initializer); the builder numbers every name, so
two layers never collide, and hides the one opset difference the exporters
meet: reductions take their axes as an attribute before opset 18 and as an
input from 18 on. A node of another domain (``domain="ai.onnx.ml"``) adds that
domain's opset (`DOMAIN_OPSETS`) to the model's imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnlab.errors import InvalidValueError, check_int
from rnnlab.export.deps import require_onnx

# The default and the oldest opset written: every runtime since onnxruntime 1.12 (2022) runs it,
# and nothing the exporters need came later.
MIN_OPSET = 17
# The opset of each other domain an exporter uses: ai.onnx.ml 3 came with default opset 17
# (onnx 1.12), so a runtime that runs the one runs the other.
DOMAIN_OPSETS = {"ai.onnx.ml": 3}


def check_opset(opset: Any) -> int:
    """Validate an opset number: from `MIN_OPSET` to the newest this `onnx` package knows."""
    onnx = require_onnx()
    newest = int(onnx.defs.onnx_opset_version())
    opset = check_int("opset", opset, minimum=MIN_OPSET)
    if opset > newest:
        raise InvalidValueError(
            f"`opset` must be at most {newest}, the newest opset of the installed onnx "
            f"{onnx.__version__}, got {opset}"
        )
    return opset


class GraphBuilder:
    """Nodes, initializers, inputs and outputs of one ONNX graph.

    Args:
        opset: the default-domain opset the graph is written for (see `check_opset`).

    >>> g = GraphBuilder(17)
    >>> x = g.input("x", np.float32, ["batch", 3])
    >>> y = g.op("Mul", x, g.constant("two", np.float32(2.0)), name="y")
    >>> g.output(y, "y", np.float32, ["batch", 3])
    >>> [(n.op_type, list(n.output)) for n in g.model("double").graph.node]
    [('Mul', ['y'])]
    """

    def __init__(self, opset: int) -> None:
        self.onnx = require_onnx()
        self.opset = check_opset(opset)
        self._nodes: list[Any] = []
        self._initializers: list[Any] = []
        self._inputs: list[Any] = []
        self._outputs: list[Any] = []
        self._used: set[str] = set()
        self._ints: dict[tuple[int, ...], str] = {}
        self._domains: set[str] = set()

    def _name(self, hint: str) -> str:
        name, i = hint, 1
        while name in self._used:
            i += 1
            name = f"{hint}_{i}"
        self._used.add(name)
        return name

    def _value_info(self, name: str, dtype: Any, shape: Sequence[int | str]) -> Any:
        elem = self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
        return self.onnx.helper.make_tensor_value_info(name, elem, list(shape))

    def input(self, name: str, dtype: Any, shape: Sequence[int | str]) -> str:
        """Declare a graph input (strings in ``shape`` are dynamic axes); returns its name."""
        if name in self._used:
            raise InvalidValueError(f"the graph already has a value named {name!r}")
        self._used.add(name)
        self._inputs.append(self._value_info(name, dtype, shape))
        return name

    def output(self, value: str, name: str, dtype: Any, shape: Sequence[int | str]) -> None:
        """Expose ``value`` as the graph output ``name`` (through an Identity when renamed)."""
        if value != name:
            if name in self._used:
                raise InvalidValueError(f"the graph already has a value named {name!r}")
            self._used.add(name)
            self._nodes.append(
                self.onnx.helper.make_node("Identity", [value], [name], name=self._name("Identity"))
            )
        self._outputs.append(self._value_info(name, dtype, shape))

    def constant(self, hint: str, value: Any, dtype: Any = None) -> str:
        """Add ``value`` (array-like) as an initializer; returns its (unique) name."""
        array = np.asarray(value, dtype=dtype)
        name = self._name(hint)
        self._initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def ints(self, hint: str, values: Sequence[int]) -> str:
        """A 1-D int64 initializer: the axes, shapes and indices that ops take as inputs.

        Equal values share one initializer (every Squeeze of axis 0 reads the same one).
        """
        key = tuple(int(v) for v in values)
        if key not in self._ints:
            self._ints[key] = self.constant(hint, np.asarray(key, dtype=np.int64))
        return self._ints[key]

    def op(
        self,
        op_type: str,
        *inputs: str,
        outputs: int = 1,
        omit: Sequence[int] = (),
        name: str | None = None,
        **attributes: Any,
    ) -> Any:
        """Append one node; returns its output name, or the list of ``outputs`` names.

        An empty string in ``inputs`` is an omitted optional input, as ONNX spells it;
        the outputs at the indices in ``omit`` are not produced (named ''). ``name``
        names a single output exactly (a graph output, say).
        """
        if name is not None:
            if name in self._used or outputs != 1:
                raise InvalidValueError(f"cannot name the output of {op_type} {name!r}")
            self._used.add(name)
            names = [name]
        else:
            names = [
                "" if i in omit else self._name(f"{op_type}_out{i}" if outputs > 1 else op_type)
                for i in range(outputs)
            ]
        domain = attributes.get("domain") or ""
        if domain:
            if domain not in DOMAIN_OPSETS:
                raise InvalidValueError(
                    f"no opset is set for the ONNX domain {domain!r}; known: "
                    f"{', '.join(sorted(DOMAIN_OPSETS))}"
                )
            self._domains.add(domain)
        node = self.onnx.helper.make_node(
            op_type, list(inputs), names, name=self._name(f"{op_type}_node"), **attributes
        )
        self._nodes.append(node)
        return names[0] if outputs == 1 else names

    def reduce(self, op_type: str, x: str, axes: Sequence[int], keepdims: bool = False) -> str:
        """ReduceMax / ReduceMean / ReduceSum over ``axes``, in the form this opset takes."""
        # ReduceSum took its axes as an input from opset 13, the others only from 18.
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, x, self.ints("axes", axes), keepdims=int(keepdims))
        return self.op(op_type, x, axes=list(axes), keepdims=int(keepdims))

    def model(self, name: str, doc: str = "", metadata: dict[str, str] | None = None) -> Any:
        """The `onnx.ModelProto`, at the lowest IR version that carries this opset."""
        helper = self.onnx.helper
        graph = helper.make_graph(
            self._nodes, name, self._inputs, self._outputs, self._initializers, doc_string=doc
        )
        opset = [helper.make_opsetid("", self.opset)]
        opset += [helper.make_opsetid(d, DOMAIN_OPSETS[d]) for d in sorted(self._domains)]
        # The lowest IR version, not this onnx package's newest: runtimes older than the
        # package refuse IR versions they do not know, though they run the opset.
        model = helper.make_model(
            graph,
            opset_imports=opset,
            ir_version=helper.find_min_ir_version_for(opset),
            producer_name="rnnlab",
        )
        for key, value in (metadata or {}).items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        return model
