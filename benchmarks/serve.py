"""Load a model server (dicec op serve) on loopback and print throughput, latency and batch sizes.

    python benchmarks/serve.py [--workload scene|depth] [--models builtin|seeded] [--clients 16]
                               [--requests 800] [--frames 8] [--repeat 1] [--format text|json]

For each (--max-batch, --max-wait-ms) in SETTINGS a fresh in-process server is started; --clients
threads, each with its own keep-alive connection (the step client, dicec.runtime.client.ServiceClient),
send --requests calls in all. Printed per setting: requests per second, p50/p95 milliseconds per
request as the client sees it, the mean and largest batch the server ran (from its counters), and the
answers that differ from dicec.runtime.backend.evaluate of the same call computed alone in this
process (values compared exactly). With --repeat N every setting runs N times, interleaved, and the
fastest run is printed (the machine's other work slows runs, it never speeds them up).

Workloads:

``scene`` (default): ``find`` and ``exists`` on one generated scene image (examples/scenes) with the
    --models backend, alternating over a grid of receiver boxes. The built-in scene models cache their
    analysis per box and compute one call at a time, so batching has nothing to share here.
``depth``: ``compute_depth`` through the ``onnx`` backend and the operator's real ``operator.py``
    (MiDaS preprocessing, the batch hook, depth map and median), on a model built here with
    onnx.helper in DPT's contract (``pixel_values`` (N, 3, H, W) -> ``predicted_depth`` (N, H, W)):
    the per-pixel channel mean plus a shift computed by a 4-layer 2048-wide MLP on the pooled colour,
    64 MiB of float32 weights. Like a real model at small batch, a run costs mostly the reading of its
    weights, which a stacked run of N inputs pays once. Call i asks about frame i mod --frames (scene
    images, 400x300) and one of a grid of boxes; client k sends calls k, k + clients, ..., so with
    16 clients ``--frames 16`` makes every batch 8 different frames (the gain is the stacking alone),
    ``--frames 1`` makes every call a box of one frame (a fan-out: the frame is preprocessed and run
    once per batch), and the default 8 is in between. Last, the first 8 calls are timed in this
    process without HTTP: one at a time (``evaluate``) against one batch (``evaluate_batch``); for the
    scene workload, the first 8 ``find`` calls.
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


def scene_image(folder: Path, seed: int = 0) -> Path:
    """Scene ``seed`` of examples/scenes (shapes on a plain background: what the builtin models answer about)."""
    from dicec.runtime.images import encode_png
    from dicec.runtime.scene.generate import make_scene, render

    path = folder / f"scene-{seed:03d}.png"
    path.write_bytes(encode_png(render(make_scene(seed))))
    return path


#: (layers, width) of the depth workload's MLP: 4 x 2048 x 2048 float32 = 64 MiB of weights.
DEPTH_MLP = (4, 2048)


def depth_operator(folder: Path) -> Path:
    """A copy of the compute_depth operator whose spec names a model built here (see the module docstring)."""
    import hashlib

    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from dicec.tools.registry import builtin_folder

    layers, width = DEPTH_MLP
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((3, width)).astype(np.float32)]
    weights += [(rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32) for _ in range(layers)]
    weights.append((rng.standard_normal((width, 1)) / np.sqrt(width)).astype(np.float32))
    nodes = [helper.make_node("ReduceMean", ["pixel_values"], ["mean"], axes=[1], keepdims=0),    # (N, H, W)
             helper.make_node("ReduceMean", ["pixel_values"], ["h0"], axes=[2, 3], keepdims=0)]  # (N, 3)
    for i in range(len(weights)):
        nodes.append(helper.make_node("MatMul", [f"h{i}", f"w{i}"], [f"m{i}"]))
        last = i == len(weights) - 1
        nodes.append(helper.make_node("Sigmoid" if last else "Tanh", [f"m{i}"], ["shift" if last else f"h{i + 1}"]))
    nodes += [helper.make_node("Unsqueeze", ["shift", "last"], ["shift3"]),                       # (N, 1, 1)
              helper.make_node("Add", ["mean", "shift3"], ["shifted"]),
              helper.make_node("Add", ["shifted", "two"], ["predicted_depth"])]
    graph = helper.make_graph(
        nodes, "bench_dpt",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("predicted_depth", TensorProto.FLOAT, ["N", "H", "W"])],
        initializer=[numpy_helper.from_array(w, f"w{i}") for i, w in enumerate(weights)]
        + [numpy_helper.from_array(np.array([2], dtype=np.int64), "last"),
           numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="dicec-benchmark")
    model.ir_version = 8
    onnx.checker.check_model(model)
    target = folder / "compute_depth"
    target.mkdir(parents=True)
    model_file = target / "bench_dpt.onnx"
    model_file.write_bytes(model.SerializeToString())
    source = builtin_folder() / "compute_depth"
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    spec = []
    for line in (source / "spec.yaml").read_text().splitlines():
        if line.startswith("  sha256:"):
            continue
        spec.append(f"  file: {model_file}\n  sha256: \"{digest}\"" if line.startswith("  file:") else line)
    (target / "spec.yaml").write_text("\n".join(spec) + "\n")
    (target / "operator.py").write_text((source / "operator.py").read_text())
    return folder


def workload(name: str, models: str, requests: int, frames: int, folder: Path) -> dict:
    """The server's options and the (image, call) pairs the clients send."""
    from dicec.runtime.calls import Call
    from dicec.runtime.images import load_image

    if name == "scene":
        image = load_image(str(scene_image(folder)))
        boxes = [{"left": x, "lower": y, "right": x + image.width // 2, "upper": y + image.height // 2}
                 for x in range(0, image.width // 2, max(1, image.width // 16))
                 for y in range(0, image.height // 2, max(1, image.height // 12))]
        calls = [(image, Call(operator=op, form="method", patch=boxes[i % len(boxes)], args=(word,)))
                 for i, (op, word) in enumerate(
                     (("find", "circle") if i % 2 else ("exists", "square")) for i in range(requests))]
        return {"operators": ("find", "exists"), "models": models, "operator_dirs": (), "calls": calls}
    images = [load_image(str(scene_image(folder, seed))) for seed in range(frames)]
    width, height = images[0].width, images[0].height
    boxes = [{"left": x, "lower": y, "right": x + width // 4, "upper": y + height // 4}
             for x in range(0, width - width // 4, width // 8) for y in range(0, height - height // 4, height // 6)]
    calls = [(images[i % frames], Call(operator="compute_depth", form="method", patch=boxes[(i // frames) % len(boxes)],
                                       args=())) for i in range(requests)]
    return {"operators": ("compute_depth",), "models": "onnx", "calls": calls,
            "operator_dirs": (str(depth_operator(folder / "operators")),)}


def expected(load: dict) -> list:
    """What each call answers computed alone, in this process (the reference the served answers must equal)."""
    from dicec.runtime.backend import evaluate, get_backend, registry_for

    registry, backend = registry_for(load["operator_dirs"]), get_backend(load["models"])
    return [evaluate(backend, registry.get(c.operator), registry.get(c.operator).form("method"), image, c)
            for image, c in load["calls"]]


def backend_alone(load: dict, size: int = 8, repeats: int = 10) -> dict:
    """Milliseconds for the first ``size`` calls of the first operator in this process, without HTTP: one at a
    time vs one batch."""
    from dicec.runtime.backend import evaluate, evaluate_batch, get_backend, registry_for

    backend = get_backend(load["models"])
    spec = registry_for(load["operator_dirs"]).get(load["operators"][0])
    form = spec.form("method")
    items = [(image, call) for image, call in load["calls"] if call.operator == spec.name][:size]
    alone, batched = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        want = [evaluate(backend, spec, form, image, call) for image, call in items]
        t1 = time.perf_counter()
        got = evaluate_batch(backend, spec, form, items)
        t2 = time.perf_counter()
        if got != want:
            raise SystemExit("a batch answered differently from its calls one at a time")
        alone.append(t1 - t0)
        batched.append(t2 - t1)
    return {"calls": len(items), "frames": len({id(image) for image, _ in items}),
            "one_at_a_time_ms": round(1000 * statistics.median(alone), 1),
            "one_batch_ms": round(1000 * statistics.median(batched), 1)}


def run(load: dict, max_batch: int, max_wait_ms: float, clients: int) -> dict:
    from dicec.runtime.client import ServiceClient
    from dicec.serving.model_server import ModelServer, ServeOptions

    calls = load["calls"]
    server = ModelServer(ServeOptions(operators=load["operators"], port=0, max_batch=max_batch, max_wait_ms=max_wait_ms,
                                      models=load["models"], operator_dirs=load["operator_dirs"]))
    server.start()
    server.wait_ready(300)
    want = load["want"]
    latencies: list[float] = []
    got: dict[int, tuple] = {}
    lock = threading.Lock()

    def client(k: int) -> None:
        sc = ServiceClient(server.url, wait_s=5)
        for i in range(k, len(calls), clients):
            t0 = time.perf_counter()
            answer = sc.evaluate(*calls[i])
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
    requests = len(calls)
    return {"models": load["models"], "max_batch": max_batch, "max_wait_ms": max_wait_ms, "clients": clients,
            "requests": requests,
            "requests_per_s": round(requests / seconds, 1),
            "p50_ms": round(1000 * statistics.median(latencies), 2),
            "p95_ms": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 2),
            "mean_batch": round(requests / batches, 2), "largest_batch": largest, "wrong_answers": wrong}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=["scene", "depth"], default="scene")
    ap.add_argument("--models", choices=["builtin", "seeded"], default="builtin", help="the scene workload's backend")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--requests", type=int, default=800)
    ap.add_argument("--frames", type=int, default=8, help="different images the depth workload cycles over")
    ap.add_argument("--repeat", type=int, default=1, help="runs of every setting; the best is printed")
    ap.add_argument("--format", choices=["text", "json"], default="text")
    args = ap.parse_args()
    if min(args.clients, args.requests, args.frames, args.repeat) < 1:
        ap.error("--clients, --requests, --frames and --repeat must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        load = workload(args.workload, args.models, args.requests, args.frames, Path(tmp))
        load["want"] = expected(load)
        runs = [[run(load, b, w, args.clients) for b, w in SETTINGS] for _ in range(args.repeat)]
        # best of --repeat, the settings interleaved, so that other work on the machine hurts them alike
        rows = [max((r[i] for r in runs), key=lambda row: row["requests_per_s"]) for i in range(len(SETTINGS))]
        for i, row in enumerate(rows):
            row["wrong_answers"] = sum(r[i]["wrong_answers"] for r in runs)
            row["runs"] = args.repeat
        alone = backend_alone(load)
    if args.format == "json":
        print(json.dumps({"served": rows, "backend_alone": alone}, indent=2))
        return
    what = (f"find exists, --models {args.models}" if args.workload == "scene"
            else f"compute_depth, --models onnx (benchmark model), {args.frames} frames")
    best = f", best of {args.repeat} runs (wrong: over all runs)" if args.repeat > 1 else ""
    print(f"dicec op serve {what}, {args.clients} clients, {args.requests} requests{best}")
    print(f"{'max-batch':>9} {'wait ms':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'mean batch':>10} {'largest':>7} {'wrong':>5}")
    for r in rows:
        print(f"{r['max_batch']:>9} {r['max_wait_ms']:>7g} {r['requests_per_s']:>8} {r['p50_ms']:>8} {r['p95_ms']:>8} "
              f"{r['mean_batch']:>10} {r['largest_batch']:>7} {r['wrong_answers']:>5}")
    print(f"backend alone (no HTTP), the first {alone['calls']} {load['operators'][0]} calls ({alone['frames']} frames): "
          f"one at a time {alone['one_at_a_time_ms']} ms, as one batch {alone['one_batch_ms']} ms")


if __name__ == "__main__":
    main()
