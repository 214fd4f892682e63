"""`ServeSettings`: the documented defaults, and every knob checked with a message naming it."""

import pytest

from rnnlab.errors import InvalidTypeError, InvalidValueError
from rnnlab.serving.settings import ServeSettings


def test_the_defaults_are_the_documented_ones():
    s = ServeSettings()
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert (s.max_texts, s.max_text_chars, s.max_body_bytes) == (256, 20_000, 1_048_576)
    assert (s.max_batch, s.max_wait_ms, s.access_log) == (64, 2.0, True)
    assert (s.header_timeout_s, s.body_timeout_s) == (10.0, 10.0)
    assert (s.max_explain_steps, s.max_explains) == (256, 1)


@pytest.mark.parametrize(
    "settings, error, needle",
    [
        ({"host": ""}, InvalidValueError, "`host`"),
        ({"host": 127}, InvalidTypeError, "`host` must be str"),
        ({"port": -1}, InvalidValueError, "`port`"),
        ({"port": 65536}, InvalidValueError, "at most 65535"),
        ({"max_texts": 0}, InvalidValueError, "`max_texts` must be a positive integer"),
        ({"max_text_chars": 2.5}, InvalidTypeError, "`max_text_chars`"),
        ({"max_body_bytes": 0}, InvalidValueError, "`max_body_bytes`"),
        ({"max_batch": True}, InvalidTypeError, "`max_batch`"),
        ({"max_wait_ms": -0.1}, InvalidValueError, "`max_wait_ms` must be non-negative"),
        ({"access_log": "yes"}, InvalidTypeError, "`access_log`"),
        ({"header_timeout_s": 0}, InvalidValueError, "`header_timeout_s` must be positive"),
        ({"body_timeout_s": "5"}, InvalidTypeError, "`body_timeout_s` must be a number"),
        ({"max_explain_steps": 0}, InvalidValueError, "`max_explain_steps`"),
        ({"max_explains": 0}, InvalidValueError, "`max_explains`"),
    ],
)
def test_bad_settings_name_the_setting(settings, error, needle):
    with pytest.raises(error, match=needle):
        ServeSettings(**settings)


def test_a_whole_number_wait_becomes_a_float_and_zero_means_no_wait():
    assert ServeSettings(max_wait_ms=5).max_wait_ms == 5.0
    assert isinstance(ServeSettings(max_wait_ms=5).max_wait_ms, float)
    assert ServeSettings(max_wait_ms=0).max_wait_ms == 0.0
