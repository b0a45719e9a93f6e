"""Load a model server (dicec op serve) on loopback and print throughput, latency and batch sizes.

    python benchmarks/serve.py [--models builtin|seeded] [--clients 16] [--requests 800] [--format text|json]

For each (--max-batch, --max-wait-ms) in SETTINGS a fresh in-process server serves ``find`` and
``exists`` on a generated scene image (examples/scenes); --clients threads, each with its own
keep-alive connection (the step client, dicec.runtime.client.ServiceClient), send --requests calls in
all, alternating the two operators over a grid of receiver boxes, so the model does real work per
call. Printed per setting: requests per second, p50/p95 milliseconds per request as the client sees
it, and the mean and largest batch the server ran (from its /metrics counters). Every answer is
checked against dicec.runtime.backend.evaluate of the same call in this process.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: (--max-batch, --max-wait-ms): no batching; batching what is already queued; waiting 5 ms for more.
SETTINGS = ((1, 0.0), (8, 0.0), (8, 5.0))
sys.path.insert(0, str(ROOT))


def scene_image(folder: Path) -> Path:
    """Scene 0 of examples/scenes (shapes on a plain background: what the builtin models answer about)."""
    from dicec.runtime.images import encode_png
    from dicec.runtime.scene.generate import make_scene, render

    path = folder / "scene-000.png"
    path.write_bytes(encode_png(render(make_scene(0))))
    return path


def run(models: str, max_batch: int, max_wait_ms: float, clients: int, requests: int, image_path: Path) -> dict:
    from dicec.runtime.backend import evaluate, get_backend, registry_for
    from dicec.runtime.calls import Call
    from dicec.runtime.client import ServiceClient
    from dicec.runtime.images import load_image
    from dicec.runtime.serve import ModelServer, ServeOptions

    image = load_image(str(image_path))
    boxes = [{"left": x, "lower": y, "right": x + image.width // 2, "upper": y + image.height // 2}
             for x in range(0, image.width // 2, max(1, image.width // 16))
             for y in range(0, image.height // 2, max(1, image.height // 12))]
    calls = [Call(operator=op, form="method", patch=boxes[i % len(boxes)], args=(word,))
             for i, (op, word) in enumerate(
                 (("find", "circle") if i % 2 else ("exists", "square")) for i in range(requests))]
    server = ModelServer(ServeOptions(operators=("find", "exists"), port=0, max_batch=max_batch, max_wait_ms=max_wait_ms,
                                      models=models))
    server.start()
    server.wait_ready(300)
    registry, backend = registry_for(), get_backend(models)
    want = [evaluate(backend, registry.get(c.operator), registry.get(c.operator).form("method"), image, c)
            for c in calls]
    latencies: list[float] = []
    got: dict[int, tuple] = {}
    lock = threading.Lock()

    def client(k: int) -> None:
        sc = ServiceClient(server.url, wait_s=5)
        for i in range(k, len(calls), clients):
            t0 = time.perf_counter()
            answer = sc.evaluate(image, calls[i])
            with lock:
                latencies.append(time.perf_counter() - t0)
                got[i] = answer
        sc.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    c = server.counters
    batches = sum(x.batches for x in c.values())
    largest = max(x.batch_size_max for x in c.values())
    server.stop(delay_s=0)
    wrong = sum(1 for i, w in enumerate(want) if got.get(i) != w)
    latencies.sort()
    return {"models": models, "max_batch": max_batch, "max_wait_ms": max_wait_ms, "clients": clients, "requests": requests,
            "requests_per_s": round(requests / seconds, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 2),
            "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 2),
            "mean_batch": round(requests / batches, 2), "largest_batch": largest, "wrong_answers": wrong}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", choices=["builtin", "seeded"], default="builtin")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=800)
    ap.add_argument("--format", choices=["text", "json"], default="text")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        image = scene_image(Path(tmp))
        rows = [run(args.models, b, w, args.clients, args.requests, image) for b, w in SETTINGS]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return
    print(f"dicec op serve find exists, --models {args.models}, {args.clients} clients, {args.requests} requests")
    print(f"{'max-batch':>9} {'wait ms':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'mean batch':>10} {'largest':>7} {'wrong':>5}")
    for r in rows:
        print(f"{r['max_batch']:>9} {r['max_wait_ms']:>7g} {r['requests_per_s']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} "
              f"{r['mean_batch']:>10} {r['largest_batch']:>7} {r['wrong_answers']:>5}")


if __name__ == "__main__":
    main()
