"""Why a model predicted what it did: per-token attributions (`explain`) and their HTML page.

`rnnlab.explain(pipeline, text)` is `explain` here; `rnnlab explain MODEL TEXT`
prints the most influential words and, with ``--html``, writes `render_html`'s
page. See docs/explain.md.
"""

from rnnlab.interpret.explanation import explain
from rnnlab.interpret.html import render_html

__all__ = ["explain", "render_html"]
