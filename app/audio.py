"""The source's sound in the annotated video.

The annotated video is written as pictures only. Once it is complete, its frames and the
source's audio streams are put together in a new file, which replaces the silent one: the
picture's packets are copied as they are, and so is the sound when the container can carry it
(AAC, MP3, Opus, ... in MP4); other sound (PCM, Vorbis), or sound the chosen container refuses
(Opus in AVI or MOV), is re-encoded as AAC. The sound is shifted by the time
the source's picture starts and cut where the annotated video ends (a run stopped early), so
it plays in step with the picture.

Nothing here fails a run: a source whose sound cannot be copied leaves the silent video in
place, and a warning says why.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Sound an MP4 carries as it is; anything else is re-encoded.
_MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"})
_AAC_BIT_RATE = 160_000
# Layouts the AAC encoder takes, by channel count; others are mixed down to stereo.
_AAC_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "4.0", 5: "5.0", 6: "5.1", 8: "7.1"}


def stream_seconds(value: int | None, time_base: Fraction | None) -> float:
    """A stream time in seconds; 0 when the container does not say."""
    if value is None or time_base is None:
        return 0.0
    return float(value * time_base)


@dataclass
class _Track:
    """One source audio stream and how it reaches the output."""

    source: Any  # av.audio.stream.AudioStream
    output: Any
    copy: bool


def _picture_start(container: Any) -> float:
    """Where the source's picture starts on its container's clock, in seconds: frame 0 of the
    annotated video is placed there."""
    if not container.streams.video:
        return 0.0
    stream = container.streams.video[0]
    return stream_seconds(stream.start_time, stream.time_base)


def has_sound(source: Path) -> bool:
    """Whether ``source`` holds a sound track (False where it cannot be read as a video)."""
    import av

    try:
        with av.open(str(source)) as src:
            return bool(src.streams.audio)
    except (av.FFmpegError, OSError, ValueError):
        return False


def add_audio(video: Path, source: Path, duration_s: float) -> bool:
    """Give ``video`` (written by emocam, silent) the sound of ``source``, cut at
    ``duration_s``. Returns whether it now has sound; on failure it is left untouched."""
    import av

    temp = video.with_name(f".{video.stem}.sound{video.suffix}")
    error: Exception | None = None
    try:
        # Copied where MP4 could carry it; a container that refuses the copy (AVI or MOV and
        # Opus) gets it re-encoded, as one that cannot carry it at all would.
        for copy in (True, False):
            copying = False
            try:
                with av.open(str(source)) as src:
                    if not src.streams.audio:
                        return False
                    copying = copy and any(_copyable(a) for a in src.streams.audio)
                    with av.open(str(video)) as picture, av.open(str(temp), "w") as out:
                        _mux(picture, src, out, duration_s, copy)
                os.replace(temp, video)
                return True
            except (av.FFmpegError, OSError, ValueError) as e:
                error = e
                if not copying:  # re-encoding is what failed: no other way to try
                    break
    finally:
        temp.unlink(missing_ok=True)
    log.warning(
        "The annotated video %s was kept without sound: the sound of %s could not be "
        "copied (%s).", video, source, _why(error),
    )
    return False


def _why(error: Exception | None) -> str:
    """FFmpeg's reason without the file it names (the hidden temporary file)."""
    return str(getattr(error, "strerror", None) or error)


def _copyable(stream: Any) -> bool:
    # The format's name, not the decoder's: MP3 is decoded by "mp3float".
    return stream.codec_context.codec.canonical_name in _MP4_AUDIO


def _mux(picture: Any, src: Any, out: Any, duration_s: float, copy: bool) -> None:
    """Put the picture and the sound together; ``copy``: sound MP4 carries is copied."""
    video_in = picture.streams.video[0]
    video_out = out.add_stream_from_template(video_in)
    tracks = {stream.index: _track(stream, out, copy) for stream in src.streams.audio}
    picture_packets = _video_packets(picture, video_in, video_out)
    sound_packets = _audio_packets(src, tracks, _picture_start(src), duration_s)
    # Both in time order, so the file's sound and picture lie side by side as players read them.
    for _, packet in heapq.merge(picture_packets, sound_packets, key=lambda item: item[0]):
        out.mux(packet)


def _track(stream: Any, out: Any, copy: bool) -> _Track:
    if copy and _copyable(stream):
        return _Track(stream, out.add_stream_from_template(stream), copy=True)
    encoded = out.add_stream("aac", rate=stream.codec_context.sample_rate)
    channels = stream.codec_context.layout.nb_channels
    encoded.layout = _AAC_LAYOUTS.get(channels, "stereo")
    encoded.bit_rate = _AAC_BIT_RATE
    return _Track(stream, encoded, copy=False)


def _video_packets(picture: Any, stream: Any, output: Any) -> Iterator[tuple[float, Any]]:
    for packet in picture.demux(stream):
        if packet.size == 0:  # the demuxer's end-of-stream marker
            continue
        # Matroska gives H.264's first packets no dts (it would be before zero): they are
        # the keyframe, and without them no frame decodes. Their pts orders them.
        when = packet.dts if packet.dts is not None else packet.pts
        t = stream_seconds(when, packet.time_base)
        packet.stream = output
        yield t, packet


def _audio_packets(
    src: Any, tracks: dict[int, _Track], offset: float, duration_s: float
) -> Iterator[tuple[float, Any]]:
    """Every sound track's packets from one pass over ``src`` (one demuxer reads them all)."""
    ended: set[int] = set()
    # The picture's start in each track's own time units: its packets are moved back by it.
    shifts = {i: round(offset / t.source.time_base) for i, t in tracks.items()}
    for packet in src.demux([t.source for t in tracks.values()]):
        track = tracks[packet.stream.index]
        if packet.dts is None or packet.pts is None or packet.stream.index in ended:
            continue
        shift = shifts[packet.stream.index]
        start = float((packet.pts - shift) * track.source.time_base)
        if start >= duration_s:  # the annotated video ends here
            ended.add(packet.stream.index)
            if len(ended) == len(tracks):
                break
        elif not track.copy:
            yield from _reencoded(packet, track.output, offset, duration_s)
        elif start >= 0:  # sound before the first picture is dropped
            packet.pts -= shift
            packet.dts -= shift
            packet.stream = track.output
            yield start, packet
    for track in tracks.values():
        if not track.copy:
            yield from _timed(track.output.encode(None))


def _timed(packets: Any) -> Iterator[tuple[float, Any]]:
    # An encoder's first packets can start before zero (AAC's priming); AVI and Matroska
    # would shift the whole file to make room, so they are dropped as sound before the picture.
    for packet in packets:
        t = float((packet.pts or 0) * packet.time_base)
        if t >= 0:
            yield t, packet


def _reencoded(
    packet: Any, output: Any, offset: float, duration_s: float
) -> Iterator[tuple[float, Any]]:
    for frame in packet.decode():
        t = frame.time - offset if frame.time is not None else 0.0
        if t < 0 or t >= duration_s:
            continue
        frame.pts = round(t * frame.sample_rate)
        frame.time_base = Fraction(1, frame.sample_rate)
        yield from _timed(output.encode(frame))
