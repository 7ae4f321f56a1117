"""Drift from two summaries: each statistic equals SciPy's, and auto's verdicts at 1M rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from dockyard.monitoring.drift import (
    METHODS,
    ColumnDrift,
    bucket_values,
    compare,
    jensen_shannon,
    wasserstein,
)
from dockyard.monitoring.profile import Binning, summarize


def _drift(ref: pa.Table, cur: pa.Table, **kwargs: Any) -> dict[str, ColumnDrift]:
    binning = Binning.from_reference(ref)
    found = compare(summarize(ref, binning), summarize(cur, binning), binning, **kwargs)
    return {d.column: d for d in found}


def test_ks_equals_ks_2samp_when_values_are_edges() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 40, 30_000).astype(float)
    b = np.minimum(rng.poisson(18, 20_000), 39).astype(float)
    got = _drift(pa.table({"x": a}), pa.table({"x": b}), method="ks")["x"]
    want = ks_2samp(a, b, method="asymp")
    assert got.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert got.p_value == pytest.approx(want.pvalue, abs=1e-9)
    small = _drift(pa.table({"x": a[:400]}), pa.table({"x": a[400:700] + 1}), method="ks")["x"]
    want = ks_2samp(a[:400], a[400:700] + 1, method="asymp")
    assert small.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert small.p_value == pytest.approx(want.pvalue, abs=1e-9)


def test_ks_on_continuous_data_is_a_lower_bound() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=5000), rng.normal(0.1, 1, 4000)
    got = _drift(pa.table({"x": a}), pa.table({"x": b}), method="ks")["x"]
    raw = ks_2samp(a, b).statistic
    assert got.statistic <= raw + 1e-12 and got.statistic > raw - 0.02


def test_chi2_js_psi_on_the_same_counts_as_scipy() -> None:
    ref = pa.table({"c": ["a"] * 500 + ["b"] * 300 + ["c"] * 200})
    cur = pa.table({"c": ["a"] * 380 + ["b"] * 330 + ["c"] * 250 + ["d"] * 40})
    counts_r, counts_c = np.array([500, 300, 200, 0]), np.array([380, 330, 250, 40])
    chi2 = _drift(ref, cur, method="chi2")["c"]
    want = chi2_contingency(np.vstack([counts_r, counts_c])[:, [0, 1, 2, 3]], correction=False)
    assert chi2.statistic == pytest.approx(want.statistic, abs=1e-9)
    assert chi2.p_value == pytest.approx(want.pvalue, abs=1e-9) and chi2.drifted
    js = _drift(ref, cur, method="js")["c"]
    p, q = counts_r / counts_r.sum(), counts_c / counts_c.sum()
    assert js.statistic == pytest.approx(jensenshannon(p, q, base=2), abs=1e-9)
    psi = _drift(ref, cur, method="psi")["c"]
    p_, q_ = np.maximum(p, 1e-4), np.maximum(q, 1e-4)
    assert psi.statistic == pytest.approx(np.sum((q_ - p_) * np.log(q_ / p_)), abs=1e-9)
    assert js.new_categories == {"d": 40}


def test_chi2_is_a_homogeneity_test_not_goodness_of_fit() -> None:
    # two samples of one distribution: a goodness-of-fit test against the reference's shares
    # as if exact rejects far too often at this size; homogeneity does not
    rng = np.random.default_rng(3)
    shares = [0.5, 0.3, 0.15, 0.05]
    flagged = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        ref = pa.table({"c": rng.choice(list("abcd"), 1000, p=shares)})
        cur = pa.table({"c": rng.choice(list("abcd"), 1000, p=shares)})
        flagged += _drift(ref, cur, method="chi2")["c"].drifted
    assert flagged <= 3


def test_wasserstein_equals_scipy_on_the_weighted_bucket_values() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=20_000), rng.normal(0.4, 1.3, 10_000)
    ref, cur = pa.table({"x": a}), pa.table({"x": b})
    binning = Binning.from_reference(ref, bins=50)
    sr, sc = summarize(ref, binning), summarize(cur, binning)
    got = compare(sr, sc, binning, method="wasserstein")[0]
    bins, r, c = binning.columns["x"], sr.columns["x"], sc.columns["x"]
    want = wasserstein_distance(
        bucket_values(bins, r.min, r.max), bucket_values(bins, c.min, c.max), r.bins, c.bins
    ) / np.std(a)
    assert got.statistic == pytest.approx(want, rel=1e-9)
    raw = wasserstein_distance(a, b) / np.std(a)
    assert got.statistic == pytest.approx(raw, abs=0.03)
    assert got.drifted


def test_numpy_wasserstein_equals_scipy_on_the_bucket_values() -> None:
    rng = np.random.default_rng(8)
    for size, bins in [(50, 10), (3000, 100), (20_000, 50)]:
        continuous = rng.normal(size=size), rng.normal(0.3, 1.2, size // 2 + 1)
        few = rng.integers(0, 12, size).astype(float), rng.integers(2, 14, size).astype(float)
        for a, b in (continuous, few):
            ref, cur = pa.table({"x": a}), pa.table({"x": b})
            binning = Binning.from_reference(ref, bins=bins)
            column = binning.columns["x"]
            r, c = summarize(ref, binning).columns["x"], summarize(cur, binning).columns["x"]
            u, v = bucket_values(column, r.min, r.max), bucket_values(column, c.min, c.max)
            weights = np.asarray(r.bins, dtype=float), np.asarray(c.bins, dtype=float)
            want = wasserstein_distance(u, v, *weights)
            assert wasserstein(u, v, *weights) == pytest.approx(want, rel=1e-12)


def test_numpy_wasserstein_equals_scipy_on_random_weighted_samples() -> None:
    rng = np.random.default_rng(9)
    for n, m in [(1, 1), (1, 5), (2, 3), (10, 10), (100, 37), (1000, 2500)]:
        for _ in range(5):
            u = rng.normal(size=n)
            v = np.round(rng.normal(0.5, 2, m), 1)  # rounded: repeated values
            u_w, v_w = rng.random(n), rng.integers(0, 4, m).astype(float)  # zero weights
            u_w[0] += 0.1  # no sample may weigh nothing in total
            v_w[0] += 1.0
            if n > 2:
                u[1:3] = u[0]  # the same value more than once, in the middle of the others
                u_w[1] = 0.0
            want = wasserstein_distance(u, v, u_w, v_w)
            assert wasserstein(u, v, u_w, v_w) == pytest.approx(want, rel=1e-12)
            both = np.concatenate([u, v]), np.concatenate([u_w, v_w])
            want = wasserstein_distance(u, both[0], u_w, both[1])
            assert wasserstein(u, both[0], u_w, both[1]) == pytest.approx(want, rel=1e-12)
    single = np.array([2.5]), np.array([3.0])
    other = rng.normal(size=20), rng.random(20)
    want = wasserstein_distance(single[0], other[0], single[1], other[1])
    assert wasserstein(single[0], other[0], single[1], other[1]) == pytest.approx(want, rel=1e-12)
    assert wasserstein(single[0], np.array([4.0]), single[1], np.array([0.5])) == 1.5
    same = np.array([1.0, 1.0, 2.0]), np.array([0.0, 2.0, 1.0])
    assert wasserstein(same[0], same[0], same[1], same[1]) == 0.0


def test_numpy_jensen_shannon_equals_scipy() -> None:
    rng = np.random.default_rng(10)
    for size in (1, 2, 5, 30, 500):
        for _ in range(10):
            p = rng.integers(0, 50, size).astype(float)
            q = rng.integers(0, 1000, size).astype(float)
            p[rng.random(size) < 0.2] = 0.0  # empty buckets, some empty in both
            p[0] += 1.0
            q[-1] += 1.0
            want = jensenshannon(p, q, base=2)
            assert jensen_shannon(p, q) == pytest.approx(want, rel=1e-12)
            assert jensen_shannon(p, p * 3) == jensenshannon(p, p * 3, base=2) == 0.0
    apart = np.array([5.0, 0.0]), np.array([0.0, 2.0])
    assert jensen_shannon(*apart) == pytest.approx(1.0, rel=1e-12)


def test_importing_the_monitoring_service_does_not_import_scipy() -> None:
    # scipy.stats costs ~0.6 s to import: the statistics the report needs are numpy's, and
    # the few that are SciPy's import it when they run
    src = str(Path(__file__).resolve().parents[1] / "src")
    path = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    code = (
        "import sys, dockyard.monitoring.service\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('scipy'))\n"
        "assert not loaded, loaded[:10]\n"
        "import dockyard\n"
        "print(dockyard.__file__)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
    )
    assert child.returncode == 0, child.stderr
    assert Path(child.stdout.strip()).resolve().is_relative_to(src)


def test_wasserstein_is_exact_on_few_distinct_values() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(0, 30, 5000).astype(float)
    b = rng.integers(3, 30, 4000).astype(float)
    got = _drift(pa.table({"x": a}), pa.table({"x": b}), method="wasserstein")["x"]
    assert got.statistic == pytest.approx(wasserstein_distance(a, b) / np.std(a), rel=1e-9)


def test_auto_at_a_million_rows() -> None:
    rng = np.random.default_rng(6)
    n = 1_000_000
    cats = np.array(list("abcde"))
    ref = pa.table(
        {
            "same": rng.normal(size=n),
            "shift": rng.normal(size=n),
            "scale": rng.normal(size=n),
            "cat_same": cats[rng.choice(5, n, p=[0.4, 0.3, 0.15, 0.1, 0.05])],
            "cat_moved": cats[rng.choice(5, n, p=[0.4, 0.3, 0.15, 0.1, 0.05])],
        }
    )
    cur = pa.table(
        {
            "same": rng.normal(size=n),
            "shift": rng.normal(0.3, 1, n),
            "scale": rng.normal(0, 1.5, n),
            "cat_same": cats[rng.choice(5, n, p=[0.4, 0.3, 0.15, 0.1, 0.05])],
            "cat_moved": cats[rng.choice(5, n, p=[0.2, 0.5, 0.15, 0.1, 0.05])],
        }
    )
    found = _drift(ref, cur)
    assert {k: d.method for k, d in found.items()} == {
        "same": "wasserstein",
        "shift": "wasserstein",
        "scale": "wasserstein",
        "cat_same": "js",
        "cat_moved": "js",
    }
    assert {k for k, d in found.items() if d.drifted} == {"shift", "scale", "cat_moved"}
    # the p-value tests flag even the undrifted column at this size only by chance
    assert found["same"].statistic < 0.01


def test_small_samples_use_tests_and_overrides_apply() -> None:
    rng = np.random.default_rng(7)
    ref = pa.table({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
    cur = pa.table({"x": rng.normal(1, 1, 500), "c": rng.choice(["a", "b"], 500)})
    found = _drift(ref, cur)
    assert (found["x"].method, found["c"].method) == ("ks", "chi2")
    assert found["x"].drifted and found["x"].threshold == 0.05
    custom = _drift(ref, cur, methods={"x": "psi"}, thresholds={"x": 100.0}, threshold=0.5)
    assert custom["x"].method == "psi" and not custom["x"].drifted
    assert custom["c"].threshold == 0.5


def test_unknown_method_and_wrong_kind_raise() -> None:
    ref = pa.table({"x": [1.0, 2.0], "c": ["a", "b"]})
    with pytest.raises(ValueError, match="use one of") as err:
        _drift(ref, ref, method="kl")
    assert all(m in str(err.value) for m in METHODS)
    with pytest.raises(ValueError, match="for column 'x'"):
        _drift(ref, ref, methods={"x": "nope"})
    with pytest.raises(ValueError, match="needs a numeric column"):
        _drift(ref, ref, methods={"c": "ks"})
    with pytest.raises(ValueError, match="not in the binning"):
        _drift(ref, ref, thresholds={"zz": 1.0})


def test_all_null_current_and_constant_columns() -> None:
    ref = pa.table({"x": np.arange(2000.0), "k": [5.0] * 2000, "c": ["a"] * 2000})
    cur = pa.table({"x": pa.nulls(2000, pa.float64()), "k": [5.0] * 2000, "c": ["a"] * 2000})
    found = _drift(ref, cur)
    assert not found["x"].drifted and found["x"].reason == "no values in the current window"
    assert found["x"].p_value is None and found["x"].current_rows == 0
    assert not found["k"].drifted and found["k"].statistic == 0.0
    assert not found["c"].drifted
    moved = _drift(ref, pa.table({"k": np.linspace(4, 6, 2000)}), method="wasserstein")
    assert moved["k"].drifted
    assert moved["c"].reason == "no values in the current window"
    for method in METHODS:
        assert not _drift(ref, ref, method=method)["k"].drifted
