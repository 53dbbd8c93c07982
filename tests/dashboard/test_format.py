import pytest

from dashboard.templatetags.dashboard_format import format_sig, ms


@pytest.mark.parametrize(
    "value, digits, expected",
    [
        (1234.5, 3, "1,234"),
        (12.345, 3, "12.3"),
        (0.012345, 3, "0.0123"),
        (0, 3, "0"),
        (-4.567, 3, "-4.57"),
        (45.26, 2, "45"),
        (None, 3, "—"),
        (float("nan"), 3, "—"),
    ],
)
def test_it_keeps_a_few_significant_digits(value, digits, expected):
    assert format_sig(value, digits) == expected


def test_ms_turns_seconds_into_milliseconds():
    assert ms(0.01234) == "12.3"
    assert ms(None) == "—"
