"""Tests for autograd_lite.exercises.check_engine: a reference solution passes, and each
broken engine (one student's slip each, tests/student_engines.py) is caught with the
sentence that names the operator and the mistake."""

from __future__ import annotations

import re

import pytest

from autograd_lite.exercises import check_engine
from tests.student_engines import broken_engine, reference_engine

pytest.importorskip("hypothesis")

# (what the student got wrong, old line, new line, a pattern the report must contain)
BROKEN = [
    (
        "tanh's local derivative 1 - t",
        "self.grad += (1 - t ** 2) * out.grad",
        "self.grad += (1 - t) * out.grad",
        r"`tanh`: your local derivative is 1 − t; it should be 1 − t² \(at t = 0\.76 you give "
        r"0\.24, expected 0\.43\)",
    ),
    (
        "= instead of += in __mul__",
        "self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
        "self.grad = other.data * out.grad\n            other.grad = self.data * out.grad",
        r"`\*`: when one node is used twice \(x \* x at x = 0\.5\) its gradient is 0\.5; "
        r"expected 1: your _backward sets the gradient",
    ),
    (
        "= instead of += in __add__",
        "self.grad += out.grad\n            other.grad += out.grad",
        "self.grad = out.grad\n            other.grad = out.grad",
        r"`\+`: when one node is used twice \(x \+ x at x = 0\.5\) its gradient is 1; expected 2",
    ),
    (
        "= instead of += in tanh",
        "self.grad += (1 - t ** 2) * out.grad",
        "self.grad = (1 - t ** 2) * out.grad",
        r"`tanh`: when x is used twice, in tanh\(x\) \+ x .* sets self\.grad = \.\.\. instead",
    ),
    (
        "backward() without a topological order",
        "        build_topo(self)\n        self.grad = 1.0\n        for node in reversed(topo):\n"
        "            node._backward()",
        "        self.grad = 1.0\n        stack = [self]\n        while stack:\n"
        "            node = stack.pop()\n            node._backward()\n"
        "            stack.extend(node._prev)",
        r"`backward\(\)`: on a diamond .* x\.grad is 114; expected 78: a node's _backward ran "
        r"more than once",
    ),
    (
        "backward() in topological order, not reversed",
        "for node in reversed(topo):",
        "for node in topo:",
        r"`backward\(\)`: .* you visit the nodes from the leaves up",
    ),
    (
        "__rsub__ with the sides swapped",
        "return other + (-self)",
        "return self - other",
        r"`__rsub__`: 2 - x at x = 0\.5 gives -1\.5; expected 1\.5 \(other - self\)",
    ),
    (
        "__rtruediv__ with the sides swapped",
        "return other * self ** -1",
        "return self * other ** -1",
        r"`__rtruediv__`: 2 / x at x = 0\.5 gives 0\.25; expected 4",
    ),
    (
        "exponent off by one in __pow__",
        "self.grad += n * self.data ** (n - 1) * out.grad",
        "self.grad += n * self.data ** n * out.grad",
        r"`\*\*`: your local derivative of x\*\*n is n·x\*\*n; it should be n·x\*\*\(n−1\)",
    ),
    (
        "exp's local derivative x",
        "self.grad += out.data * out.grad",
        "self.grad += self.data * out.grad",
        r"`exp`: your local derivative is x; it should be eˣ",
    ),
    (
        "relu passing the gradient everywhere",
        "self.grad += (self.data > 0) * out.grad",
        "self.grad += out.grad",
        r"`relu`: your local derivative is wrong; it should be 1 where x > 0 and 0 elsewhere "
        r"\(at x = -0\.8 you give 1\.00, expected 0\.00\)",
    ),
    (
        "mul's gradient forgets out.grad",
        "self.grad += other.data * out.grad\n",
        "self.grad += other.data\n",
        r"`\*`: for out = x \* -0\.7 with out\.grad = 3, x\.grad becomes -0\.7; "
        r"expected -2\.1: your _backward ignores out.grad",
    ),
    (
        "tanh's forward value",
        "t = math.tanh(self.data)",
        "t = math.tanh(self.data) + 0.1",
        r"`tanh`: at x = 0\.99 your value is 0\.8574; expected 0\.7574",
    ),
    (
        "backward() not seeded with 1",
        "        self.grad = 1.0\n",
        "",
        r"`backward\(\)`: after y\.backward\(\) y\.grad is 0; it must start the chain rule "
        r"with self\.grad = 1",
    ),
    (
        "a number on the right not wrapped",
        "other = other if isinstance(other, Value) else Value(other)\n"
        "        out = Value(self.data + other.data",
        "out = Value(self.data + other.data",
        r"`\+`: x \+ 2 raised AttributeError: 'int' object has no attribute 'data' \(wrap a plain "
        r"number in a Value first\)",
    ),
    (
        "a backward() that stops after twelve nodes",
        "for node in reversed(topo):",
        "for node in list(reversed(topo))[:12]:",
        r"random graphs: on the graph n\d+ = .* your gradient for x\d is .*; expected .* "
        r"\(this library's engine and central differences agree\)",
    ),
]


