"""Claims that keep a notebook's prose honest, one call per claim.

A notebook states a fact in its prose ("every network trained on 6 steps ends below
0.01") and computes the numbers in a cell. ``claim`` ties the two together without an
``assert`` in the code a teacher projects: it does nothing when the fact holds, and
raises :class:`ClaimError` naming the sentence and the measured numbers when it does not
(after a change to the library, on another seed, or under another CPU's rounding)::

    claim("every network on 6 steps ends below 0.01", max(losses_6) < 0.01,
          worst=max(losses_6))

Claims about training are made over several seeds with a margin, so that they survive
the rounding of another machine (see notebooks/README.md).
"""

from __future__ import annotations

__all__ = ["ClaimError", "claim"]


class ClaimError(AssertionError):
    """A sentence of a notebook's prose no longer matches what its code computes."""


def _is_truth_value(holds: object) -> bool:
    """True for ``bool`` and NumPy's boolean scalar (what a comparison of arrays reduces to)."""
    if isinstance(holds, bool):
        return True
    kind = type(holds)
    return kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_")


def claim(statement: str, holds: object, **measured: object) -> None:
    """Check that ``statement`` holds; raise :class:`ClaimError` with ``measured`` if not.

    ``holds`` must be a truth value (``bool``, or NumPy's boolean scalar): a number or a
    list would be true for the wrong reason, so it is refused with a ``TypeError``.
    """
    if not isinstance(statement, str) or not statement.strip():
        raise TypeError(f"claim's statement must be a non-empty str, not {statement!r}")
    if not _is_truth_value(holds):
        raise TypeError(
            f"claim({statement!r}, ...) needs a bool for whether it holds, not "
            f"{type(holds).__name__} {holds!r}: write the comparison, e.g. worst < 0.01"
        )
    if not holds:
        numbers = ", ".join(f"{name}={value!r}" for name, value in measured.items())
        raise ClaimError(
            f"the notebook says {statement!r}, but that no longer holds"
            + (f" ({numbers})" if numbers else "")
        )
