#!/usr/bin/env python3
"""The scikit-learn baseline of `cargo xtask quality`: pixel K-Means on z-scored bands.

usage: sklearn_kmeans.py PIXELS HEIGHT WIDTH BANDS NODATA K LABELS

* PIXELS: HEIGHT x WIDTH x BANDS little-endian float32, pixel-interleaved (the bands to
  cluster on, in order), as `cargo xtask quality` writes them.
* NODATA: the image's nodata value, or `none`. A pixel is valid unless all its bands equal
  NODATA or any is NaN (the engine's rule).
* Each band is z-scored over the valid pixels, then KMeans(n_clusters=K, n_init=1,
  random_state=0) is fitted on every valid pixel.
* LABELS: written as HEIGHT x WIDTH u8, the cluster of each valid pixel and 255 elsewhere.

Prints one JSON line: valid pixels, fit seconds, iterations, inertia. Scoring is left to the
caller, which uses the same metric as for Mapseg's output. Run with OMP_NUM_THREADS=1 for
reproducible timings.
"""
import json
import sys
import time

import numpy as np
from sklearn.cluster import KMeans


def main():
    pixels, height, width, bands, nodata, k, out = sys.argv[1:]
    height, width, bands, k = int(height), int(width), int(bands), int(k)
    X = np.fromfile(pixels, dtype='<f4')
    if X.size != height * width * bands:
        sys.exit(f'{pixels}: {X.size} values, expected {height} x {width} x {bands}')
    X = X.reshape(height * width, bands)
    valid = ~np.isnan(X).any(1)
    if nodata != 'none':
        valid &= ~(X == np.float32(float(nodata))).all(1)
    V = X[valid].astype(np.float64)
    std = V.std(0)
    std[std == 0] = 1.0
    Z = ((V - V.mean(0)) / std).astype(np.float32)
    start = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=1, random_state=0).fit(Z)
    fit_s = time.perf_counter() - start
    labels = np.full(height * width, 255, np.uint8)
    labels[valid] = km.labels_.astype(np.uint8)
    labels.tofile(out)
    print(json.dumps(dict(valid_pixels=int(valid.sum()), fit_s=round(fit_s, 3),
                          iterations=int(km.n_iter_), inertia=float(km.inertia_))))


if __name__ == '__main__':
    main()
