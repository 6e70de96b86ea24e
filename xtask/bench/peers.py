"""Time the peers' pixel k-means on the benchmark raster; print one JSON object.

usage: peers.py PIXELS.npy K SEED
Each timing covers fitting and labelling every pixel. Median of 3 runs; a peer slower than SLOW_S runs once.
"""

import json
import os
import statistics
import sys
import time

import faiss
import numpy as np
import sklearn
from sklearn.cluster import MiniBatchKMeans

RUNS = 3
SLOW_S = 30.0


def timed_runs(fit_and_label) -> dict:
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        labels = fit_and_label()
        runs.append(time.perf_counter() - start)
        assert len(labels) > 0
        if runs[-1] > SLOW_S:
            break
    return {"runs_s": runs, "median_s": statistics.median(runs)}


def minibatch_kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=1).fit(x)
    return model.predict(x)


def faiss_kmeans(x: np.ndarray, k: int, seed: int) -> np.ndarray:
    model = faiss.Kmeans(d=x.shape[1], k=k, seed=seed)
    model.train(x)
    _, labels = model.index.search(x, 1)
    return labels[:, 0]


def main(path: str, k: int, seed: int) -> None:
    pixels = np.load(path)
    x = np.ascontiguousarray(pixels.reshape(-1, pixels.shape[-1]), dtype=np.float32)
    result = {
        "pixels": int(x.shape[0]),
        "k": k,
        "cpus": os.cpu_count(),
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "faiss": faiss.__version__,
        },
        "minibatch_kmeans": timed_runs(lambda: minibatch_kmeans(x, k, seed)),
        "faiss": timed_runs(lambda: faiss_kmeans(x, k, seed)),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
