"""A self-contained HTML page of an explanation: every token coloured by its attribution.

Green pushes towards the explained class, red away from it; the colour's
strength is the attribution's size relative to the largest one in the text.
Tokens the model never saw (truncated away, dropped unknown words) are grey
and struck through. Inline CSS only: no scripts, fonts or links to fetch.
"""

from __future__ import annotations

import html
from typing import Any

_STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; line-height: 2; }
.tok { padding: 0.1em 0.2em; border-radius: 0.2em; }
.unseen { color: #999; text-decoration: line-through; }
table { border-collapse: collapse; line-height: 1.4; }
td, th { padding: 0.1em 0.8em; text-align: left; }
.note { color: #555; font-size: 0.9em; line-height: 1.4; }
"""


def _colour(value: float, scale: float) -> str:
    strength = min(1.0, abs(value) / scale) if scale > 0 else 0.0
    rgb = "0, 160, 60" if value >= 0 else "220, 40, 40"
    return f"rgba({rgb}, {0.85 * strength:.3f})"


def render_html(explanation: dict[str, Any], title: str = "rnnlab explanation") -> str:
    """The page for one `explain` result (a complete HTML document)."""
    tokens = explanation["tokens"]
    values = [t["attribution"] for t in tokens if t["attribution"] is not None]
    scale = max((abs(v) for v in values), default=0.0)
    spans = []
    for t in tokens:
        text = html.escape(str(t["token"]))
        a = t["attribution"]
        if a is None:
            spans.append(f'<span class="tok unseen" title="not seen by the model">{text}</span>')
        else:
            spans.append(
                f'<span class="tok" style="background: {_colour(a, scale)}" '
                f'title="{a:+.4f}">{text}</span>'
            )
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{p:.4f}</td></tr>"
        for name, p in explanation["probabilities"].items()
    )
    target = html.escape(explanation["target"])
    if explanation["method"] == "integrated_gradients":
        c = explanation["completeness"]
        how = (
            f"integrated gradients over the embeddings ({explanation['steps']} steps, "
            f"{explanation['rule'].replace('_', '-')}); baseline: "
            f"{html.escape(explanation['baseline'])}. The attributions sum to "
            f"{c['sum']:+.4f}; the logit moves {c['difference']:+.4f} from baseline to input."
        )
    else:
        how = (
            f"occlusion ({html.escape(explanation['occlusion'])}): each token's attribution "
            "is how much the logit falls without it."
        )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Predicted: {html.escape(explanation["label"])}</h1>
<table><tr><th>class</th><th>probability</th></tr>{rows}</table>
<p>Explaining <b>{target}</b>: <span style="background: {_colour(1, 1)}">green</span> pushes
towards it, <span style="background: {_colour(-1, 1)}">red</span> away (logit space).</p>
<p>{" ".join(spans)}</p>
<p class="note">{how} Hover over a token for its value.</p>
</body></html>
"""
