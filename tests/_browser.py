"""A page in a real browser, for tests: headless Chromium takes a screenshot, and the PNG is
read back with the standard library, so a test can say the page is not blank.

`screenshot()` returns False when no browser is installed (the caller skips); a browser that
runs and writes nothing is an error, not a skip.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

__all__ = ["browser", "distinct_colours", "png_size", "screenshot"]

TIMEOUT = 60.0  # seconds a screenshot may take, start-up included
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def browser() -> str | None:
    """The Chromium binary to use: /usr/bin/chromium, else the first one on PATH."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return next((found for name in _CANDIDATES if (found := shutil.which(name))), None)


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 2000) -> bool:
    """Render `html` at `width` x `height` CSS pixels into `png`; False if no browser is
    installed. Raises if the browser fails, hangs past TIMEOUT or writes no PNG."""
    binary = browser()
    if binary is None:
        return False
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--screenshot={png.resolve()}",
            f"--window-size={width},{height}",
            html.resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
                env={**os.environ, "HOME": profile},
            )
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"{binary} took over {TIMEOUT:.0f} s on {html}") from exc
    if not png.is_file() or png.stat().st_size == 0:
        raise AssertionError(
            f"{binary} wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
        )
    return True


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG")
    chunks, at = [], len(_SIGNATURE)
    while at + 8 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind = data[at + 4 : at + 8]
        chunks.append((kind, data[at + 8 : at + 8 + length]))
        at += 12 + length  # length, type, data, CRC
        if kind == b"IEND":
            break
    return chunks


def png_size(png: Path) -> tuple[int, int]:
    """(width, height) in pixels, from the IHDR chunk."""
    data = png.read_bytes()
    kind, header = _chunks(data[:33])[0]
    if kind != b"IHDR":
        raise ValueError(f"{png}: the first chunk is {kind!r}, not IHDR")
    width, height = struct.unpack(">II", header[:8])
    return width, height


def _rows(png: Path) -> tuple[int, list[bytes]]:
    """The bytes per pixel and every row unfiltered (8-bit RGB or RGBA, not interlaced)."""
    chunks = _chunks(png.read_bytes())
    header = chunks[0][1]
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    channels = {2: 3, 6: 4}.get(colour_type)
    if depth != 8 or channels is None or interlace:
        raise ValueError(
            f"{png}: depth {depth}, colour type {colour_type}, interlace {interlace}; "
            "only 8-bit RGB/RGBA without interlacing is read"
        )
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((x + up) & 0xFF for x, up in zip(line, previous, strict=True))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(channels):
                line[i] = (line[i] + previous[i]) & 0xFF  # left and corner are 0
            for i in range(channels, stride):
                a, b, c = line[i - channels], previous[i], previous[i - channels]
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predicted = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + predicted) & 0xFF
        elif kind != 0:
            raise ValueError(f"{png}: row {y} has filter type {kind}")
        rows.append(bytes(line))
        previous = line
    return channels, rows


def pixels(png: Path) -> list[tuple[int, int, int]]:
    """Every pixel's (red, green, blue), row by row (alpha dropped)."""
    channels, rows = _rows(png)
    return [(row[i], row[i + 1], row[i + 2]) for row in rows for i in range(0, len(row), channels)]


def distinct_colours(png: Path, sample: int = 5000) -> int:
    """How many different RGB colours `sample` pixels spread evenly over the image have."""
    every = pixels(png)
    step = max(1, len(every) // sample)
    return len(set(every[::step]))
