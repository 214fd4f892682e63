"""Load test of `rnnlab serve` on loopback: latency, throughput and correctness under concurrency.

    python benchmarks/load_test.py MODEL_DIR                 # batched vs one pass per request
    python benchmarks/load_test.py MODEL_DIR --requests 500 --concurrency 8 --only-batched

Starts `python -m rnnlab serve MODEL_DIR` on a free 127.0.0.1 port (a process
of its own, so the client never shares its GIL), sends a bounded number of
requests, one IMDB test review each (imdb_reviews.csv), from ``--concurrency``
keep-alive connections, and stops the server. By default two servers run, one
with micro-batching (``--max-batch``) and one with ``--max-batch 1`` (one forward
pass per request); they are loaded in turns for ``--rounds`` rounds, each keeps
its fastest round, and the throughput ratio of the two is printed.

Every answer is checked against the same text predicted alone in this process
(`Pipeline.predict_proba` of a one-text list): a label that differs or a
probability more than 1e-6 away counts as an error, as does any status but 200.
The largest difference seen is reported. Standard library only on the client
side: a few lines of HTTP/1.1 over asyncio streams cost less CPU than a client
library, and client CPU is taken from the server on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

TOLERANCE = 1e-6
REVIEWS = "imdb_reviews.csv"


def data_dir() -> Path:
    """`RNNLAB_DATA`, defaulting to ../shared/datasets next to the repository."""
    here = Path(__file__).resolve().parents[1]
    return Path(os.environ.get("RNNLAB_DATA", here.parent / "shared" / "datasets"))


def imdb_test_reviews(n: int, path: Path | None = None) -> list[str]:
    """The first ``n`` reviews of the test split of imdb_reviews.csv (raw text, as users send)."""
    path = path or data_dir() / REVIEWS
    csv.field_size_limit(1 << 24)
    texts = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["split"] == "test":
                texts.append(row["review"])
                if len(texts) == n:
                    break
    return texts


class Server:
    """``with Server(model_dir, ["--max-batch", "1"]) as s: s.url``: `rnnlab serve` in a child."""

    def __init__(
        self,
        model_dir: str | Path,
        options: Sequence[str] = (),
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> None:
        self.command = [
            sys.executable,
            "-m",
            "rnnlab",
            "serve",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-access-log",
            *options,
        ]
        self.env, self.timeout = env, timeout
        self.log: list[str] = []

    def __enter__(self) -> Self:
        self.proc = subprocess.Popen(
            self.command, stderr=subprocess.PIPE, text=True, stdout=subprocess.DEVNULL, env=self.env
        )
        found = threading.Event()
        self.url = ""

        def drain() -> None:  # read stderr to its end, or the child blocks on a full pipe
            assert self.proc.stderr is not None
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r" at (http://\S+)", line)
                if m and not found.is_set():
                    self.url = m.group(1)
                    found.set()
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(self.timeout) or not self.url:
            self.__exit__()
            raise RuntimeError("the server did not start:\n" + "".join(self.log[-20:]))
        deadline = time.monotonic() + self.timeout
        while True:  # the URL is printed before the lifespan has loaded the model
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.__exit__()
                raise RuntimeError("the server never became healthy:\n" + "".join(self.log[-20:]))
            time.sleep(0.1)

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
            return json.loads(r.read())

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, body: bytes
) -> tuple[int, bytes]:
    """One POST /v1/predict on a keep-alive connection: (status, response body)."""
    writer.write(
        b"POST /v1/predict HTTP/1.1\r\nHost: "
        + host.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _load(
    url: str, bodies: list[bytes], requests: int, concurrency: int
) -> list[tuple[int, float, int, bytes]]:
    """Send ``requests`` requests (request i carries ``bodies[i % len]``) from ``concurrency``
    connections; (request index, seconds, status, body) of each."""
    m = re.fullmatch(r"http://([^:/]+):(\d+)", url)
    assert m, url
    host, port = m.group(1), int(m.group(2))
    counter = iter(range(requests))
    results: list[tuple[int, float, int, bytes]] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in counter:  # a shared iterator: the count is bounded, whoever is fastest
                start = time.perf_counter()
                body = bodies[i % len(bodies)]
                status, answer = await _post(reader, writer, f"{host}:{port}", body)
                results.append((i, time.perf_counter() - start, status, answer))
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return results


def reference_probabilities(model_dir: str | Path, texts: list[str]) -> np.ndarray:
    """Each text predicted alone: what a one-request-at-a-time server answers."""
    import rnnlab

    pipeline = rnnlab.load(model_dir)
    return np.concatenate([pipeline.predict_proba([t]) for t in texts])


def check_answers(
    results: list[tuple[int, float, int, bytes]],
    texts: list[str],
    expected: np.ndarray,
    labels: list[str],
) -> tuple[int, float]:
    """(answers that are not 200 or not the one-at-a-time answer, the largest |difference|)."""
    errors, worst = 0, 0.0
    for i, _, status, body in results:
        if status != 200:
            errors += 1
            continue
        (prediction,) = json.loads(body)["predictions"]
        want = expected[i % len(texts)]
        got = np.array([prediction["probabilities"][name] for name in labels])
        diff = float(np.abs(got - want).max())
        worst = max(worst, diff)
        if diff > TOLERANCE or prediction["label"] != labels[int(want.argmax())]:
            errors += 1
    return errors, worst


def timed_load(
    server: Server,
    bodies: list[bytes],
    texts: list[str],
    expected: np.ndarray,
    labels: list[str],
    requests: int,
    concurrency: int,
) -> dict[str, Any]:
    """One timed load on a running server: throughput, latency, errors, batch sizes."""
    before = server.health()
    start = time.perf_counter()
    results = asyncio.run(_load(server.url, bodies, requests, concurrency))
    seconds = time.perf_counter() - start
    after = server.health()
    latencies = np.array([r[1] for r in results]) * 1000
    errors, worst = check_answers(results, texts, expected, labels)
    batches = after["batches"] - before["batches"]
    return {
        "requests": len(results),
        "concurrency": concurrency,
        "seconds": seconds,
        "requests_per_s": len(results) / seconds,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "errors": errors,
        "max_abs_diff": worst,
        "batches": batches,
        "mean_batch": (after["texts"] - before["texts"]) / max(batches, 1),
        "largest_batch": after["largest_batch"],
    }


def compare(
    model_dir: str | Path,
    requests: int = 2000,
    concurrency: int = 16,
    max_batch: int = 64,
    max_wait_ms: float = 2.0,
    distinct: int = 500,
    only_batched: bool = False,
    rounds: int = 3,
    warmup: int = 100,
) -> dict[str, Any]:
    """The batched server and (unless ``only_batched``) one with max batch 1, both running,
    loaded in turns for ``rounds`` rounds; each keeps its fastest round.

    Other processes on a shared machine only ever slow a round down, and taking
    turns makes a busy spell hit both servers alike.
    """
    import rnnlab

    texts = imdb_test_reviews(distinct)
    labels = rnnlab.load(model_dir).labels
    expected = reference_probabilities(model_dir, texts)
    bodies = [json.dumps({"texts": [t]}).encode() for t in texts]
    configs = {"batched": (max_batch, max_wait_ms)}
    if not only_batched:
        configs["one_pass_per_request"] = (1, 0.0)
    servers = {
        name: Server(model_dir, ["--max-batch", str(b), "--max-wait-ms", str(w)])
        for name, (b, w) in configs.items()
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    with contextlib.ExitStack() as stack:
        for server in servers.values():
            stack.enter_context(server)
            asyncio.run(_load(server.url, bodies, min(warmup, requests), concurrency))
        for _ in range(rounds):
            for name, server in servers.items():
                runs[name].append(
                    timed_load(server, bodies, texts, expected, labels, requests, concurrency)
                )
    out: dict[str, Any] = {"rounds": rounds}
    for name, (b, w) in configs.items():
        best = max(runs[name], key=lambda r: r["requests_per_s"])
        out[name] = {
            **best,
            "max_batch": b,
            "max_wait_ms": w,
            "errors": sum(r["errors"] for r in runs[name]),
            "max_abs_diff": max(r["max_abs_diff"] for r in runs[name]),
            "rounds_requests_per_s": [r["requests_per_s"] for r in runs[name]],
        }
    if not only_batched:
        out["throughput_ratio"] = (
            out["batched"]["requests_per_s"] / out["one_pass_per_request"]["requests_per_s"]
        )
    return out


def prepare_model(kind: str, out_dir: Path) -> Path:
    """A saved model to serve: 'imdb/lstm' (the IMDB tutorial model, trained `--quick`:
    its size, and so its speed, is the real one's) or 'tiny' (a few-unit TextClassifier)."""
    if kind == "tiny":
        import rnnlab

        texts = imdb_test_reviews(16)
        clf = rnnlab.TextClassifier(
            epochs=1, maxlen=80, module__units=(8,), module__embedding_dim=8, random_state=0
        )
        return clf.fit(texts, ["pos", "neg"] * 8).save(out_dir / "model")
    from rnnlab.experiments import train_one

    train_one(kind, quick=True, out_dir=out_dir, verbose=0)
    return out_dir / "model"


def benchmark_job(
    model: str, requests: int, concurrency: int, rounds: int, max_batch: int, max_wait_ms: float
) -> dict[str, Any]:
    """The `benchmarks/run.py` job: both servers on a prepared model; any error fails it."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rnnlab-serve-") as tmp:
        model_dir = prepare_model(model, Path(tmp))
        runs = compare(
            model_dir,
            requests,
            concurrency,
            max_batch,
            max_wait_ms,
            rounds=rounds,
            warmup=min(100, requests),
        )
    for name in ("batched", "one_pass_per_request"):
        if runs[name]["errors"]:
            raise AssertionError(
                f"{runs[name]['errors']} wrong or failed answers from the {name} server"
            )
    return {
        "model": model,
        **runs,
        "ms_per_request": {
            name: 1000 / runs[name]["requests_per_s"]
            for name in ("batched", "one_pass_per_request")
        },
    }


def table(runs: dict[str, Any]) -> str:
    header = [
        "server",
        "requests",
        "conc.",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "mean batch",
        "max |diff|",
        "req/s of each round",
    ]
    rows = [header]
    for name in ("batched", "one_pass_per_request"):
        if name in runs:
            r = runs[name]
            rows.append(
                [
                    f"{name} (max batch {r['max_batch']})",
                    str(r["requests"]),
                    str(r["concurrency"]),
                    f"{r['requests_per_s']:.0f}",
                    f"{r['p50_ms']:.1f}",
                    f"{r['p99_ms']:.1f}",
                    str(r["errors"]),
                    f"{r['mean_batch']:.1f}",
                    f"{r['max_abs_diff']:.1e}",
                    " ".join(f"{x:.0f}" for x in r["rounds_requests_per_s"]),
                ]
            )
    widths = [max(len(row[k]) for row in rows) for k in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    if "throughput_ratio" in runs:
        lines.append(f"throughput, batched / one pass per request: {runs['throughput_ratio']:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="a saved model directory")
    p.add_argument(
        "--requests", type=int, default=2000, help="timed requests per round (default %(default)s)"
    )
    p.add_argument("--concurrency", type=int, default=16, help="connections (default %(default)s)")
    p.add_argument("--max-batch", type=int, default=64, help="the batched server's max batch")
    p.add_argument("--max-wait-ms", type=float, default=2.0, help="the batched server's max wait")
    p.add_argument("--distinct", type=int, default=500, help="distinct reviews sent, cycled")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="timed loads per server, taking turns; the fastest counts",
    )
    p.add_argument("--only-batched", action="store_true", help="skip the max-batch-1 server")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    for name in ("requests", "concurrency", "max_batch", "distinct", "rounds"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    runs = compare(
        args.model,
        args.requests,
        args.concurrency,
        args.max_batch,
        args.max_wait_ms,
        args.distinct,
        args.only_batched,
        args.rounds,
    )
    print(table(runs))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    failed = [
        name
        for name in ("batched", "one_pass_per_request")
        if name in runs and runs[name]["errors"]
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
