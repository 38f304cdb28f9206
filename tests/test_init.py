"""Tests for autograd_lite.nn.init: the distributions of the initial weights and seeding.

Each statistic is compared with its theoretical value with a tolerance of five standard
errors for the sample size used, so a correct scheme fails about once in a million runs
and a scheme with the wrong variance (off by the factor of 2 that separates He from
Xavier, say) fails every time.
"""

from __future__ import annotations

import math
import random

import pytest

from autograd_lite.nn import MLP, Layer
from autograd_lite.nn.init import canonical_scheme, initial_weights, make_rng


def layer_weights(layer: Layer) -> list[float]:
    """Every weight (not bias) of a layer."""
    return [w.data for n in layer.neurons for w in n.w]


def moments(values: list[float]) -> tuple[float, float, float]:
    """Sample mean, variance (about 0, the true mean) and kurtosis."""
    n = len(values)
    mean = math.fsum(values) / n
    variance = math.fsum(v * v for v in values) / n
    fourth = math.fsum(v**4 for v in values) / n
    return mean, variance, fourth / variance**2


def check_moments(values: list[float], variance: float, shape: Shape) -> None:
    """Mean 0, the given variance and the shape's kurtosis, each within five standard errors."""
    n = len(values)
    mean, sample_variance, sample_kurtosis = moments(values)
    assert abs(mean) < 5 * math.sqrt(variance / n)
    # Var(sample variance) = (mu4 - sigma^4) / n = (kurtosis - 1) sigma^4 / n.
    assert abs(sample_variance - variance) < 5 * variance * math.sqrt((shape.kurtosis - 1) / n)
    assert abs(sample_kurtosis - shape.kurtosis) < 5 * math.sqrt(shape.kurtosis_variance / n)


class Shape:
    """A distribution's kurtosis and n times the asymptotic variance of its sample kurtosis.

    The variance comes from the delta method on m4 / m2^2 with raw moments about the
    known mean 0: for a normal it is the textbook 24; for U(-1, 1), whose moments are
    1/3, 1/5, 1/7, 1/9, it is 81 * 16/225 + 116.64 * 4/45 - 194.4 * 8/105 = 1.3166.
    """

    def __init__(self, kurtosis: float, kurtosis_variance: float) -> None:
        self.kurtosis = kurtosis
        self.kurtosis_variance = kurtosis_variance


UNIFORM = Shape(1.8, 81 * 16 / 225 + 116.64 * 4 / 45 - 194.4 * 8 / 105)
NORMAL = Shape(3.0, 24.0)


def test_uniform_scheme_is_micrograds_uniform_minus_one_to_one() -> None:
    """'uniform' weights lie in [-1, 1] with variance 1/3, as micrograd's random.uniform(-1, 1)."""
    values = layer_weights(Layer(400, 100, init="uniform", seed=0))
    assert all(-1.0 <= v <= 1.0 for v in values)
    check_moments(values, 1.0 / 3.0, UNIFORM)


def test_xavier_scheme_has_glorots_bound_and_variance() -> None:
    """'xavier' is uniform in ±sqrt(6/(fan_in+fan_out)) with variance 2/(fan_in+fan_out)."""
    fan_in, fan_out = 300, 100
    values = layer_weights(Layer(fan_in, fan_out, init="xavier", seed=1))
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    assert all(-bound <= v <= bound for v in values)
    assert max(abs(v) for v in values) > 0.99 * bound  # the full range is used
    check_moments(values, 2.0 / (fan_in + fan_out), UNIFORM)


def test_he_scheme_is_normal_with_variance_two_over_fan_in() -> None:
    """'he' weights are normal (kurtosis 3) with variance 2/fan_in."""
    fan_in = 400
    values = layer_weights(Layer(fan_in, 100, init="he", seed=2))
    check_moments(values, 2.0 / fan_in, NORMAL)


def test_biases_start_at_zero_for_every_scheme() -> None:
    """Every scheme leaves the biases at exactly 0."""
    for scheme in ("uniform", "xavier", "he"):
        layer = Layer(3, 4, init=scheme, seed=0)
        assert [n.b.data for n in layer.neurons] == [0.0] * 4


def test_mlp_passes_each_layers_fan_in_and_fan_out() -> None:
    """In MLP(…, init='xavier') each layer's weights respect that layer's own bound."""
    model = MLP(50, [200, 10], init="xavier", seed=0)
    for layer in model.layers:
        bound = math.sqrt(6.0 / (layer.nin + layer.nout))
        values = layer_weights(layer)
        assert max(abs(v) for v in values) <= bound
        assert max(abs(v) for v in values) > 0.9 * bound


def test_aliases_and_case_are_accepted() -> None:
    """'glorot' means 'xavier', 'kaiming' means 'he', and case does not matter."""
    assert canonical_scheme("Glorot") == "xavier"
    assert canonical_scheme("KAIMING") == "he"
    assert canonical_scheme("uniform") == "uniform"


def test_unknown_schemes_and_bad_types_are_refused() -> None:
    """An unknown name lists the accepted ones; a non-str raises TypeError."""
    with pytest.raises(ValueError, match="'uniform', 'xavier', 'he', 'glorot', 'kaiming'"):
        canonical_scheme("orthogonal")
    with pytest.raises(TypeError, match="int"):
        canonical_scheme(3)


def test_same_seed_same_weights_different_seed_different_weights() -> None:
    """initial_weights with Random(s) is a function of s alone."""
    first = initial_weights("he", 20, 5, random.Random(3))
    assert first == initial_weights("he", 20, 5, random.Random(3))
    assert first != initial_weights("he", 20, 5, random.Random(4))


def test_seeded_weights_ignore_and_do_not_consume_the_global_random_state() -> None:
    """MLP(seed=…) neither depends on nor advances the global generator."""
    random.seed(10)
    expected_next = random.random()
    random.seed(10)
    first = MLP(3, [4, 2], init="xavier", seed=0).state_dict()
    assert random.random() == expected_next
    random.seed(99)
    assert MLP(3, [4, 2], init="xavier", seed=0).state_dict() == first


def test_no_seed_draws_from_the_global_generator() -> None:
    """make_rng(None) is the random module, so random.seed() makes unseeded models repeat."""
    assert make_rng(None) is random
    random.seed(5)
    first = MLP(2, [3], init="he").state_dict()
    random.seed(5)
    assert MLP(2, [3], init="he").state_dict() == first


@pytest.mark.parametrize("seed", ["0", 1.5, True])
def test_seed_must_be_an_int(seed) -> None:
    """A seed that is not an int (or None) raises TypeError naming its type."""
    with pytest.raises(TypeError, match="seed must be an int"):
        make_rng(seed)
