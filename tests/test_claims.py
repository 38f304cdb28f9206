"""Tests for autograd_lite.claims: a claim passes silently, fails loudly, refuses non-bools."""

from __future__ import annotations

import pytest

from autograd_lite.claims import ClaimError, claim


def test_a_claim_that_holds_returns_nothing():
    """A true comparison passes and returns None (nothing is printed in a notebook)."""
    assert claim("two is more than one", 2 > 1) is None


def test_a_claim_that_fails_names_the_sentence_and_the_numbers():
    """A false one raises ClaimError with the statement and every measured value."""
    with pytest.raises(ClaimError, match=r"'every loss is below 0.01'.*worst=0.25, seed=3"):
        claim("every loss is below 0.01", 0.25 < 0.01, worst=0.25, seed=3)


def test_claim_error_is_an_assertion_error():
    """Notebook runs and pytest treat a broken claim as a failed check."""
    assert issubclass(ClaimError, AssertionError)


@pytest.mark.parametrize("holds", [1, 0.0, [False], None, "yes"])
def test_a_value_that_is_not_a_truth_value_is_refused(holds):
    """A number, list, None or str would be truthy for the wrong reason: TypeError."""
    with pytest.raises(TypeError, match="needs a bool"):
        claim("something", holds)


def test_numpys_boolean_is_a_truth_value():
    """The result of comparing NumPy numbers is accepted, and its value decides."""
    np = pytest.importorskip("numpy")
    claim("numpy says yes", np.float64(2.0) > 1.0)
    with pytest.raises(ClaimError):
        claim("numpy says no", np.float64(0.0) > 1.0)


@pytest.mark.parametrize("statement", ["", "   ", None, 3])
def test_the_statement_must_be_a_sentence(statement):
    """An empty or non-str statement is refused with TypeError."""
    with pytest.raises(TypeError, match="non-empty str"):
        claim(statement, True)
