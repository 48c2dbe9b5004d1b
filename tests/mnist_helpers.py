"""Small MNIST-shaped IDX files made by the tests, and a local HTTP server that serves them."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np

from sgdlab.mnist import idx

NAMES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}


def make_arrays(n_train=60, n_test=20, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_set(folder: Path, arrays=None, gz=True) -> dict:
    arrays = arrays or make_arrays()
    for key, array in arrays.items():
        idx.write(Path(folder) / (NAMES[key] + (".gz" if gz else "")), array, compress=gz)
    return arrays


def gz_payloads(arrays=None) -> dict[str, bytes]:
    """file name -> gzipped IDX bytes, as a mirror serves them."""
    arrays = arrays or make_arrays()
    return {NAMES[k] + ".gz": gzip.compress(idx.encode(a), mtime=0) for k, a in arrays.items()}


def md5s(payloads: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.md5(data).hexdigest() for name, data in payloads.items()}


@contextlib.contextmanager
def serve(routes: dict, hits: dict | None = None):
    """Serve ``routes``: path -> bytes, or (bytes, declared length) to send a cut-short body,
    or a list of such (one per request, the last repeats) to fail then succeed."""
    hits = hits if hits is not None else {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            name = self.path.rsplit("/", 1)[-1]
            hits[name] = hits.get(name, 0) + 1
            entry = routes.get(name)
            if isinstance(entry, list):
                entry = entry[min(hits[name], len(entry)) - 1]
            if entry is None:
                self.send_error(404)
                return
            body, length = entry if isinstance(entry, tuple) else (entry, len(entry))
            self.send_response(200)
            self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/data/"
    finally:
        server.shutdown()
        server.server_close()
