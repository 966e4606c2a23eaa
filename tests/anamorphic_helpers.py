"""Anamorphic video for tests: a picture stored narrower than it is shown (a 16:9 DVD or DV
camcorder film stored 720x480, its pixels 32:27 wide), and a video's pictures as a player
shows them (its stored pixels widened by the sample aspect ratio it declares)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def stored_video(picture: np.ndarray, path: Path, width: int, pixel_aspect: Fraction,
                 frames: int = 20) -> Path:
    """``picture`` (as shown) stored ``width`` pixels wide, its pixels declared
    ``pixel_aspect`` wide: ``frames`` frames of H.264 at 30 fps."""
    stored = cv2.resize(picture, (width, picture.shape[0]), interpolation=cv2.INTER_AREA)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, picture.shape[0], "yuv420p"
        stream.codec_context.sample_aspect_ratio = pixel_aspect
        for _ in range(frames):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def first_picture_as_shown(path: Path) -> np.ndarray:
    """The first picture of the video at ``path`` as a player shows it (BGR): its stored
    pixels widened by the sample aspect ratio the file declares (none: square)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        aspect = stream.sample_aspect_ratio or Fraction(1)
        image = next(container.decode(stream)).to_ndarray(format="bgr24")
    h, w = image.shape[:2]
    return cv2.resize(image, (round(w * aspect), h), interpolation=cv2.INTER_CUBIC)
