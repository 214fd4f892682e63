"""Soak of `rnnlab serve` on loopback: good and bad requests mixed, checked, with the server's memory.

    python benchmarks/soak.py MODEL_DIR                     # 10,000 requests, 32 connections
    python benchmarks/soak.py MODEL_DIR --requests 500 --concurrency 8 --max-seconds 20

Starts `python -m rnnlab serve MODEL_DIR` on a free 127.0.0.1 port (`load_test.Server`)
with small limits, and sends a bounded number of requests from ``--concurrency``
keep-alive connections, stopping after ``--requests`` or ``--max-seconds``, whichever
comes first. Request i is one of a fixed cycle: mostly good predictions (1 to 3 IMDB
test reviews each), and among them every kind of bad request the server refuses:
malformed JSON, wrong types, an empty list, too many texts, a text or a body over the
limit, an unknown field, a bad explanation request, an unknown route. Each answer is
checked: a good one against the same texts predicted alone in this process (label
equal, probabilities within 1e-6), a bad one against the 4xx status and error code it
must get in the one error shape. The server's resident memory (``/proc/PID/status``)
is read after every thousand answers: it must grow less than 10 % from the first
thousand to the last. Any 5xx, wrong answer, or memory growth over the bound fails
the run (exit 1). Standard library on the client side, as in `load_test.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from load_test import TOLERANCE, Server, imdb_test_reviews, reference_probabilities

LIMITS = {"max_texts": 8, "max_text_chars": 20_000, "max_body_bytes": 65_536}
MEMORY_GROWTH_BOUND = 0.10


@dataclass(frozen=True)
class Case:
    """One request of the cycle and the answer it must get."""

    name: str
    method: str
    path: str
    body: bytes
    status: int
    error: str | None = None  # the error code of a 4xx; None for a good prediction
    texts: tuple[int, ...] = ()  # a good prediction: the indexes of its texts
    close: bool = False  # the server closes the connection after answering


def cases(texts: list[str], limits: dict[str, int] = LIMITS) -> list[Case]:
    """The cycle of requests: 8 good predictions for every bad request, 13 kinds of bad."""
    good = []
    for i in range(len(texts)):
        picked = tuple((i + k * 7) % len(texts) for k in range(1 + i % 3))
        body = json.dumps({"texts": [texts[k] for k in picked]}).encode()
        good.append(Case("good", "POST", "/v1/predict", body, 200, texts=picked))
    long_text = "x" * (limits["max_text_chars"] + 1)
    bad = [
        Case("not_json", "POST", "/v1/predict", b'{"texts": ["good"', 400, "invalid_json"),
        Case("empty_body", "POST", "/v1/predict", b"", 400, "invalid_json"),
        Case("bad_utf8", "POST", "/v1/predict", b'{"texts": ["\xff"]}', 400, "invalid_json"),
        Case("not_object", "POST", "/v1/predict", b"[1, 2]", 422, "invalid_request"),
        Case("no_texts", "POST", "/v1/predict", b'{"text": "a"}', 422, "invalid_request"),
        Case("empty_list", "POST", "/v1/predict", b'{"texts": []}', 422, "invalid_request"),
        Case("not_string", "POST", "/v1/predict", b'{"texts": [1, null]}', 422, "invalid_request"),
        Case(
            "too_many",
            "POST",
            "/v1/predict",
            json.dumps({"texts": ["a"] * (limits["max_texts"] + 1)}).encode(),
            422,
            "invalid_request",
        ),
        Case(
            "text_too_long",
            "POST",
            "/v1/predict",
            json.dumps({"texts": [long_text]}).encode(),
            422,
            "invalid_request",
        ),
        Case(
            "body_too_large",
            "POST",
            "/v1/predict",
            json.dumps({"texts": ["a" * (limits["max_body_bytes"] + 10)]}).encode(),
            413,
            "body_too_large",
            close=True,
        ),
        Case(
            "explain_unknown_label",
            "POST",
            "/v1/explain",
            b'{"text": "a fine film", "target": "no such label"}',
            422,
            "unknown_label",
        ),
        Case(
            "explain_steps",
            "POST",
            "/v1/explain",
            b'{"text": "a", "steps": 0}',
            422,
            "invalid_request",
        ),
        Case("no_route", "GET", "/v2/predict", b"", 404, "not_found"),
    ]
    cycle: list[Case] = []
    for k, case in enumerate(bad * max(1, len(good) // (8 * len(bad)))):
        cycle.extend(good[8 * k : 8 * k + 8] or good[:8])
        cycle.append(case)
    return cycle


def rss_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` (Linux /proc), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no VmRSS in /proc/{pid}/status")


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, case: Case
) -> tuple[int, bytes, bool]:
    """One request on an open connection: (status, body, whether the server closes it)."""
    head = f"{case.method} {case.path} HTTP/1.1\r\nHost: {host}\r\n"
    if case.method == "POST":
        head += f"Content-Type: application/json\r\nContent-Length: {len(case.body)}\r\n"
    writer.write(head.encode() + b"\r\n" + (case.body if case.method == "POST" else b""))
    await writer.drain()
    raw = await reader.readuntil(b"\r\n\r\n")
    status = int(raw.split(b" ", 2)[1])
    length, closes = 0, False
    for line in raw.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            closes = True
    return status, await reader.readexactly(length), closes


def check(case: Case, status: int, body: bytes, expected: np.ndarray, labels: list[str]) -> str:
    """'' when the answer is right for ``case``, else what is wrong with it."""
    if status != case.status:
        return f"status {status}, not {case.status}"
    try:
        data = json.loads(body)
    except ValueError:
        return "the answer is not JSON"
    if case.error is not None:
        if not isinstance(data, dict) or set(data) != {"error", "message", "details"}:
            return f"not the error shape: {body[:200]!r}"
        return "" if data["error"] == case.error else f"error {data['error']}, not {case.error}"
    predictions = data.get("predictions", [])
    if len(predictions) != len(case.texts):
        return f"{len(predictions)} predictions for {len(case.texts)} texts"
    for k, prediction in zip(case.texts, predictions):
        got = np.array([prediction["probabilities"][name] for name in labels])
        if prediction["label"] != labels[int(expected[k].argmax())]:
            return f"label {prediction['label']} for text {k}"
        if float(np.abs(got - expected[k]).max()) > TOLERANCE:
            return f"probabilities of text {k} off by {float(np.abs(got - expected[k]).max())}"
    return ""


async def _soak(
    url: str,
    cycle: list[Case],
    requests: int,
    concurrency: int,
    max_seconds: float,
    on_thousand: Callable[[int], None],
) -> list[tuple[Case, float, int, bytes]]:
    host, port = url.removeprefix("http://").split(":")
    counter = iter(range(requests))
    deadline = time.monotonic() + max_seconds
    results: list[tuple[Case, float, int, bytes]] = []

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in counter:  # shared: the count is bounded, whoever is fastest
                if time.monotonic() > deadline:
                    return
                case = cycle[i % len(cycle)]
                start = time.perf_counter()
                status, body, closes = await _exchange(reader, writer, f"{host}:{port}", case)
                results.append((case, time.perf_counter() - start, status, body))
                if len(results) % 1000 == 0:
                    on_thousand(len(results))
                if closes:  # the server said it closes this connection: open another
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return results


def soak(
    url: str,
    pid: int,
    texts: list[str],
    expected: np.ndarray,
    labels: list[str],
    requests: int = 10_000,
    concurrency: int = 32,
    max_seconds: float = 60.0,
    limits: dict[str, int] = LIMITS,
) -> dict[str, Any]:
    """Soak the server at ``url`` (process ``pid``, started with ``limits``): the figures.

    ``expected[k]``: what the model predicts for ``texts[k]`` alone.
    """
    cycle = cases(texts, limits)
    memory: list[tuple[int, int]] = [(0, rss_bytes(pid))]
    start = time.perf_counter()
    results = asyncio.run(
        _soak(
            url,
            cycle,
            requests,
            concurrency,
            max_seconds,
            lambda n: memory.append((n, rss_bytes(pid))),
        )
    )
    seconds = time.perf_counter() - start
    memory.append((len(results), rss_bytes(pid)))
    wrong: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for case, _, status, body in results:
        problem = check(case, status, body, expected, labels)
        if problem:
            wrong[case.name] += 1
            examples.setdefault(case.name, problem)
    latencies = np.array([r[1] for r in results]) * 1000
    good = np.array([r[1] for r in results if r[0].error is None]) * 1000
    statuses = Counter(r[2] for r in results)
    # The first reading after a thousand answers (the server warmed up), against the last.
    first = next((rss for n, rss in memory if n >= 1000), memory[-1][1])
    last = memory[-1][1]
    return {
        "requests": len(results),
        "good_requests": int(len(good)),
        "bad_requests": len(results) - int(len(good)),
        "concurrency": concurrency,
        "seconds": seconds,
        "requests_per_s": len(results) / seconds,
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "good_p99_ms": float(np.percentile(good, 99)) if len(good) else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "server_errors": sum(v for k, v in statuses.items() if k >= 500),
        "wrong_answers": sum(wrong.values()),
        "wrong_by_case": dict(wrong),
        "wrong_examples": examples,
        "rss_mb": [(n, round(rss / 2**20, 1)) for n, rss in memory],
        "rss_growth": (last - first) / first,
    }


def failures(figures: dict[str, Any]) -> list[str]:
    out = []
    if figures["server_errors"]:
        out.append(f"{figures['server_errors']} answers were 5xx")
    if figures["wrong_answers"]:
        out.append(f"{figures['wrong_answers']} wrong answers: {figures['wrong_examples']}")
    if figures["rss_growth"] >= MEMORY_GROWTH_BOUND:
        out.append(f"resident memory grew {100 * figures['rss_growth']:.1f} %")
    return out


def report(figures: dict[str, Any]) -> str:
    f = figures
    rss = f["rss_mb"]
    return "\n".join(
        [
            f"{f['requests']} requests ({f['good_requests']} good, {f['bad_requests']} bad) "
            f"from {f['concurrency']} connections in {f['seconds']:.1f} s: "
            f"{f['requests_per_s']:.0f} req/s",
            f"latency p50 {f['p50_ms']:.1f} ms, p99 {f['p99_ms']:.1f} ms "
            f"(good requests p99 {f['good_p99_ms']:.1f} ms)",
            f"statuses {f['statuses']}; 5xx: {f['server_errors']}; "
            f"wrong answers: {f['wrong_answers']}",
            f"server RSS {rss[0][1]} MB at start, {next((m for n, m in rss if n >= 1000), '-')} "
            f"MB after 1,000, {rss[-1][1]} MB at the end: growth "
            f"{100 * f['rss_growth']:+.1f} % (bound {100 * MEMORY_GROWTH_BOUND:.0f} %)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="a saved model directory")
    p.add_argument("--requests", type=int, default=10_000, help="at most (default %(default)s)")
    p.add_argument("--concurrency", type=int, default=32, help="connections (default %(default)s)")
    p.add_argument(
        "--max-seconds", type=float, default=60.0, help="stop after (default %(default)s)"
    )
    p.add_argument("--distinct", type=int, default=400, help="distinct reviews sent, cycled")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    import rnnlab

    texts = imdb_test_reviews(args.distinct)
    labels = rnnlab.load(args.model).labels
    expected = reference_probabilities(args.model, texts)
    options = [f"--{k.replace('_', '-')}={v}" for k, v in LIMITS.items()]
    with Server(args.model, options) as server:
        figures = soak(
            server.url,
            server.proc.pid,
            texts,
            expected,
            labels,
            args.requests,
            args.concurrency,
            args.max_seconds,
        )
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    problems = failures(figures)
    for problem in problems:
        print("FAILED:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
