"""Why a file OpenCV cannot open as a video cannot be read, in one sentence: PyAV opens it and
decodes its first picture, and what FFmpeg says there (no format it knows, sound only, a codec
without a decoder, damaged pictures) replaces the guesses the message made before.

FFmpeg's own words go to the log (stderr, shown under -v), never to standard output, where a
CSV may be going.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("emocam.sources")

# FFmpeg's log level is the process's: two probes at once (the app opening a file while an
# export opens another) each restored the level the other had raised, leaving FFmpeg's words
# on for good in half of the tries.
_LEVEL_LOCK = threading.Lock()

# Packets of the picture track tried before its pictures are deemed undecodable: a stream
# may start with pictures that refer to ones before the cut (an open GOP).
_PACKETS_TRIED = 60

# FFmpeg's summary of a stream: "Stream #0:0: Video: avs2 (AVS2 / 0x32535641), none, ...";
# PyAV says nothing of a codec it has no decoder for, FFmpeg's summary does.
_VIDEO_LINE = re.compile(r"Stream #\d+:\d+[^:]*: Video: (\S+?)(?:,|\s|$)(?:\(([^/()]{1,4}) / 0x)?")


@dataclass(frozen=True)
class Probe:
    """What FFmpeg (through PyAV) finds in a file."""

    error: str = ""  # FFmpeg's words where it could not open the file or decode a picture
    recognised: bool = False  # FFmpeg knows the file's format
    video: bool = False
    audio: bool = False
    codec: str = ""  # FFmpeg's name of the picture codec; "none" where it knows none
    tag: str = ""  # the container's code for that codec ("AVS2"), where it has one
    decoder: bool = False  # this build has a decoder for it
    packets: bool = False  # the picture track holds a picture
    decoded: bool = False  # its first picture decodes


def probe(path: Path) -> Probe:
    """What FFmpeg finds in ``path``; its messages are logged (shown under -v)."""
    import av
    import av.logging

    with _LEVEL_LOCK:
        before = av.logging.get_level()
        # FFmpeg writes a file's summary (and its complaints) only at INFO; captured, not
        # printed.
        av.logging.set_level(av.logging.INFO)
        try:
            with av.logging.Capture() as said:
                found = _probe(path)
        finally:
            av.logging.set_level(before)
    for _level, name, text in said:
        log.info("FFmpeg (%s) on %s: %s", name, path, text.strip())
    if found.error:
        log.info("FFmpeg on %s: %s", path, found.error)
    return found


def _probe(path: Path) -> Probe:
    import av

    try:
        container = av.open(str(path))
    except av.InvalidDataError as e:
        return Probe(error=_words(e))
    except (av.FFmpegError, OSError, ValueError) as e:
        return Probe(error=_words(e), recognised=True)
    with container:
        audio = bool(container.streams.audio)
        if not container.streams.video:
            return Probe(recognised=True, audio=audio)
        stream = container.streams.video[0]
        codec, tag = _codec_of(container)
        facts: dict[str, Any] = dict(recognised=True, video=True, audio=audio, codec=codec,
                                     tag=tag)
        if stream.codec_context is None:  # PyAV's sign that no decoder was found
            return Probe(**facts)
        facts["codec"] = stream.codec_context.codec.name if codec in ("", "none") else codec
        error = ""
        try:
            for n, packet in enumerate(container.demux(stream)):
                if n == _PACKETS_TRIED:
                    break
                if not packet.size:
                    continue
                facts["packets"] = True
                try:
                    if stream.codec_context.decode(packet):
                        return Probe(decoder=True, decoded=True, **facts)
                except av.FFmpegError as e:
                    error = _words(e)
            # A decoder working on several pictures at once hands them out at the end.
            if facts.get("packets") and stream.codec_context.decode(None):
                return Probe(decoder=True, decoded=True, **facts)
        except (av.FFmpegError, OSError, ValueError) as e:
            error = error or _words(e)
        return Probe(error=error, decoder=True, **facts)


def _codec_of(container: Any) -> tuple[str, str]:
    """The first picture track's codec and tag as FFmpeg's summary of the file gives them."""
    match = _VIDEO_LINE.search(container.dumps_format())
    if match is None:
        return "", ""
    return match.group(1), (match.group(2) or "").strip()


def _words(e: Exception) -> str:
    """FFmpeg's message without PyAV's errno and call: "Invalid data found when processing
    input"."""
    return getattr(e, "strerror", None) or str(e)


def _looks_like_text(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 3:
            return False
        text = head[:e.start].decode("utf-8")  # a character cut at 512 bytes
    return bool(text) and all(c.isprintable() or c in "\t\r\n" for c in text)


def codec_words(found: Probe) -> str:
    """How the sentence names the codec: "AVS2 video", "video in a codec FFmpeg does not
    know (tagged "QQQQ")"."""
    if found.codec in ("", "none"):
        tagged = f' (tagged "{found.tag}")' if found.tag else ""
        return f"video in a codec FFmpeg does not know{tagged}"
    return f"{found.codec.upper()} video"


def no_pictures(path: Path, found: Probe) -> str | None:
    """The sentence for a media file with nothing to read, where that is so: sound alone (an
    .m4a renamed, a screen recorder's sound track), or a picture track without a frame (a
    recording stopped at once)."""
    if not found.recognised or (found.error and not found.video):
        return None
    if not found.video:
        why = "holds sound only, no pictures" if found.audio else "holds no pictures"
    elif found.decoder and not found.packets and not found.error:
        why = "holds no frames (its recording may have stopped before the first)"
    else:
        return None
    return f"The video {path} {why}; give a video with pictures."


def why_unopened(path: Path, video_named: bool) -> str:
    """The one sentence for a file OpenCV could not open as a video, with FFmpeg's cause;
    ``video_named``: its name is a video's (.mp4), so "use a video" would help no one."""
    return unopened_sentence(path, probe(path), video_named)


def unopened_sentence(path: Path, found: Probe, video_named: bool) -> str:
    """``why_unopened`` given what FFmpeg found in ``path``."""
    empty = no_pictures(path, found)
    if empty:
        return empty
    if not found.recognised:
        text = _looks_like_text(path)
        what = ("it holds text, not a video" if text else
                "FFmpeg reads no video format in it, so it is another kind of file or is "
                "damaged at its start")
        if not video_named:
            todo = "use a video (.mp4, .avi, .mov, .mkv) or an image (.jpg, .png) file"
        elif text:
            todo = "give the video itself"
        else:
            todo = "check that it plays in a video player, or give the video itself"
        return f"{path} cannot be opened as a video: {what}; {todo}."
    if not found.video:  # FFmpeg knows the format but failed reading it
        return (f"{path} cannot be opened as a video: FFmpeg says \"{found.error}\"; check "
                "that it plays in a video player.")
    codec = codec_words(found)
    if not found.decoder:
        return (f"{path} holds {codec}, which this build cannot decode; convert it to H.264 "
                "MP4 with the program that made it or with ffmpeg.")
    if not found.decoded:
        said = f' (FFmpeg: "{found.error}")' if found.error else ""
        return (f"{path} holds {codec} whose first pictures cannot be decoded{said}, so it is "
                "damaged or not what its codec tag says; check that it plays in a video "
                "player, or copy or export it again.")
    # Decoded here, yet OpenCV (which brings an FFmpeg of its own) could not open it.
    return (f"{path} holds {codec} that FFmpeg decodes but OpenCV cannot open; convert it to "
            "H.264 MP4 (for example with ffmpeg) and process that.")
