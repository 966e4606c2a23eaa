"""Augmentation that imitates what the camera pipeline hands the model.

The geometric part re-frames each 48x48 image with the app's own crop function
(``emocam.preprocess``): a detector box that is a little off-centre, larger or smaller, or a
head that is tilted after eye alignment, exactly as at serving time.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emocam.preprocess import similarity_matrix, warp_gray


@dataclass(frozen=True)
class AugmentConfig:
    shift: float = 0.08  # fraction of the side
    scale: float = 0.10  # +- relative zoom
    rotation: float = 12.0  # degrees
    flip: bool = True
    brightness: float = 0.25  # +- fraction of full range
    contrast: float = 0.30  # +- relative
    blur_prob: float = 0.15
    noise_prob: float = 0.15
    noise_sigma: float = 6.0
    cutout_prob: float = 0.0
    cutout_size: int = 12


def augment_batch(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig
                  ) -> np.ndarray:
    """``(N, S, S)`` uint8 -> augmented ``(N, S, S)`` float32 pixels in 0..255."""
    n, side = images.shape[0], images.shape[1]
    out = np.empty(images.shape, dtype=np.float32)
    c = side / 2.0
    for i in range(n):
        dx, dy = rng.uniform(-cfg.shift, cfg.shift, 2) * side
        zoom = 1.0 + rng.uniform(-cfg.scale, cfg.scale)
        angle = rng.uniform(-cfg.rotation, cfg.rotation)
        m = similarity_matrix((c + dx, c + dy), side / zoom, angle, side)
        img = warp_gray(images[i], m, side)
        if cfg.flip and rng.random() < 0.5:
            img = img[:, ::-1]
        if rng.random() < cfg.blur_prob:
            img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.5, 1.2))
        out[i] = img
    gain = 1.0 + rng.uniform(-cfg.contrast, cfg.contrast, (n, 1, 1))
    bias = rng.uniform(-cfg.brightness, cfg.brightness, (n, 1, 1)) * 255.0
    mean = out.mean(axis=(1, 2), keepdims=True)
    out = (out - mean) * gain + mean + bias
    noisy = rng.random(n) < cfg.noise_prob
    if noisy.any():
        out[noisy] += rng.normal(0.0, cfg.noise_sigma, out[noisy].shape).astype(np.float32)
    if cfg.cutout_prob > 0:
        for i in np.flatnonzero(rng.random(n) < cfg.cutout_prob):
            y, x = rng.integers(0, side - cfg.cutout_size, 2)
            out[i, y : y + cfg.cutout_size, x : x + cfg.cutout_size] = out[i].mean()
    return np.clip(out, 0.0, 255.0)
