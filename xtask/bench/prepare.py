"""Make the benchmark raster: mirror-tile an RGB image from a wheel to size x size pixels, saved as .npy (H, W, 3) u8.

usage: prepare.py WHEEL MEMBER SIZE OUT.npy
"""

import io
import sys
import zipfile

import numpy as np
from PIL import Image


def main(wheel: str, member: str, size: int, out: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        image = Image.open(io.BytesIO(archive.read(member))).convert("RGB")
    pixels = np.asarray(image, dtype=np.uint8)
    height, width, _ = pixels.shape
    # Mirror-tiling keeps the content natural at the seams; np.pad repeats the reflection as often as needed.
    tiled = np.pad(pixels, ((0, size - height), (0, size - width), (0, 0)), mode="symmetric")
    assert tiled.shape == (size, size, 3), tiled.shape
    np.save(out, np.ascontiguousarray(tiled))
    print(f"{member}: {width}x{height} -> {size}x{size}, saved {out}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
