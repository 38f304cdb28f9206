"""Tests for autograd_lite.nn.module: discovery of parameters and sub-modules, modes,
state dicts, scoped calls and the registry that saved files use."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_lite.engine import Value, name_scope, topological_order
from autograd_lite.nn import (
    MLP,
    Dropout,
    Layer,
    Module,
    Neuron,
    Residual,
    Sequential,
    module_from_spec,
    module_spec,
    register_module,
    registered_modules,
)


class Pair(Module):
    """A hand-written module: a scale Value, a list of Neurons, a nested list, privates."""

    def __init__(self) -> None:
        self.scale = Value(2.0)
        self.heads = [Neuron(2, rng=random.Random(0)), Neuron(2, rng=random.Random(1))]
        self.grid = [[Value(1.0), Value(2.0)], (Value(3.0),)]
        self.note = "not a parameter"
        self.sizes = [1, 2, 3]
        self._cache = Value(9.0)  # private: never a parameter

    def forward(self, x: list[float]) -> Value:
        return self.scale * (self.heads[0](x) + self.heads[1](x))


class MicrogradStyle(Module):
    """A module as micrograd users write them: no super().__init__(), own parameters()."""

    def __init__(self) -> None:
        self.a = Value(1.0)
        self.b = Value(-2.0)

    def __call__(self, x: float) -> Value:
        return self.a * x + self.b

    def parameters(self) -> list[Value]:
        return [self.a, self.b]


# --------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------


def test_mlp_parameter_names_follow_the_contract() -> None:
    """MLP parameters are named layers.i.neurons.j.w.k and layers.i.neurons.j.b."""
    model = MLP(2, [4, 3, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert "layers.1.neurons.2.w.3" in names
    assert names[-1] == "layers.2.neurons.0.b"
    assert len(names) == len(set(names)) == (2 + 1) * 4 + (4 + 1) * 3 + (3 + 1) * 1


def test_parameters_are_the_named_parameters_in_order() -> None:
    """parameters() returns the same objects as named_parameters(), in the same order."""
    model = MLP(3, [5, 2], seed=1)
    assert [id(p) for p in model.parameters()] == [id(p) for _, p in model.named_parameters()]
    layer = model.layers[1]
    expected = [p for neuron in layer.neurons for p in (*neuron.w, neuron.b)]
    assert [id(p) for p in layer.parameters()] == [id(p) for p in expected]


def test_discovery_walks_nested_lists_and_skips_private_and_plain_attributes() -> None:
    """Values, Modules and (nested) lists of them are found; '_x' and non-Values are not."""
    module = Pair()
    names = [name for name, _ in module.named_parameters()]
    assert names == [
        "scale",
        "heads.0.w.0",
        "heads.0.w.1",
        "heads.0.b",
        "heads.1.w.0",
        "heads.1.w.1",
        "heads.1.b",
        "grid.0.0",
        "grid.0.1",
        "grid.1.0",
    ]
    assert all(p is not module._cache for p in module.parameters())
    assert [name for name, _ in module.named_children()] == ["heads.0", "heads.1"]


def test_a_shared_parameter_or_module_is_listed_once() -> None:
    """A Value or module reachable twice appears once, under its first name."""
    shared = Layer(2, 2, seed=0)
    model = Sequential(shared, shared)
    names = [name for name, _ in model.named_parameters()]
    assert len(names) == 6 and all(name.startswith("layers.0.") for name in names)
    assert [name for name, _ in model.named_modules()].count("layers.1") == 0


def test_named_modules_lists_self_first_then_depth_first() -> None:
    """named_modules() starts with ('', self) and visits children before siblings."""
    model = MLP(2, [2, 1], seed=0)
    names = [name for name, _ in model.named_modules()]
    assert names == [
        "",
        "layers.0",
        "layers.0.neurons.0",
        "layers.0.neurons.1",
        "layers.1",
        "layers.1.neurons.0",
    ]
    assert model.modules()[0] is model
    assert model.children() == model.layers


def test_a_module_that_refers_to_its_parent_does_not_loop() -> None:
    """A cycle in the module graph is walked once, not forever."""
    outer = Sequential(Layer(1, 1, seed=0))
    outer.layers[0].owner = outer
    assert len(outer.parameters()) == 2
    assert len(outer.named_modules()) == 3


# --------------------------------------------------------------------------------------
# zero_grad, train/eval
# --------------------------------------------------------------------------------------


def test_zero_grad_clears_every_parameter_gradient() -> None:
    """After backward() some grads are non-zero; zero_grad() sets all to exactly 0.0."""
    model = MLP(2, [3, 1], activation="tanh", seed=0)
    model([0.5, -1.0]).backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 and type(p.grad) is float for p in model.parameters())


def test_micrograd_style_modules_work_without_calling_super_init() -> None:
    """A subclass with its own __call__ and parameters() gets zero_grad and training."""
    module = MicrogradStyle()
    module(3.0).backward()
    assert module.a.grad == 3.0
    module.zero_grad()
    assert module.a.grad == 0.0 and module.b.grad == 0.0
    assert module.training is True
    assert module.eval() is module and module.training is False


def test_train_and_eval_reach_every_submodule() -> None:
    """eval() and train() set .training on the module and all its descendants."""
    model = Sequential(Layer(2, 2, seed=0), Dropout(0.5, seed=0), Residual(Layer(2, 2, seed=1)))
    assert all(m.training for m in model.modules())
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_train_refuses_a_non_bool_mode() -> None:
    """train('no') raises TypeError naming the type, instead of silently training."""
    with pytest.raises(TypeError, match=r"bool.*str"):
        MLP(1, [1], seed=0).train("no")


# --------------------------------------------------------------------------------------
# state_dict / load_state_dict
# --------------------------------------------------------------------------------------


def test_state_dict_round_trip_gives_identical_outputs() -> None:
    """Loading one model's state into a differently initialised twin copies it exactly."""
    source = MLP(3, [4, 2], activation="tanh", seed=0)
    target = MLP(3, [4, 2], activation="tanh", seed=99)
    target.load_state_dict(source.state_dict())
    assert target.state_dict() == source.state_dict()
    x = [0.25, -1.5, 2.0]
    assert [v.data for v in target(x)] == [v.data for v in source(x)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=9, max_size=9))
