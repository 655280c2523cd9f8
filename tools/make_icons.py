"""Draw the web-app icons in ``static/icons/`` (the installable worker page, issue 12).

Run from the repository root (deterministic, no external files)::

    .venv/bin/python tools/make_icons.py

It writes ``icon-192.png`` and ``icon-512.png`` (a red disc with a white house, as ``static/favicon.svg``, on a
transparent square) and ``icon-maskable-512.png`` (the same house on a full-bleed red square, kept inside the
central 80 % circle that every launcher mask leaves visible).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

RED = (200, 16, 46, 255)  # #c8102e, the page header's --sm-accent and the manifest's theme_color
WHITE = (255, 255, 255, 255)
SUPERSAMPLE = 4  # draw large, then shrink with a good filter: smooth edges without anti-aliased primitives


def _house(draw: ImageDraw.ImageDraw, *, centre: float, unit: float) -> None:
    """Draw the favicon's house (roof chevron and walls) in white, `unit` pixels per favicon unit (32 across)."""
    width = max(1, round(2.5 * unit))

    def point(x: float, y: float) -> tuple[float, float]:
        return centre + (x - 16) * unit, centre + (y - 16) * unit

    draw.line([point(9, 17), point(16, 10), point(23, 17)], fill=WHITE, width=width, joint="curve")
    draw.line([point(11, 15), point(11, 23), point(21, 23), point(21, 15)], fill=WHITE, width=width, joint="curve")
    for x, y in ((9, 17), (23, 17), (11, 15), (21, 15)):  # round the open ends
        cx, cy = point(x, y)
        draw.ellipse([cx - width / 2, cy - width / 2, cx + width / 2, cy + width / 2], fill=WHITE)


def draw_icon(size: int, *, maskable: bool = False) -> Image.Image:
    """
    Return the icon as a `size` × `size` RGBA image.

    Parameters
    ----------
    size
        Edge length in pixels.
    maskable
        Fill the whole square (a launcher crops it to its own shape) and keep the house in the safe zone.
    """
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), RED if maskable else (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    centre = big / 2
    if maskable:
        _house(draw, centre=centre, unit=big * 0.038)  # corners ~10 units out: inside the central 80 % circle
    else:
        ring = big * 0.03
        draw.ellipse([ring, ring, big - ring, big - ring], fill=WHITE)
        inner = ring * 2.2
        draw.ellipse([inner, inner, big - inner, big - inner], fill=RED)
        _house(draw, centre=centre, unit=big / 32)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "static" / "icons")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, size, maskable in (("icon-192.png", 192, False), ("icon-512.png", 512, False),
                                 ("icon-maskable-512.png", 512, True)):
        # no timestamps or text chunks: the same drawing gives the same bytes
        draw_icon(size, maskable=maskable).save(args.out / name, optimize=True)


if __name__ == "__main__":
    main()
