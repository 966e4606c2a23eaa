"""How much two colours stand apart (WCAG's contrast ratio), and a class's colour made to
stand apart from a page or a window: the video's colours are chosen for the dark video, and
on white or a light desktop theme neutral's grey and surprise's yellow all but vanished.
Colours are (r, g, b) in 0-255."""

from __future__ import annotations

from functools import lru_cache

RGB = tuple[int, int, int]

# WCAG's least contrast for the parts of a graphic that carry meaning (1.4.11).
MIN_CONTRAST = 3.0
WHITE: RGB = (255, 255, 255)


def _luminance(rgb: RGB) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = rgb
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: RGB, b: RGB) -> float:
    """WCAG's contrast ratio of two colours, 1 (the same) to 21 (black on white)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@lru_cache(maxsize=256)  # asked at every repaint of every card and line: a few pairs in all
def readable_on(rgb: RGB, background: RGB) -> RGB:
    """``rgb``, darkened on a light background (lightened on a dark one) just enough to
    stand out from it by ``MIN_CONTRAST``; unchanged where it already does."""
    if contrast(rgb, background) >= MIN_CONTRAST:
        return rgb
    toward = 0 if _luminance(background) > 0.18 else 255
    for step in range(1, 21):
        t = step / 20
        mixed = tuple(round(v + (toward - v) * t) for v in rgb)
        if contrast(mixed, background) >= MIN_CONTRAST:  # type: ignore[arg-type]
            return mixed  # type: ignore[return-value]
    return (toward, toward, toward)
