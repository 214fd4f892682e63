"""The page at /: self-contained, shipped as package data, and working in a real browser."""

import fnmatch
import os
import re
import tomllib
from pathlib import Path

import pytest

import rnnlab
from rnnlab.serving.app import page_html

ROOT = Path(__file__).resolve().parents[2]
SERVING = ROOT / "src" / "rnnlab" / "serving"
CHROMIUM = os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
REVIEW = "A good fun film with great acting and a fun story."


def test_the_page_is_self_contained_and_uses_only_the_json_api():
    html = page_html()
    assert not re.search(r"https?://|//cdn|<script[^>]+src=|<link[^>]+href=", html)
    assert "fetch(path" in html and '"/v1/predict"' in html and '"/v1/model"' in html
    assert '"/v1/explain"' in html
    # The hook another explanation can still take over (window.rnnlabExplain).
    assert 'id="explanation"' in html and "window.rnnlabExplain" in html


def test_every_data_file_of_the_serving_package_is_package_data():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["rnnlab"]
    data = [
        p.relative_to(SERVING.parent).as_posix()
        for p in SERVING.iterdir()
        if p.is_file() and p.suffix not in (".py", ".pyc")
    ]
    assert "serving/page.html" in data
    assert all(any(fnmatch.fnmatch(name, g) for g in globs) for name in data), (data, globs)


@pytest.fixture
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the browser test needs playwright (pip install playwright)"
    )
    if not Path(CHROMIUM).is_file():
        pytest.skip(
            f"the browser test needs Chromium at {CHROMIUM} (apt-get install chromium, "
            "or set RNNLAB_CHROMIUM)"
        )
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        except sync_api.Error as exc:  # present but unable to start here
            pytest.skip(f"Chromium at {CHROMIUM} does not start: {str(exc).splitlines()[0]}")
        yield launched
        launched.close()


def test_a_person_types_a_review_clicks_and_reads_the_label(
    text_model, live_server, browser, tmp_path
):
    pipeline = rnnlab.load(text_model)
    expected = pipeline.predict_proba([REVIEW])[0]
    server = live_server(text_model, max_text_chars=200)
    page = browser.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(server.url + "/")
    page.wait_for_function("document.getElementById('model').textContent.includes('toy_reviews')")

    page.fill("#text", REVIEW)
    page.click("#classify")
    page.wait_for_selector("#result:not([hidden])")
    label = page.inner_text("#label")
    assert label == pipeline.labels[int(expected.argmax())] == "pos"
    bars = page.query_selector_all(".bar")
    assert [bar.get_attribute("data-label") for bar in bars] == pipeline.labels
    shown = [float(bar.inner_text().split("\n")[-1].rstrip(" %")) for bar in bars]
    assert shown == pytest.approx(list(100 * expected), abs=0.051)
    assert page.query_selector(".bar.top").get_attribute("data-label") == label

    # The review comes back coloured, token by token, from POST /v1/explain.
    page.wait_for_selector("#explanation:not([hidden])")
    direct = rnnlab.explain(pipeline, REVIEW, target=label)
    spans = page.query_selector_all("#tokens .token")
    assert [s.inner_text() for s in spans] == [t["token"] for t in direct["tokens"]]
    assert [t["token"] for t in direct["tokens"]][:4] == ["a", "good", "fun", "film"]
    wanted = [t["attribution"] for t in direct["tokens"]]
    # Words the tiny model never saw in training ("with", "the") are dropped, not coloured.
    unseen = [s.get_attribute("class") == "token unseen" for s in spans]
    assert unseen == [a is None for a in wanted] and 0 < sum(unseen) < len(spans)
    seen = [(s, a) for s, a in zip(spans, wanted) if a is not None]
    shown = [float(s.get_attribute("data-attribution")) for s, _ in seen]
    assert shown == pytest.approx([a for _, a in seen], abs=1e-6)
    strongest = max(abs(v) for v in shown)
    for (span, _), value in zip(seen, shown):
        colour = span.evaluate("e => getComputedStyle(e).backgroundColor")
        # rgba(r, g, b, alpha): green towards the label, red away, alpha 0.85 for the strongest.
        r, g, b, alpha = map(float, re.findall(r"[\d.]+", colour))
        assert (g > r) == (value >= 0), (value, colour)
        assert alpha == pytest.approx(0.85 * abs(value) / strongest, abs=0.01)
    assert "integrated gradients" in page.inner_text("#why")
    page.screenshot(path=str(tmp_path / "page.png"))

    # A refusal of the server is shown as its message.
    page.fill("#text", "x" * 201)
    page.click("#classify")
    page.wait_for_function("document.getElementById('status').className === 'error'")
    assert "--max-text-chars" in page.inner_text("#status")
    assert page.is_hidden("#result") and page.is_hidden("#explanation")
    assert any(url.endswith("/v1/explain") for url in requested)

    # Nothing but this server was asked for anything: no CDN, no fonts from elsewhere.
    assert requested and all(url.startswith(server.url) for url in requested), requested
