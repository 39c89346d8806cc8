"""Duration arguments: timedelta passes, numbers warn (at the caller's line), bools are refused."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest

from nixtest_tui.driver.duration import pick_duration, seconds, to_timedelta

DEPRECATED = (
    r"^succeed\(\): passing a bare int/float as a duration is deprecated\. "
    r"Use datetime\.timedelta instead\.$"
)


def test_timedelta_passes_through_without_warning() -> None:
    value = timedelta(seconds=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert to_timedelta(value, "succeed()") is value


@pytest.mark.parametrize(("value", "expected"), [(3, 3.0), (1.5, 1.5), (0, 0.0)])
def test_number_is_seconds_with_deprecation_warning(value: float, expected: float) -> None:
    with pytest.warns(UserWarning, match=DEPRECATED):
        assert to_timedelta(value, "succeed()") == timedelta(seconds=expected)


@pytest.mark.parametrize("value", [True, False])
def test_bool_is_refused(value: bool) -> None:
    with pytest.raises(TypeError, match=r"^succeed\(\): a bool is not a duration"):
        to_timedelta(value, "succeed()")


@pytest.mark.parametrize("value", ["3", None, [1], 3j])
def test_other_types_are_refused_naming_the_api(value: object) -> None:
    with pytest.raises(TypeError, match=r"^wait_for_file\(\): expected a datetime\.timedelta"):
        to_timedelta(value, "wait_for_file()")  # type: ignore[arg-type]


def test_unrepresentable_number_is_a_value_error() -> None:
    with pytest.warns(UserWarning), pytest.raises(ValueError, match=r"^sleep\(\): "):
        to_timedelta(float("inf"), "sleep()")


def test_warning_points_at_the_caller_outside_the_package() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        to_timedelta(5, "succeed()")
        pick_duration(
            None, 5, what="retry()", new_name="timeout", old_name="timeout_seconds", default=None
        )
    assert [w.filename for w in caught] == [__file__, __file__]


def test_warning_points_at_the_test_script_line() -> None:
    script = "x = 1\npick(None, 7, what='w()', new_name='a', old_name='b', default=None)\n"
    namespace = {"pick": pick_duration}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(script, "<string>", "exec"), namespace)
    assert [(w.filename, w.lineno) for w in caught] == [("<string>", 2)]


def test_pick_both_given_names_both_keywords() -> None:
    with pytest.raises(TypeError, match=r"^retry\(\): .*'timeout'.*'timeout_seconds'"):
        pick_duration(
            timedelta(seconds=1),
            2,
            what="retry()",
            new_name="timeout",
            old_name="timeout_seconds",
            default=None,
        )


def test_pick_both_given_even_as_timedeltas() -> None:
    with pytest.raises(TypeError):
        pick_duration(
            timedelta(seconds=1),
            timedelta(seconds=2),
            what="x()",
            new_name="a",
            old_name="b",
            default=None,
        )


def test_pick_old_number_warns() -> None:
    with pytest.warns(UserWarning, match=r"^retry\(\): passing a bare int/float"):
        got = pick_duration(
            None, 60, what="retry()", new_name="timeout", old_name="timeout_seconds", default=None
        )
    assert got == timedelta(seconds=60)


def test_pick_old_timedelta_is_silent() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = pick_duration(
            None,
            timedelta(minutes=1),
            what="retry()",
            new_name="timeout",
            old_name="timeout_seconds",
            default=None,
        )
    assert got == timedelta(minutes=1)


def test_pick_new_number_also_warns() -> None:
    with pytest.warns(UserWarning, match=r"^x\(\): passing a bare int/float"):
        assert pick_duration(
            2.5, None, what="x()", new_name="a", old_name="b", default=None
        ) == timedelta(seconds=2.5)


def test_pick_new_bool_is_refused() -> None:
    with pytest.raises(TypeError):
        pick_duration(True, None, what="x()", new_name="a", old_name="b", default=None)


def test_pick_neither_gives_the_default() -> None:
    default = timedelta(minutes=15)
    assert (
        pick_duration(None, None, what="x()", new_name="a", old_name="b", default=default)
        is default
    )
    assert pick_duration(None, None, what="x()", new_name="a", old_name="b", default=None) is None


def test_seconds() -> None:
    assert seconds(None) is None
    assert seconds(timedelta(minutes=15)) == 900.0
    assert seconds(timedelta(milliseconds=10)) == pytest.approx(0.01)
