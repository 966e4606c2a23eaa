"""Multiply-adds and FLOPs per input of an ONNX model, counted from its graph.

Only the layers that carry the arithmetic are counted (Conv, ConvTranspose, Gemm, MatMul);
activations, pooling and adds are a rounding error next to them. FLOPs = 2 x MACs, the
convention papers use. The batch dimension is fixed to 1, so the figures are per face.

    python benchmarks/flops.py [MODEL.onnx]
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from onnx import helper, numpy_helper, shape_inference


@dataclass
class FlopCount:
    macs: int = 0
    parameters: int = 0
    by_op: dict[str, int] = field(default_factory=dict)  # MACs per op type

    @property
    def flops(self) -> int:
        return 2 * self.macs


def _fix_batch(model: onnx.ModelProto) -> None:
    # A symbolic batch dimension would leave every shape downstream unknown.
    for inp in model.graph.input:
        dims = inp.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = 1


def _shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    inferred = shape_inference.infer_shapes(model)
    out: dict[str, list[int]] = {}
    values = [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]
    for v in values:
        dims = v.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            out[v.name] = [d.dim_value for d in dims]
    for init in inferred.graph.initializer:
        out[init.name] = list(init.dims)
    return out


def _node_macs(node: onnx.NodeProto, shapes: dict[str, list[int]]) -> int:
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if node.op_type == "Conv":
        w, y = shapes[node.input[1]], shapes[node.output[0]]
        # Weight (M, C/group, kh, kw): each output element costs C/group * kh * kw MACs.
        return math.prod(y) * math.prod(w[1:])
    if node.op_type == "ConvTranspose":
        x, w = shapes[node.input[0]], shapes[node.input[1]]
        # Every input element is spread over (M/group) * kh * kw outputs.
        return math.prod(x) * math.prod(w[1:])
    if node.op_type == "Gemm":
        a, y = shapes[node.input[0]], shapes[node.output[0]]
        k = a[0] if attrs.get("transA", 0) else a[1]
        return math.prod(y) * k
    if node.op_type == "MatMul":
        a, y = shapes[node.input[0]], shapes[node.output[0]]
        return math.prod(y) * a[-1]
    return 0


COUNTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")


def count_flops(path: Path | str) -> FlopCount:
    """MACs and FLOPs for one input (batch 1) of the ONNX model at ``path``."""
    model = onnx.load(str(path))
    _fix_batch(model)
    shapes = _shapes(model)
    count = FlopCount()
    for node in model.graph.node:
        if node.op_type not in COUNTED_OPS:
            continue
        try:
            macs = _node_macs(node, shapes)
        except KeyError as e:
            raise ValueError(f"{path}: the shape of {e} in {node.op_type} node "
                             f"{node.name!r} cannot be inferred") from e
        count.macs += macs
        count.by_op[node.op_type] = count.by_op.get(node.op_type, 0) + macs
    count.parameters = sum(numpy_helper.to_array(i).size for i in model.graph.initializer)
    return count


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", type=Path)
    a = p.parse_args()
    if a.model is None:
        from emocam.resources import default_model_path

        a.model = default_model_path()
    c = count_flops(a.model)
    print(f"{a.model}: {c.macs / 1e6:.2f} M MACs, {c.flops / 1e6:.2f} M FLOPs per input, "
          f"{c.parameters:,} parameters (initializers); by op: "
          + ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in c.by_op.items()))


if __name__ == "__main__":
    main()
