"""Playing a file for the app's view, without Qt: pacing to real time, seeking, and keeping
only a live source's newest frame (emocam.player, emocam.newest)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from emocam.newest import NewestFrame
from emocam.player import FAR_BEHIND_S, Pacer, Seeker
from emocam.types import Frame

FPS = 10.0


def frame(i: int) -> Frame:
    return Frame(np.full((4, 4, 3), i, np.uint8), i, i * 1000.0 / FPS, "clip")


def frames(n: int) -> list[Frame]:
    return [frame(i) for i in range(n)]


class Clip:
    """A file source of ``n`` frames; ``seekable=False`` lacks ``seek`` as some stand-ins do."""

    name = "clip"
    is_live = False

    def __init__(self, n: int, seekable: bool = True) -> None:
        self.frame_count, self._next, self.closed = n, 0, False
        if seekable:
            self.seek = self._seek

    def _seek(self, index: int) -> None:
        self._next = index

    def __iter__(self) -> Iterator[Frame]:
        while self._next < self.frame_count:
            self._next += 1
            yield frame(self._next - 1)

    def close(self) -> None:
        self.closed = True


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> bool:
        self.now += seconds
        return False


# --- pacing ----------------------------------------------------------------------------


def test_frames_are_held_to_real_time_times_the_speed() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    pacer.hold(0.0, 2.0, clock.sleep)  # the first frame anchors the clock, shown at once
    assert clock.now == 100.0
    pacer.hold(1000.0, 2.0, clock.sleep)  # a second of video at 2x: half a second later
    assert clock.now == pytest.approx(100.5)


def test_a_player_far_behind_plays_on_instead_of_rushing_through_a_backlog() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    pacer.hold(0.0, 1.0, clock.sleep)
    clock.now += 3.0  # the CPU was busy for 3 s
    pacer.hold(100.0, 1.0, clock.sleep)  # due 2.9 s ago: shown now, and the clock restarts
    assert clock.now == 103.0
    pacer.hold(200.0, 1.0, clock.sleep)
    assert clock.now == pytest.approx(103.1)
    assert FAR_BEHIND_S < 2.9


def _play(pacer: Pacer, clock: FakeClock, speed: float, work_s: float, decode_s: float = 0.0
          ) -> list[int]:
    """Frames shown of a 4-second clip, each costing ``work_s`` to process once shown and
    ``decode_s`` to read, shown or not."""
    shown = []
    for f in frames(40):
        clock.now += decode_s
        if pacer.passes_over(f.time_ms, speed):
            continue
        pacer.hold(f.time_ms, speed, clock.sleep)
        shown.append(f.index)
        clock.now += work_s
    return shown


def test_faster_than_real_time_the_frames_a_slow_machine_cannot_keep_up_with_are_passed_over(
) -> None:
    # 60 ms a frame: 16 fps at most. Before, 4x played a 4 s clip in 2.4 s (1.7x).
    clock = FakeClock()
    shown = _play(Pacer(clock), clock, 4.0, 0.06)
    assert clock.now - 100.0 == pytest.approx(1.0, abs=0.1)  # a quarter of its length
    assert 12 <= len(shown) <= 20 and shown[0] == 0
    # At 1x every frame is read, at the pace the machine can.
    clock = FakeClock()
    assert _play(Pacer(clock), clock, 1.0, 0.2) == list(range(40))
    # Where reading alone cannot keep up, the picture still moves on.
    clock = FakeClock()
    assert len(_play(Pacer(clock), clock, 4.0, 0.0, decode_s=FAR_BEHIND_S + 0.01)) == 40


def test_a_command_stops_the_hold_at_once() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    pacer.hold(0.0, 1.0, clock.sleep)
    waits: list[float] = []
    pacer.hold(5000.0, 1.0, lambda s: waits.append(s) or True)
    assert len(waits) == 1 and clock.now == 100.0


def test_after_a_reset_the_next_frame_is_shown_at_once() -> None:
    clock = FakeClock()
    pacer = Pacer(clock)
    pacer.hold(0.0, 1.0, clock.sleep)
    pacer.reset()  # a seek
    pacer.hold(60_000.0, 1.0, clock.sleep)
    assert clock.now == 100.0


# --- seeking ---------------------------------------------------------------------------


def test_a_seek_continues_from_the_chosen_frame() -> None:
    clip = Clip(20)
    seeker = Seeker(clip, reopen=lambda: pytest.fail("a seekable source is not reopened"))
    assert [f.index for f in seeker.seek(15)] == [15, 16, 17, 18, 19]


def test_a_seek_past_the_end_shows_the_last_frame() -> None:
    assert [f.index for f in Seeker(Clip(20), reopen=lambda: Clip(20)).seek(500)] == [19]


def test_a_source_that_cannot_seek_is_opened_again_and_decoded_up_to_the_frame() -> None:
    first = Clip(20, seekable=False)
    opened: list[Clip] = []

    def reopen() -> Clip:
        opened.append(Clip(20, seekable=False))
        return opened[-1]

    seeker = Seeker(first, reopen)
    assert next(seeker.seek(7)).index == 7
    assert first.closed and seeker.source is opened[0] and len(opened) == 1


# --- a live source's newest frame ------------------------------------------------------


def test_a_slow_consumer_of_a_live_source_gets_the_newest_frame_not_a_queue() -> None:
    gate = threading.Event()

    def camera() -> Iterator[Frame]:
        yield from frames(5)
        gate.set()
        threading.Event().wait(10)  # a camera that has nothing more for now

    wake = threading.Event()
    newest: NewestFrame[Frame] = NewestFrame(camera(), wake=wake)
    try:
        assert gate.wait(5) and wake.is_set()
        item = newest.take()
        assert item is not None and item[0].index == 4  # 0-3 were replaced, not queued
        assert newest.take() is None
    finally:
        newest.stop(0.1)


def test_a_live_source_that_fails_is_reported_with_its_error() -> None:
    def camera() -> Iterator[Frame]:
        yield from frames(1)
        raise OSError(5, "Input/output error")

    newest: NewestFrame[Frame] = NewestFrame(camera())
    deadline = time.monotonic() + 5
    while not newest.done and time.monotonic() < deadline:
        newest.wait(0.1)
    assert newest.done and isinstance(newest.error, OSError)
