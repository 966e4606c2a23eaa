"""The compact CNN family behind the shipped emotion models.

Designed for the laptop CPU the app runs on: stages of 3x3 convolutions that halve the
resolution and widen the channels (or, as the ``separable`` option, depthwise-separable
residual blocks), global average pooling and one dense layer. Width and depth are
parameters; the shipped preset stays under 500k parameters. ``transfer_weights`` carries a
trained network's weights into a wider one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from emocam.training.keras_import import keras_module

if TYPE_CHECKING:
    import keras


def _keras():
    # Imported on first use: ModelConfig is plain data that tools without TensorFlow read.
    keras = keras_module()
    return keras, keras.layers


@dataclass(frozen=True)
class ModelConfig:
    widths: tuple[int, ...] = (16, 32, 64, 128)  # channels per stage
    blocks: tuple[int, ...] = (2, 2, 2, 2)  # convolutions (plain) or residual blocks per stage
    stem: int = 16
    # "plain": 3x3 convolutions (oneDNN and onnxruntime run these fastest on a CPU);
    # "separable": residual depthwise-separable blocks (fewer parameters, slower on CPU).
    block: str = "plain"
    dropout: float = 0.3
    spatial_dropout: float = 0.05
    weight_decay: float = 1e-4


def _bn_relu(x):
    _, layers = _keras()
    x = layers.BatchNormalization(momentum=0.95)(x)
    return layers.ReLU()(x)


def _conv(x, ch: int, wd: float):
    keras, layers = _keras()
    x = layers.Conv2D(ch, 3, padding="same", use_bias=False,
                      kernel_regularizer=keras.regularizers.l2(wd))(x)
    return _bn_relu(x)


def _sep(x, ch: int, stride: int, wd: float):
    keras, layers = _keras()
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                               depthwise_regularizer=keras.regularizers.l2(wd))(x)
    x = layers.BatchNormalization(momentum=0.95)(x)
    x = layers.Conv2D(ch, 1, use_bias=False, kernel_regularizer=keras.regularizers.l2(wd))(x)
    return _bn_relu(x)


def _block(x, ch: int, stride: int, cfg: ModelConfig):
    keras, layers = _keras()
    shortcut = x
    y = _sep(x, ch, stride, cfg.weight_decay)
    y = _sep(y, ch, 1, cfg.weight_decay)
    if stride != 1 or shortcut.shape[-1] != ch:
        if stride != 1:
            shortcut = layers.AveragePooling2D(stride, padding="same")(shortcut)
        shortcut = layers.Conv2D(ch, 1, use_bias=False,
                                 kernel_regularizer=keras.regularizers.l2(cfg.weight_decay)
                                 )(shortcut)
        shortcut = layers.BatchNormalization(momentum=0.95)(shortcut)
    return layers.Add()([y, shortcut])


def make_model(num_classes: int, input_size: int = 48, cfg: ModelConfig | None = None
               ) -> keras.Model:
    """Logits model on normalised ``(input_size, input_size, 1)`` gray crops."""
    keras, layers = _keras()
    cfg = cfg or ModelConfig()
    inp = keras.Input((input_size, input_size, 1), name="input")
    x = layers.Conv2D(cfg.stem, 3, padding="same", use_bias=False,
                      kernel_regularizer=keras.regularizers.l2(cfg.weight_decay))(inp)
    x = _bn_relu(x)
    for stage, (ch, n) in enumerate(zip(cfg.widths, cfg.blocks, strict=True)):
        if cfg.block == "plain":
            if stage > 0:
                x = layers.MaxPooling2D()(x)
            for _ in range(n):
                x = _conv(x, ch, cfg.weight_decay)
        else:
            for i in range(n):
                x = _block(x, ch, 2 if (i == 0 and stage > 0) else 1, cfg)
        if cfg.spatial_dropout > 0 and stage < len(cfg.widths) - 1:
            x = layers.SpatialDropout2D(cfg.spatial_dropout)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(cfg.dropout)(x)
    # float32 logits even under a mixed-precision policy: softmax and the export need them.
    out = layers.Dense(num_classes, name="logits", dtype="float32",
                       kernel_regularizer=keras.regularizers.l2(cfg.weight_decay))(x)
    return keras.Model(inp, out, name="emocam_cnn")


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates per image for the convolution and dense layers."""
    _, layers = _keras()
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            k = layer.kernel_size[0] * layer.kernel_size[1]
            total += h * w * c * k
        elif isinstance(layer, layers.Conv2D):
            _, h, w, c = layer.output.shape
            k = layer.kernel_size[0] * layer.kernel_size[1] * layer.input.shape[-1]
            total += h * w * c * k
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)


