import pytest

from dashboard.templatetags.dashboard_format import format_sig, ms, roof_pct


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


@pytest.mark.parametrize("pct, expected", [(None, "—"), (36.4, "36%"), (100.0, "100%"), (7.26, "7.3%")])
def test_a_percent_of_roof_at_or_under_the_roof_is_shown_as_is(pct, expected):
    assert roof_pct(pct) == expected


def test_a_percent_of_roof_above_the_roof_is_capped_with_a_marker_that_says_why():
    # e.g. the alert page's classification evidence, where a cache-resident layer reads 240%
    html = str(roof_pct(240.0))
    assert html.startswith('<span class="capped" title="Measured 240% of its roof, shown capped at 100%')
    assert ">100%<span class=\"above-roof\"" in html and "still in cache" in html
