"""A Keras network rebuilt from an exported emocam ONNX file, to train further from it.

The shipped models carry their ONNX graphs only, and a run's ``.keras`` checkpoints live on
whatever machine trained them. Rebuilding the network from the ONNX file lets a run start
from a shipped model (``--set init_weights=models/emocam-ferplus.onnx``): to fine-tune it on
one's own faces, or to go on training it on another machine.

The export folds each batch normalisation into the convolution before it, so a convolution
arrives as a kernel and a bias. Batch normalisation is put back so that it computes nearly
the same thing whether it normalises with its moving statistics (inference) or with a
batch's (training): its statistics are measured on ``sample`` images and its scale and offset set to
undo them. A recorded logit adjustment (:mod:`emocam.training.adjust`) is taken out of the
logits bias, so training starts from the network's own logits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from emocam.errors import ModelError
from emocam.modelinfo import read_model_info
from emocam.preprocess import Normalization, normalize

SAMPLE_IMAGES = 1024  # enough for each channel's mean and variance to a fraction of a percent


def sample_images(images: np.ndarray, norm: Normalization) -> np.ndarray:
    """The ``sample`` for :func:`keras_from_onnx`: the first training images, normalised."""
    return normalize(images[:SAMPLE_IMAGES].astype(np.float32), norm)[..., None]


def _model_config(info: Any, where: Path) -> Any:
    from emocam.training.model import ModelConfig

    spec = info.training.get("model")
    if not isinstance(spec, dict) or spec.get("block", "plain") != "plain":
        raise ModelError(f"{where} does not record a plain emocam network in its metadata; "
                         "start from its .keras checkpoint instead.")
    fields = ModelConfig.__dataclass_fields__
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items() if k in fields}
    return ModelConfig(**kw)


def keras_from_onnx(path: Path, sample: np.ndarray) -> Any:
    """The Keras network ``path`` was exported from, computing the same logits (less any
    recorded logit adjustment). ``sample``: normalised NHWC training images, a few hundred,
    that batch normalisation's statistics are measured on."""
    import onnx
    from onnx import numpy_helper

    from emocam.training.adjust import recorded_shift
    from emocam.training.keras_import import keras_module
    from emocam.training.model import make_model

    keras = keras_module()
    layers = keras.layers

    info = read_model_info(path)
    proto = onnx.load(str(path))
    refuse_int8(path, proto)
    model = make_model(info.num_classes, info.input_size, _model_config(info, path))
    inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    convs = [[inits[i] for i in n.input[1:]] for n in proto.graph.node if n.op_type == "Conv"]
    dense = [inits[i] for n in proto.graph.node if n.op_type in ("MatMul", "Add", "Gemm")
             for i in n.input if i in inits and inits[i].ndim in (1, 2)
             and inits[i].shape[-1] == info.num_classes]
    ours = [layer for layer in model.layers if isinstance(layer, layers.Conv2D)]
    bns = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    if (len(convs) != len(ours) or len(bns) != len(ours) or len(dense) != 2
            or any(len(c) != 2 for c in convs)):
        raise ModelError(f"{path} does not hold the network its metadata describes; start "
                         "from its .keras checkpoint instead.")
    for layer, bn, (kernel, bias) in zip(ours, bns, convs, strict=True):
        kernel = kernel.transpose(2, 3, 1, 0)  # ONNX (out, in, h, w) -> Keras (h, w, in, out)
        if kernel.shape != tuple(layer.kernel.shape):
            raise ModelError(f"{path} does not hold the network its metadata describes; "
                             "start from its .keras checkpoint instead.")
        layer.set_weights([kernel])
        ones = np.ones_like(bias)
        bn.set_weights([ones, bias, np.zeros_like(bias), ones - bn.epsilon])
    kernel, bias = sorted(dense, key=lambda w: w.ndim, reverse=True)
    model.get_layer("logits").set_weights([kernel, bias - recorded_shift(info, path)])
    # Each convolution's output statistics on real faces (the layers before it already
    # compute what the file does), then batch normalisation set to undo them.
    probe = keras.Model(model.input, [layer.output for layer in ours])
    outs = probe.predict(sample, batch_size=256, verbose=0)
    for bn, out in zip(bns, outs, strict=True):
        beta = bn.get_weights()[1]
        axes = tuple(range(out.ndim - 1))
        mean, var = out.mean(axis=axes), out.var(axis=axes)
        bn.set_weights([np.sqrt(var + bn.epsilon), beta + mean, mean, var])
    return model


def refuse_int8(path: Path, proto: Any = None) -> None:
    """``ModelError`` when the model at ``path`` is an int8 one: what rebuilds, fine-tunes or
    quantizes a model starts from the float model (quantizing one twice was a traceback)."""
    import onnx

    proto = proto if proto is not None else onnx.load(str(path))
    if any(n.op_type in ("DequantizeLinear", "QLinearConv", "ConvInteger")
           for n in proto.graph.node):
        raise ModelError(f"{path} is an int8 model; start from the float model beside it.")