def test_state_dict_round_trip_is_exact_for_any_floats(values: list[float]) -> None:
    """Every float written by load_state_dict is read back unchanged by state_dict."""
    model = MLP(2, [2, 1], seed=0)
    names = list(model.state_dict())
    model.load_state_dict(dict(zip(names, values)))
    assert list(model.state_dict().values()) == values


def test_load_state_dict_reports_missing_keys_with_keyerror() -> None:
    """A missing key raises KeyError naming it, and no parameter is changed."""
    model = MLP(2, [1], seed=0)
    before = model.state_dict()
    state = {name: 5.0 for name in before}
    del state["layers.0.neurons.0.b"]
    with pytest.raises(KeyError, match=r"layers\.0\.neurons\.0\.b"):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_load_state_dict_reports_unexpected_keys_with_valueerror() -> None:
    """An extra key raises ValueError naming it, and no parameter is changed."""
    model = MLP(2, [1], seed=0)
    before = model.state_dict()
    state = {name: 5.0 for name in before} | {"layers.9.w": 1.0}
    with pytest.raises(ValueError, match=r"layers\.9\.w"):
        model.load_state_dict(state)
    assert model.state_dict() == before


@pytest.mark.parametrize("bad", ["1.0", None, True, [1.0]])
def test_load_state_dict_refuses_non_numbers(bad: object) -> None:
    """A value that is not a real number raises TypeError naming the key; nothing changes."""
    model = MLP(1, [1], seed=0)
    before = model.state_dict()
    state = dict.fromkeys(before, 0.5)
    state["layers.0.neurons.0.w.0"] = bad
    with pytest.raises(TypeError, match=r"layers\.0\.neurons\.0\.w\.0"):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_load_state_dict_refuses_a_non_mapping() -> None:
    """Passing a list raises TypeError that says a dict was expected."""
    with pytest.raises(TypeError, match=r"dict.*list"):
        MLP(1, [1], seed=0).load_state_dict([1.0, 2.0])


# --------------------------------------------------------------------------------------
# Calling: name scopes
# --------------------------------------------------------------------------------------


def test_every_node_of_a_call_is_tagged_with_its_module_path() -> None:
    """Nodes made by neuron 3 of layer 0 carry ('MLP', 'Layer[0]', 'Neuron[3]')."""
    model = MLP(2, [4, 1], seed=0)
    out = model([1.0, 2.0])
    scopes = {node.scope for node in topological_order(out) if node.parents}
    assert ("MLP", "Layer[0]", "Neuron[3]") in scopes
    assert out.scope == ("MLP", "Layer[1]", "Neuron[0]")
    assert all(scope[:1] == ("MLP",) for scope in scopes)


def test_scopes_nest_inside_an_outer_name_scope_and_are_restored() -> None:
    """A call inside name_scope('step') nests under it; afterwards scopes are unchanged."""
    model = Residual(Layer(1, 1, seed=0))
    with name_scope("step"):
        out = model([0.5])
    assert out[0].scope == ("step", "Residual")
    inner = out[0].parents[1]
    assert inner.scope[:3] == ("step", "Residual", "Layer")
    assert Value(1.0).scope == ()


def test_scope_is_restored_when_forward_raises() -> None:
    """An exception inside forward leaves no module scope behind."""
    model = MLP(2, [1], seed=0)
    with pytest.raises(ValueError):
        model([1.0, 2.0, 3.0])
    assert (Value(1.0) * 2).scope == ()


