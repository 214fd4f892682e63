"""`create_app`: the FastAPI app that serves one saved model: predictions, its facts, a page.

    POST /v1/predict   {"texts": [...]} -> a label and every class's probability per text
    POST /v1/explain   {"text": ...} -> per-token attributions of its prediction (`rnnlab.explain`)
    GET  /v1/model     name, labels, rnnlab version, input kind, training config, test metrics
    GET  /health       200 once the model is loaded (with the batcher's counters)
    GET  /             a page to paste a text into (`page.html`), built on the JSON API
    GET  /docs, /openapi.json   the interactive docs and the schema (FastAPI's own)

The model is loaded once, at start-up (the app's lifespan), unless a loaded
`Pipeline` is passed in; requests are micro-batched (`batcher.py`). Errors have
one JSON shape (`error_responses.py`).
"""

# No `from __future__ import annotations`: FastAPI reads the route annotations, and
# the request model is a local class built from the settings.

import asyncio
import json
import logging
import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab import __version__
from rnnlab.errors import DataError, RnnlabError
from rnnlab.interpret import explain
from rnnlab.interpret.explanation import methods_for
from rnnlab.pipeline import Pipeline, load
from rnnlab.serving import error_responses
from rnnlab.serving.batcher import MicroBatcher
from rnnlab.serving.body_limit import BodyLimit
from rnnlab.serving.extra import missing_extra
from rnnlab.serving.schema import (
    ErrorResponse,
    ExplainResponse,
    Health,
    Limits,
    ModelInfo,
    PredictResponse,
    explain_request_model,
    predict_request_model,
)
from rnnlab.serving.settings import ServeSettings

try:
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse, Response
    from pydantic import ValidationError
    from starlette.concurrency import run_in_threadpool
    from starlette.routing import Route
except ModuleNotFoundError as exc:  # the [serve] extra is not installed
    raise missing_extra(exc) from None

log = logging.getLogger("rnnlab.serving")

ERRORS = {
    status: {"model": ErrorResponse, "description": what}
    for status, what in (
        (400, "the body is not JSON"),
        (408, "the body did not arrive in time"),
        (413, "the body is over the byte limit"),
        (422, "the JSON breaks the schema or a limit, or the model cannot read an input"),
    )
}


def page_html() -> str:
    """The page at / (package data, so it ships in the wheel)."""
    return resources.files("rnnlab.serving").joinpath("page.html").read_text(encoding="utf-8")


def warm_up_input(pipeline: Pipeline) -> str:
    """A valid input of the model's kind: the first forward pass pays torch's start-up."""
    inputs = pipeline.inputs
    if inputs.kind == "array":
        return " ".join(["0"] * int(np.prod(inputs.shape or (1,))))
    return {"text": "hello", "ids": "1", "numbers": "0"}[inputs.kind]


def request_encoder(pipeline: Pipeline) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """`Pipeline.encode`, plus the check the encoder cannot make: that token ids exist.

    An id past the embedding would fail the forward pass of every request batched
    with it; refused here, it fails its own request, with a message that says why.
    """
    limit = pipeline.config.get("vocab_size")
    checks_ids = (
        pipeline.inputs.kind == "ids"
        and pipeline.config.get("input") == "embedding"
        and isinstance(limit, int)
    )

    def encode(items: Sequence[Any]) -> tuple[Any, ...]:
        tensors = pipeline.encode(items)
        if checks_ids and int(tensors[0].max()) >= limit:
            row = int((tensors[0] >= limit).any(dim=1).nonzero()[0, 0])
            raise DataError(
                f"input {row} holds token id {int(tensors[0][row].max())}; this "
                f"model knows ids 0 to {limit - 1}"
            )
        return tensors

    return encode


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float as None: strict JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def model_info(pipeline: Pipeline, settings: ServeSettings) -> dict[str, Any]:
    training = pipeline.parts.get("training") or {}
    return {
        "name": pipeline.name,
        "labels": pipeline.labels,
        "rnnlab_version": __version__,
        "architecture": pipeline.architecture,
        "input": {"kind": pipeline.inputs.kind, "maxlen": pipeline.inputs.maxlen},
        "training_config": json_safe(training.get("config")),
        "test_metrics": json_safe(training.get("test")),
        "limits": {name: getattr(settings, name) for name in Limits.model_fields},
    }