def test_the_reference_solution_passes():
    """Karpathy's micrograd with tanh and exp passes, the operators it lacks listed as skipped."""
    report = check_engine(reference_engine(), examples=100)
    assert report.ok, report.problems
    assert "`sigmoid`" in report.skipped and "`log`" in report.skipped
    assert "`tanh`" in report.passed and "`backward()`" in report.passed


@pytest.mark.parametrize(
    ("mistake", "old", "new", "pattern"), BROKEN, ids=[case[0] for case in BROKEN]
)
def test_a_broken_engine_is_caught_with_the_right_sentence(mistake, old, new, pattern):
    """One slip in one line: the report is not ok and a problem names the operator and slip."""
    report = check_engine(broken_engine(old, new), examples=100)
    assert not report.ok, mistake
    assert any(re.search(pattern, problem) for problem in report.problems), report.problems


def test_an_engine_with_few_operators_is_graded_on_those():
    """A class with only +, * and tanh is graded on them; the rest are listed as skipped."""
    Value = reference_engine()
    for name in (
        "__pow__",
        "exp",
        "relu",
        "__neg__",
        "__sub__",
        "__truediv__",
        "__rsub__",
        "__rtruediv__",
        "__radd__",
        "__rmul__",
    ):
        delattr(Value, name)
    report = check_engine(Value, examples=50)
    assert report.ok, report.problems
    assert report.passed == ["`+`", "`*`", "`tanh`", "`backward()`"]
    assert "`**` (__pow__)" in report.skipped and "`__rsub__` (2 - x)" in report.skipped


def test_the_report_reads_well_as_text_markdown_and_html():
    """str() lists the problems; markdown and HTML show them too, with HTML escaped."""
    report = check_engine(broken_engine("for node in reversed(topo):", "for node in topo:"))
    text, markdown, page = str(report), report._repr_markdown_(), report._repr_html_()
    assert text.startswith("Problems found:") and "backward()" in text
    assert markdown.startswith("❌") and "* `backward()`" in markdown
    assert "<li>`backward()`" in page and "x → b" in page and "<b>Problems found:</b>" in page
    report.problems.append("<script>")
    assert "&lt;script&gt;" in report._repr_html_()
    assert (
        repr(check_engine(reference_engine(), examples=10)) == "EngineReport(ok=True, problems=0)"
    )


def test_check_engine_refuses_what_is_not_a_class():
    """An instance instead of the class is a TypeError naming what was given."""
    with pytest.raises(TypeError, match="expects your Value class, got float"):
        check_engine(1.0)
    with pytest.raises(ValueError, match="examples must be a positive int"):
        check_engine(reference_engine(), examples=0)
