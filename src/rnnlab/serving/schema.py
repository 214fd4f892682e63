"""The JSON the server reads and writes, as Pydantic models: the OpenAPI schema is these.

The request model is built per server from its `ServeSettings`, so the schema
states the real limits (``maxItems``, ``maxLength``) a client must keep to.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from rnnlab.serving.extra import missing_extra
from rnnlab.serving.settings import ServeSettings

try:
    from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
except ModuleNotFoundError as exc:  # the [serve] extra is not installed
    raise missing_extra(exc) from None

EXAMPLE = "A moving, beautifully acted film; I loved every minute of it."


def predict_request_model(settings: ServeSettings) -> type[BaseModel]:
    """``{"texts": [...]}`` with this server's limits on the count and the length of texts."""
    text = Annotated[str, Field(strict=True, max_length=settings.max_text_chars)]
    texts = Annotated[
        list[text],
        Field(
            min_length=1,
            max_length=settings.max_texts,
            description=(
                f"1 to {settings.max_texts} texts of at most {settings.max_text_chars:,} "
                "characters each. Models trained on token ids or numbers read each "
                'text as numbers separated by spaces or commas, e.g. "12 7 431".'
            ),
            examples=[[EXAMPLE]],
        ),
    ]
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(
            extra="forbid", json_schema_extra={"examples": [{"texts": [EXAMPLE]}]}
        ),
        texts=(texts, ...),
    )


def whole_number(value: Any) -> Any:
    """8.0 -> 8: JSON Schema's ``integer`` is any number without a fraction; the rest as sent."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def explain_request_model(settings: ServeSettings) -> type[BaseModel]:
    """``{"text": "...", "target"?, "steps"?, "method"?}`` with this server's limits."""
    return create_model(
        "ExplainRequest",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [{"text": EXAMPLE}]}),
        text=(
            Annotated[
                str,
                Field(
                    strict=True,
                    min_length=1,
                    max_length=settings.max_text_chars,
                    # Not only ASCII spaces, said in the schema; spelt out because engines
                    # differ on what \s holds (U+0085 is one in Python and Rust, not in JS).
                    pattern=r"[^ \t\n\r\f\v]",
                    description=f"one text of 1 to {settings.max_text_chars:,} characters "
                    "(not only spaces); numbers separated by spaces or commas for models "
                    "trained on token ids or numbers",
                    examples=[EXAMPLE],
                ),
            ],
            ...,
        ),
        target=(
            Annotated[
                str | None,
                Field(
                    strict=True,
                    description="the label to explain (one of GET /v1/model's labels); "
                    "default the predicted one",
                ),
            ],
            None,
        ),
        steps=(
            Annotated[
                int,
                Field(
                    strict=True,
                    ge=1,
                    le=settings.max_explain_steps,
                    description="integration points of integrated gradients (1 to "
                    f"{settings.max_explain_steps}, the server's --max-explain-steps)",
                ),
                BeforeValidator(whole_number),
            ],
            64,
        ),
        method=(
            Annotated[
                Literal["auto", "integrated_gradients", "occlusion"],
                Field(
                    description="'auto': integrated gradients for models with an embedding "
                    "layer, occlusion for the others"
                ),
            ],
            "auto",
        ),
    )


class Prediction(BaseModel):
    label: str = Field(description="the most likely class")
    probabilities: dict[str, float] = Field(
        description="every class's probability, in the model's label order"
    )


class PredictResponse(BaseModel):
    model: str = Field(description="the model's name")
    predictions: list[Prediction] = Field(description="one per text, in request order")


class TokenAttribution(BaseModel):
    token: str = Field(description="the word as the tokenizer split it, or the id as written")
    id: int | float | None = Field(description="what the model reads for it")
    position: int | None = Field(
        description="its step in the model's input; null when the model does not see it"
    )
    attribution: float | None = Field(
        description="its push towards the target class, in logit space; null when unseen"
    )


class Completeness(BaseModel):
    sum: float | None = Field(description="the attributions' sum")
    difference: float | None = Field(description="F(input) - F(baseline)")
    error: float | None = Field(description="sum - difference")
    baseline_score: float | None = Field(description="F(baseline)")


class ExplainResponse(BaseModel):
    model: str = Field(description="the model's name")
    label: str = Field(description="the predicted class")
    probabilities: dict[str, float] = Field(description="every class's probability")
    target: str = Field(description="the class explained")
    method: str = Field(description="'integrated_gradients' or 'occlusion'")
    space: str = Field(description="'logit': what the attributions add up in")
    score: float | None = Field(description="F(input): the target's logit")
    tokens: list[TokenAttribution] = Field(description="every token, in input order")
    steps: int | None = Field(default=None, description="integration points (integrated gradients)")
    rule: str | None = Field(default=None, description="the integration rule")
    baseline: str | None = Field(default=None, description="what the baseline input is")
    completeness: Completeness | None = Field(
        default=None, description="the completeness check (integrated gradients)"
    )
    occlusion: str | None = Field(default=None, description="the occlusion mode (occlusion)")


class Health(BaseModel):
    status: str = Field(description="'ok' once the model is loaded")
    model: str
    batches: int = Field(description="forward passes run so far")
    texts: int = Field(description="texts answered so far")
    largest_batch: int = Field(description="the most texts one forward pass has run")


class InputInfo(BaseModel):
    kind: str = Field(description="'text', 'ids', 'numbers' or 'array'")
    maxlen: int | None = Field(description="inputs are padded or truncated to this length")


class Limits(BaseModel):
    max_texts: int
    max_text_chars: int
    max_body_bytes: int
    max_batch: int
    max_wait_ms: float
    max_explain_steps: int


class ModelInfo(BaseModel):
    name: str
    labels: list[str]
    rnnlab_version: str
    architecture: str | None
    input: InputInfo
    training_config: dict[str, Any] | None = Field(
        description="the experiment config the model was trained with, when it has one"
    )
    test_metrics: dict[str, Any] | None = Field(
        description="the metrics on its test set at the end of training, when it has them"
    )
    limits: Limits


class ErrorDetail(BaseModel):
    field: str = Field(description="where in the request, e.g. 'texts[2]' ('' for the body)")
    problem: str


class ErrorResponse(BaseModel):
    error: str = Field(
        description="a short code: invalid_json, invalid_request, "
        "unreadable_input, body_too_large, not_found, ..."
    )
    message: str = Field(description="what is wrong, in one sentence or a few")
    details: list[ErrorDetail] = Field(default_factory=list)
