"""Pictures of 28x28 images in the terminal: ASCII, or Rich half blocks in colour."""

from __future__ import annotations

import numpy as np

ASCII_RAMP = " .:-=+*#%@"


def ascii_image(img: np.ndarray) -> str:
    """Plain-text rendering: two characters per pixel, darkest to brightest ink."""
    steps = len(ASCII_RAMP) - 1
    rows = []
    for row in np.asarray(img, dtype=np.uint8):
        rows.append("".join(ASCII_RAMP[(int(v) * steps + 127) // 255] * 2 for v in row).rstrip())
    return "\n".join(rows)


def halfblock_image(img: np.ndarray):
    """Rich Text: one '▀' per two vertical pixels (fg = upper, bg = lower), 28 cols x 14 rows."""
    from rich.text import Text

    img = np.asarray(img, dtype=np.uint8)
    if img.shape[0] % 2:
        img = np.vstack([img, np.zeros((1, img.shape[1]), np.uint8)])
    text = Text()
    for r in range(0, img.shape[0], 2):
        for c in range(img.shape[1]):
            t, b = int(img[r, c]), int(img[r + 1, c])
            text.append("▀", style=f"rgb({t},{t},{t}) on rgb({b},{b},{b})")
        if r + 2 < img.shape[0]:
            text.append("\n")
    return text
