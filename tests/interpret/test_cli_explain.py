"""`rnnlab explain MODEL [TEXT]`: the label, the signed top words, and the HTML page."""

import html
import io
import re
import sys

from rnnlab.cli import main
from rnnlab.interpret import explain


def test_prints_the_label_the_top_words_and_the_completeness(sentiment_dir, sentiment, capsys):
    text = "the plot was great and the film superb"
    assert main(["explain", str(sentiment_dir), text, "--top", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    result = explain(sentiment, text)
    p = result["probabilities"]["pos"]
    assert out[0] == (
        f"label: pos (p={p:.3f}); explaining 'pos' (p={p:.3f}) by integrated "
        "gradients, in logit space"
    )
    assert out[1] == "most influential tokens (+ towards 'pos', - away):"
    ranked = sorted(result["tokens"], key=lambda t: -abs(t["attribution"]))[:3]
    assert out[2:5] == [f"  {t['attribution']:+.4f}  {t['token']}" for t in ranked]
    assert out[2].endswith("  great")
    c = result["completeness"]
    assert out[5].startswith(
        f"completeness: attributions sum to {c['sum']:+.4f}; "
        f"logit(text) - logit(baseline) = {c['difference']:+.4f}"
    )
    assert len(out) == 6  # no html line: the page is written only when asked


def test_reads_stdin_explains_a_named_class_and_writes_the_page(
    sentiment_dir, sentiment, capsys, monkeypatch, tmp_path
):
    text = "boring film and the worst plot " + " ".join(["w"] * 12)  # longer than maxlen 10
    monkeypatch.setattr(sys, "stdin", io.StringIO(text + "\n"))
    page = tmp_path / "why.html"
    assert main(["explain", str(sentiment_dir), "--target", "pos", "--html", str(page)]) == 0
    out = capsys.readouterr().out
    assert "explaining 'pos'" in out and out.rstrip().endswith(f"html: {page}")
    assert "(8 tokens not seen by the model: truncated to its last 10 steps" in out
    doc = page.read_text(encoding="utf-8")
    assert doc.startswith("<!DOCTYPE html>") and "<script" not in doc and "http" not in doc
    result = explain(sentiment, text, target="pos")
    spans = re.findall(
        r'<span class="tok([^"]*)"(?: style="background: ([^"]+)")? '
        r'title="([^"]+)">([^<]*)</span>',
        doc,
    )
    assert [html.unescape(s[3]) for s in spans] == [t["token"] for t in result["tokens"]]
    for (unseen, colour, title, _), token in zip(spans, result["tokens"]):
        a = token["attribution"]
        if a is None:
            assert unseen == " unseen" and title == "not seen by the model"
            continue
        assert title == f"{a:+.4f}"
        assert colour.startswith("rgba(0, 160, 60," if a >= 0 else "rgba(220, 40, 40,")
    strongest = max(result["tokens"], key=lambda t: abs(t["attribution"] or 0))
    rgb = "0, 160, 60" if strongest["attribution"] >= 0 else "220, 40, 40"
    # The strongest token gets the full colour; the others in proportion.
    assert f'rgba({rgb}, 0.850)" title="{strongest["attribution"]:+.4f}">' in doc
    assert not list(tmp_path.glob(".why.html.*"))  # the atomic writer left no temp file


def test_occlusion_for_a_raw_input_model_and_errors_on_one_line(raw_ids_dir, capsys):
    assert main(["explain", str(raw_ids_dir), "3 40 7 2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("label: 1 (p=") and out[0].endswith("by occlusion, in logit space")
    assert out[2].endswith("  40") and out[2].startswith("  +")
    assert not any(line.startswith("completeness") for line in out)
    assert main(["explain", str(raw_ids_dir), "3 40", "--target", "yes"]) == 2
    err = capsys.readouterr().err
    assert err == "rnnlab: error: `target` 'yes' is not a class of this model; classes: 0, 1\n"
    assert main(["explain", str(raw_ids_dir), "3 forty"]) == 2
    assert "input 0 must be numbers separated by spaces" in capsys.readouterr().err