def test_modules_in_a_list_get_an_index_and_others_their_class_name() -> None:
    """scope_name is 'Layer[1]' for a list item and the class name otherwise."""
    model = MLP(2, [2, 1], seed=0)
    assert model.scope_name == "MLP"
    assert model.layers[1].scope_name == "Layer[1]"
    assert model.layers[0].neurons[1].scope_name == "Neuron[1]"
    assert Residual(Layer(1, 1, seed=0)).module.scope_name == "Layer"


def test_forward_must_be_defined() -> None:
    """Calling a Module subclass without forward() raises NotImplementedError naming it."""

    class Empty(Module):
        pass

    with pytest.raises(NotImplementedError, match="Empty"):
        Empty()(1.0)


def test_generic_repr_lists_children() -> None:
    """A module without its own repr shows its children with their names."""
    text = repr(Sequential(Layer(2, 3, seed=0), Dropout(0.25, seed=0)))
    assert text == "Sequential(\n  (layers.0): Layer(2 → 3, relu)\n  (layers.1): Dropout(p=0.25)\n)"


# --------------------------------------------------------------------------------------
# Registry and specs
# --------------------------------------------------------------------------------------


def test_builtin_modules_are_registered() -> None:
    """Every built-in module class can be named in a saved file."""
    names = set(registered_modules())
    assert {
        "MLP",
        "Layer",
        "Neuron",
        "Sequential",
        "Residual",
        "Dropout",
        "RNN",
        "RNNCell",
    } <= names


def test_module_spec_round_trip_rebuilds_the_same_structure() -> None:
    """module_from_spec(module_spec(m)) has the same config and parameter names."""
    model = Sequential(Layer(2, 3, "tanh", seed=0), Dropout(0.1, seed=4), MLP(3, [2], seed=1))
    rebuilt = module_from_spec(module_spec(model))
    assert type(rebuilt) is Sequential
    assert rebuilt.config() == model.config()
    assert list(rebuilt.state_dict()) == list(model.state_dict())


def test_rebuilding_from_a_spec_leaves_the_global_random_state_alone() -> None:
    """module_from_spec of an unseeded MLP does not change what random draws next."""
    spec = module_spec(MLP(4, [8, 1], seed=None))
    random.seed(123)
    expected = random.random()
    random.seed(123)
    module_from_spec(spec)
    assert random.random() == expected


def test_register_module_refuses_a_clashing_name_and_non_modules() -> None:
    """A second class named like a registered one is refused; so is a non-Module."""

    class MLP(Module):  # the name clash is the point of the test
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_module(MLP)
    with pytest.raises(TypeError, match="Module subclass"):
        register_module(int)


def test_module_spec_needs_a_registered_class_with_config() -> None:
    """An unregistered class cannot be described; an unknown name cannot be rebuilt."""

    class Unsaved(Module):
        pass

    with pytest.raises(ValueError, match="register_module"):
        module_spec(Unsaved())
    with pytest.raises(ValueError, match="unknown module class 'Nope'"):
        module_from_spec({"class": "Nope", "config": {}})
    with pytest.raises(KeyError, match="config"):
        module_from_spec({"class": "MLP"})


def test_config_must_be_defined_to_save() -> None:
    """The base config() says how to make a custom module saveable."""
    with pytest.raises(NotImplementedError, match="register_module"):
        MicrogradStyle().config()


def test_load_state_dict_with_an_int_too_large_for_a_float_changes_nothing() -> None:
    """A ValueError naming the entry, and no parameter is set (not half-loaded)."""
    model = MLP(2, [2, 1], seed=0)
    before = model.state_dict()
    state = dict(before)
    state[list(state)[-1]] = 10**400
    with pytest.raises(ValueError, match="does not fit in a float"):
        model.load_state_dict(state)
    assert model.state_dict() == before


def test_buffers_are_saved_and_loaded_but_are_not_parameters() -> None:
    """Attributes named in _buffer_names join state_dict under dotted names, not parameters()."""

    class Counter(Module):
        _buffer_names = ("totals", "seen")

        def __init__(self) -> None:
            self.w = Value(1.0)
            self.totals = [0.5, 1.5]
            self.seen = 0

    class Outer(Module):
        def __init__(self) -> None:
            self.parts = [Counter(), Counter()]

    outer = Outer()
    assert len(outer.parameters()) == 2
    state = outer.state_dict()
    assert list(state) == [
        "parts.0.w",
        "parts.1.w",
        "parts.0.totals.0",
        "parts.0.totals.1",
        "parts.0.seen",
        "parts.1.totals.0",
        "parts.1.totals.1",
        "parts.1.seen",
    ]
    state["parts.1.totals.0"] = 7.0
    state["parts.1.seen"] = 3.0
    outer.load_state_dict(state)
    assert outer.parts[1].totals == [7.0, 1.5]
    assert outer.parts[1].seen == 3 and isinstance(outer.parts[1].seen, int)
    with pytest.raises(KeyError, match=r"parts\.0\.seen"):
        outer.load_state_dict({k: v for k, v in state.items() if k != "parts.0.seen"})
