"""Media with sound, made in the test: a real-face picture with a beep, and what a file's
sound tracks hold."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = 48_000
BEEP_AT_S = 1.0  # the source's sound is silent until here, then a 440 Hz tone


def _beep(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return np.where(t >= BEEP_AT_S, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)


def with_sound(
    picture: Path, out: Path, codec: str, picture_starts_s: float = 0.0, seconds: float = 2.5,
    more: tuple[str, ...] = (),
) -> Path:
    """``picture``'s frames (copied) with a mono beep track from time 0 in ``codec`` (and one
    more in each of ``more``); the picture may start later on the container's clock, as in
    footage trimmed by an editor."""
    with av.open(str(picture)) as src, av.open(str(out), "w") as dst:
        video_in = src.streams.video[0]
        video_out = dst.add_stream_from_template(video_in)
        sounds = [dst.add_stream(each, rate=RATE) for each in (codec, *more)]
        shift = round(picture_starts_s / video_in.time_base)
        for packet in src.demux(video_in):
            if packet.dts is None:
                continue
            packet.pts += shift
            packet.dts += shift
            packet.stream = video_out
            dst.mux(packet)
        for sound in sounds:
            _add_beep(dst, sound, seconds)
    return out


def _add_beep(dst: av.container.OutputContainer, sound: av.AudioStream, seconds: float) -> None:
    wave = _beep(seconds)
    for i in range(0, len(wave), 1024):
        frame = av.AudioFrame.from_ndarray(wave[None, i:i + 1024], format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, i, Fraction(1, RATE)
        dst.mux(sound.encode(frame))
    dst.mux(sound.encode(None))


def sound_of(path: Path, track: int = 0) -> tuple[str, np.ndarray] | None:
    """The codec and the samples (mono mix, from time 0) of a sound track."""
    with av.open(str(path)) as c:
        if len(c.streams.audio) <= track:
            return None
        stream = c.streams.audio[track]
        chunks, first = [], None
        for frame in c.decode(stream):
            first = frame.time if first is None else first
            chunks.append(frame.to_ndarray().reshape(len(frame.layout.channels), -1).mean(0))
        samples = np.concatenate(chunks)
        lead = np.zeros(max(round((first or 0.0) * RATE), 0), np.float32)
        return stream.codec_context.codec.canonical_name, np.concatenate([lead, samples])


def onset_s(samples: np.ndarray) -> float:
    return float(np.argmax(np.abs(samples) > 0.1)) / RATE
