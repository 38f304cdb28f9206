"""Name the OpenBLAS kernel NumPy runs, or another one for CI's second test pass.

    python3 .ci/blas_kernel.py           # the kernel selected now (OPENBLAS_CORETYPE as set)
    python3 .ci/blas_kernel.py --other   # a kernel this CPU runs that rounds differently

Compiled training's matrix products round differently under each OpenBLAS kernel, and a
chaotic training run amplifies the difference: a claim that holds for one CPU's rounding
can fail on another's. CI therefore runs the notebooks and the training-outcome tests a
second time under ``OPENBLAS_CORETYPE=$(python3 .ci/blas_kernel.py --other)``.

A candidate kernel counts only when, in a fresh process with that OPENBLAS_CORETYPE,
(1) the process does not crash (a kernel for instructions this CPU lacks dies with
SIGILL), (2) OpenBLAS reports that kernel as selected (an unknown or unsupported name
falls back silently to another kernel), (3) its products agree with exactly rounded sums
(math.fsum) to 1e-12, and (4) its products differ in the last bits from the current
kernel's. OPENBLAS_L2_SIZE and any preset OPENBLAS_CORETYPE are left as they are for the
first pass; only the second pass names its kernel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Tried in this order; the first that qualifies is taken. x86-64 first, then 64-bit Arm.
CANDIDATES = (
    "SkylakeX",
    "Haswell",
    "Sandybridge",
    "Nehalem",
    "Core2",
    "NeoverseN1",
    "CortexA57",
    "ARMV8",
)

# Runs in a child process: the kernel OpenBLAS selected, whether its products are right,
# and a digest of their exact bits.
PROBE = r"""
import hashlib, json, math
import numpy as np
import threadpoolctl

kernels = [
    info.get("architecture")
    for info in threadpoolctl.threadpool_info()
    if info.get("internal_api") == "openblas"
]
rng = np.random.default_rng(0)
digest = hashlib.sha256()
worst = 0.0
for m, k, n in ((37, 53, 29), (8, 300, 8), (64, 64, 64), (3, 1000, 5)):
    a = rng.standard_normal((m, k))
    b = rng.standard_normal((k, n))
    product = a @ b
    digest.update(product.tobytes())
    digest.update((a.astype(np.float32) @ b.astype(np.float32)).tobytes())
    for i in range(0, m, 7):
        for j in range(0, n, 5):
            terms = [a[i, t] * b[t, j] for t in range(k)]
            scale = math.fsum(abs(term) for term in terms)
            worst = max(worst, abs(product[i, j] - math.fsum(terms)) / scale)
print(json.dumps({"kernels": kernels, "digest": digest.hexdigest(), "error": worst}))
"""


def probe(coretype: str | None) -> dict | None:
    """What a fresh process reports under ``coretype`` (None: the environment as is)."""
    env = dict(os.environ)
    if coretype is not None:
        env["OPENBLAS_CORETYPE"] = coretype
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        return None  # e.g. SIGILL: the kernel needs instructions this CPU lacks
    return json.loads(done.stdout)


def current() -> dict:
    """The probe of the kernel selected now; exits when NumPy uses no OpenBLAS."""
    report = probe(None)
    if report is None or len(report["kernels"]) != 1 or not report["kernels"][0]:
        sys.exit(f"cannot tell which OpenBLAS kernel NumPy uses here: {report}")
    return report


def other_kernel(now: dict, candidates: tuple[str, ...] = CANDIDATES) -> str | None:
    """The first candidate that runs here, is really selected, is right, and rounds otherwise."""
    for name in candidates:
        report = probe(name)
        if (
            report is not None
            and [k.lower() for k in report["kernels"]] == [name.lower()]
            and report["error"] < 1e-12
            and report["digest"] != now["digest"]
        ):
            return name
    return None


def main(argv: list[str]) -> int:
    if argv not in ([], ["--other"]):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    now = current()
    if not argv:
        print(now["kernels"][0])
        return 0
    name = other_kernel(now)
    if name is None:
        print(
            f"no OpenBLAS kernel among {', '.join(CANDIDATES)} runs on this CPU, is selected "
            f"when named, and rounds differently from {now['kernels'][0]}",
            file=sys.stderr,
        )
        return 1
    print(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
