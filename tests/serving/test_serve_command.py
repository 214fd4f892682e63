"""`rnnlab serve MODEL`: the options, a real server process, and one line for every user error."""

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from rnnlab.cli import build_parser, main


def one_line_error(args, capsys, *needles):
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_the_options_and_their_defaults():
    args = build_parser().parse_args(["serve", "some/model"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)  # this machine only, by default
    assert (args.max_texts, args.max_text_chars, args.max_body_bytes) == (256, 20_000, 1 << 20)
    assert (args.max_batch, args.max_wait_ms, args.no_access_log) == (64, 2.0, False)
    assert (args.header_timeout_s, args.body_timeout_s) == (10.0, 10.0)
    assert (args.max_explain_steps, args.max_explains) == (256, 1)
    args = build_parser().parse_args(
        [
            "serve",
            "m",
            "--host",
            "0.0.0.0",
            "--port",
            "9000",
            "--max-batch",
            "1",
            "--max-wait-ms",
            "0.5",
        ]
    )
    assert (args.host, args.port, args.max_batch, args.max_wait_ms) == ("0.0.0.0", 9000, 1, 0.5)


def test_serve_runs_until_terminated_on_loopback(text_model):
    command = [
        sys.executable,
        "-m",
        "rnnlab",
        "serve",
        str(text_model),
        "--port",
        "0",
        "--no-access-log",
        "--max-texts",
        "3",
    ]
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        url = re.search(r" at (http://\S+)", line)
        assert url and url.group(1).startswith("http://127.0.0.1:"), line
        url = url.group(1)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as response:
                    assert json.loads(response.read())["status"] == "ok"
                    break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "not healthy"
                time.sleep(0.1)
        request = urllib.request.Request(
            url + "/v1/predict",
            data=json.dumps({"texts": ["good fun"]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["predictions"][0]["label"] in ("pos", "neg")
        with urllib.request.urlopen(url + "/v1/model", timeout=10) as response:
            assert json.loads(response.read())["limits"]["max_texts"] == 3
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    # A graceful shutdown; uvicorn then re-raises the signal, as a process should exit on it.
    assert proc.returncode in (0, -signal.SIGTERM), err
    assert "Application shutdown complete" in err and "Traceback" not in err


def test_a_model_directory_that_does_not_load_is_one_line(tmp_path, capsys):
    one_line_error(["serve", str(tmp_path / "nothing")], capsys, "no saved model", "nothing")


def test_a_port_in_use_is_one_line(text_model, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line_error(
            ["serve", str(text_model), "--port", str(port)],
            capsys,
            f"cannot listen on 127.0.0.1:{port}",
        )


@pytest.mark.parametrize(
    "option, value, needle",
    [
        ("--max-batch", "0", "`max_batch` must be a positive integer"),
        ("--max-wait-ms", "-1", "`max_wait_ms` must be non-negative"),
        ("--max-texts", "0", "`max_texts`"),
        ("--port", "70000", "`port` must be at most 65535"),
    ],
)
def test_a_bad_setting_is_one_line(text_model, capsys, option, value, needle):
    one_line_error(["serve", str(text_model), option, value], capsys, needle)


def test_without_the_serve_extra_the_error_names_it(text_model, capsys, monkeypatch):
    # As if uvicorn were not installed: the import fails, the message says what to install.
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    monkeypatch.delitem(sys.modules, "rnnlab.serving.server", raising=False)
    one_line_error(
        ["serve", str(text_model)],
        capsys,
        "`serve` extra",
        "uvicorn",
        "pip install 'rnnlab[serve]'",
    )


def test_the_app_module_without_fastapi_names_the_extra(monkeypatch):
    from rnnlab.serving.extra import MissingExtraError

    monkeypatch.setitem(sys.modules, "fastapi", None)
    for name in ("rnnlab.serving.app", "rnnlab.serving.error_responses"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(MissingExtraError, match=r"fastapi is not installed.*rnnlab\[serve\]"):
        import rnnlab.serving.app
    # The light half stays importable: settings and the package itself.
    import rnnlab.serving
    from rnnlab.serving.settings import ServeSettings

    assert ServeSettings().max_batch == 64 and "create_app" in rnnlab.serving.__all__