def transfer_weights(source: keras.Model, target: keras.Model, seed: int = 0) -> list[str]:
    """Copy ``source``'s weights into ``target``, widening them where ``target`` is wider.

    Same layers, same shapes: a plain copy. A plain network with more channels in some
    convolutions: Net2WiderNet (Chen et al., 2016). Each extra channel repeats an existing
    one (same filter, same batch-norm statistics) and the next layer divides that channel's
    outgoing weights among its copies, so the wider network computes what the narrow one
    did and training starts from its accuracy. A final ``logits`` layer for a different
    class count starts fresh (transfer learning); its name is returned.

    Raises ``ValueError`` when ``target`` is neither the same network nor a widening of it.
    """
    import numpy as np

    _, layers = _keras()
    # Every layer, pooling and dropout included: the same weight shapes in another order of
    # stages would load without error and compute something else.
    if [type(a) for a in source.layers] != [type(b) for b in target.layers]:
        raise ValueError("the two networks have different layers or stages")
    src = [layer for layer in source.layers if layer.weights]
    dst = [layer for layer in target.layers if layer.weights]
    kinds = {layers.Conv2D: "convolution", layers.DepthwiseConv2D: "depthwise convolution",
             layers.BatchNormalization: "batch normalisation", layers.Dense: "dense layer"}
    residual = any(isinstance(layer, layers.Add) for layer in target.layers)
    rng = np.random.default_rng(seed)
    # Which source channel each of the previous layer's output channels copies, and how many
    # copies that source channel has: the next layer divides its incoming weights by it.
    copies: np.ndarray | None = None
    counts: np.ndarray | None = None
    fresh: list[str] = []
    seen: dict[str, int] = {}
    for a, b in zip(src, dst, strict=True):
        theirs, ours = a.get_weights(), b.get_weights()
        kind = kinds.get(type(a), type(a).__name__)
        seen[kind] = seen.get(kind, 0) + 1
        where = f"{kind} {seen[kind]}"  # what the user can count in model.widths
        same = [w.shape for w in theirs] == [w.shape for w in ours]
        if same and copies is None:
            b.set_weights(theirs)
            continue
        if isinstance(a, layers.Dense) and theirs[0].shape[1] != ours[0].shape[1]:
            if b.name != "logits":
                raise ValueError(f"{where} has a different size")
            fresh.append(b.name)
            continue
        if residual or isinstance(a, layers.DepthwiseConv2D):
            raise ValueError("only plain networks can be widened")
        if isinstance(a, layers.BatchNormalization):
            if (copies is None or len(copies) != ours[0].shape[0]
                    or len(theirs) != len(ours)):
                raise ValueError(f"{where} has a different size or settings")
            b.set_weights([w[copies] for w in theirs])
            continue
        if not isinstance(a, (layers.Conv2D, layers.Dense)):
            raise ValueError(f"{where} has a different size")
        kernel = theirs[0]
        if copies is not None:
            # The input side: each copy of a channel carries 1/count of its weight, with a
            # little noise on the shared weights so the copies can learn different things.
            kernel = (kernel / counts[:, None] if kernel.ndim == 2
                      else kernel / counts[None, None, :, None])
            kernel = kernel[copies] if kernel.ndim == 2 else kernel[:, :, copies, :]
            shared = counts[copies] > 1
            noise = 1 + 0.01 * rng.standard_normal(kernel.shape)
            if kernel.ndim == 2:
                kernel[shared] *= noise[shared]
            else:
                kernel[:, :, shared] *= noise[:, :, shared]
        if kernel.shape[:-1] != ours[0].shape[:-1]:
            raise ValueError(f"{where} has a different kernel or input")
        old, new = kernel.shape[-1], ours[0].shape[-1]
        if new < old:
            raise ValueError(f"{where} has {new} channels, fewer than the checkpoint's {old}")
        if isinstance(a, layers.Dense):
            b.set_weights([kernel.astype(np.float32), *theirs[1:]])
            copies = counts = None
            continue
        copies = np.concatenate([np.arange(old), rng.integers(0, old, new - old)])
        counts = np.bincount(copies, minlength=old).astype(np.float64)
        b.set_weights([kernel[..., copies].astype(np.float32),
                       *(w[copies] for w in theirs[1:])])
        if new == old:
            copies = counts = None
    return fresh