def create_app(model: str | Path | Pipeline, settings: ServeSettings | None = None) -> FastAPI:
    """The ASGI app serving ``model`` (a saved-model directory, or a loaded `Pipeline`).

    Run it with any ASGI server (`rnnlab.serving.server.serve` runs uvicorn); the
    model loads and the batcher starts when the server starts the app's lifespan.
    """
    settings = settings if settings is not None else ServeSettings()
    PredictRequest = predict_request_model(settings)
    ExplainRequest = explain_request_model(settings)
    page = page_html()
    explain_body = ExplainRequest.model_json_schema()
    # Explanations run in threads, this many at once: each is a forward and backward
    # pass of `steps` inputs, and the batcher's model thread must keep its share of CPU.
    explaining = asyncio.Semaphore(settings.max_explains)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pipeline = model if isinstance(model, Pipeline) else load(model)
        pipeline.predict_proba([warm_up_input(pipeline)])

        def run(tensors: tuple[Any, ...]) -> np.ndarray:
            return pipeline.predict_proba_encoded(*tensors, batch_size=settings.max_batch)

        encoder = request_encoder(pipeline)
        batcher = MicroBatcher(encoder, run, settings.max_batch, settings.max_wait_ms)
        async with batcher:
            app.state.pipeline, app.state.batcher = pipeline, batcher
            app.state.encode = encoder
            # The schema names the labels a `target` may be, once the model says them (the
            # schema is built at the first GET /openapi.json, after this).
            explain_body["properties"]["target"]["anyOf"][0]["enum"] = list(pipeline.labels)
            # ... and the methods this model can be explained by.
            explain_body["properties"]["method"]["enum"] = list(methods_for(pipeline.module))
            app.openapi_schema = None
            app.state.info = model_info(pipeline, settings)
            log.info(
                "serving %s (%s input, labels %s)",
                pipeline.name,
                pipeline.inputs.kind,
                pipeline.labels,
            )
            try:
                yield
            finally:
                app.state.pipeline = None

    app = FastAPI(
        title="rnnlab model server",
        version=__version__,
        description="Predictions of one rnnlab saved model. Limits: "
        f"{settings.max_texts} texts per request, {settings.max_text_chars:,} "
        f"characters per text, {settings.max_body_bytes:,} bytes per body.",
        lifespan=lifespan,
    )
    app.state.pipeline = None
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s
    )
    error_responses.install(app)

    # The body is parsed here, not by FastAPI: any content type is read as JSON (curl -d
    # sends form-urlencoded), and Pydantic's parse-and-validate in one pass is the fast path.
    request_body = {
        "required": True,
        "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
    }

    @app.post(
        "/v1/predict",
        response_model=PredictResponse,
        responses=ERRORS,
        summary="Classify texts",
        openapi_extra={"requestBody": request_body},
    )
    async def predict(request: Request) -> Any:
        """A label and every class's probability for each text, in request order."""
        body = await request.body()
        try:
            texts = PredictRequest.model_validate_json(body).texts
        except ValidationError as exc:
            return error_responses.invalid_body(exc.errors(), body)
        pipeline: Pipeline = app.state.pipeline
        try:
            rows = await app.state.batcher.submit(texts)
        except RnnlabError as exc:
            return error_responses.error_json(422, "unreadable_input", str(exc))
        labels = pipeline.labels
        predictions = [
            {
                "label": labels[int(row.argmax())],
                "probabilities": dict(zip(labels, map(float, row))),
            }
            for row in rows
        ]
        # Written here rather than validated against PredictResponse and encoded by
        # FastAPI: that pass costs more than the forward pass of a batched text. The
        # tests check these bytes against the schema.
        content = json.dumps({"model": pipeline.name, "predictions": predictions})
        return Response(content, media_type="application/json")

    # FastAPI documents the route above (the schema, /docs); requests reach the same
    # handler through this plain Starlette route in front of it, which skips FastAPI's
    # per-request dependency machinery: 0.1 ms, more than a batched text's share of a pass.
    app.router.routes.insert(0, Route("/v1/predict", predict, methods=["POST"]))

    @app.post(
        "/v1/explain",
        response_model=ExplainResponse,
        # Only the keys `rnnlab.explain` gives for the method used (no null `steps` for
        # occlusion): the same JSON as the function's.
        response_model_exclude_unset=True,
        responses=ERRORS,
        summary="Explain one prediction",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": explain_body}},
            }
        },
    )
    async def explain_route(request: Request) -> Any:
        """Per-token attributions of the prediction for one text: `rnnlab explain`'s JSON.

        Integrated gradients over the embeddings (occlusion for models without one),
        in logit space, towards ``target`` (default the predicted class).
        """
        body = await request.body()
        try:
            asked = ExplainRequest.model_validate_json(body)
        except ValidationError as exc:
            return error_responses.invalid_body(exc.errors(), body, error_responses.EXPLAIN_SHAPE)
        pipeline: Pipeline = app.state.pipeline
        if asked.target is not None and asked.target not in pipeline.labels:
            return error_responses.error_json(
                422,
                "unknown_label",
                f"`target` {asked.target!r} is not a label of this model; its labels: "
                f"{', '.join(pipeline.labels)}",
                [{"field": "target", "problem": "not a label of the model"}],
            )

        def compute() -> dict[str, Any]:
            app.state.encode([asked.text])  # the server's own checks (ids past the embedding)
            return explain(
                pipeline, asked.text, target=asked.target, steps=asked.steps, method=asked.method
            )

        try:
            async with explaining:
                result = await run_in_threadpool(compute)
        except RnnlabError as exc:
            return error_responses.error_json(422, "unreadable_input", str(exc))
        return {"model": pipeline.name, **json_safe(result)}

    @app.get("/v1/model", response_model=ModelInfo, summary="What the model is")
    async def describe() -> Any:
        """Name, labels, input kind, the training config and test metrics when it has them."""
        return app.state.info

    @app.get(
        "/health",
        response_model=Health,
        summary="Liveness and readiness",
        responses={503: {"model": ErrorResponse, "description": "not loaded yet"}},
    )
    async def health() -> Any:
        """200 once the model is loaded and its batcher runs."""
        batcher = getattr(app.state, "batcher", None)
        if app.state.pipeline is None or batcher is None or not batcher.running:
            return JSONResponse(
                {"error": "not_ready", "message": "the model is not loaded", "details": []},
                status_code=503,
            )
        stats = batcher.stats
        return {
            "status": "ok",
            "model": app.state.pipeline.name,
            "batches": stats.batches,
            "texts": stats.inputs,
            "largest_batch": stats.largest,
        }

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    return app
