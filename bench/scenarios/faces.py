"""Faces: the face engine's figures on this machine (attendance/faces.py), no database.

(1) Bare detection + encoding: ``attendance.faces.analyse(photo, checks=False)`` (decode, upright,
    downscale to MAX_SIDE as the engine does, dlib HOG detection, landmarks, the ResNet encoder) on
    ../shared/faces obama.jpg, biden.jpg and obama_small.jpg, DETECT_RUNS times each after one
    warm-up: the reference the kiosk's identify figure (frame in → answer out) is compared with.
(2) 1:N: ``faces.best_match`` among GALLERY enrolled encodings, QUERIES queries (half of them a
    noisy copy of an enrolled encoding, i.e. a match; half the real photos' encodings, i.e. nobody
    or a near miss). Target: p50/p99 ≤ 5 ms. Also building the matrix from GALLERY encrypted rows
    (``attendance.crypto.decrypt`` each, as attendance/gallery.py does once per gallery version).
(3) Uniqueness: ``faces.distances`` + ``min`` over UNIQUE encodings, UNIQUE_QUERIES queries, as
    enrollment checks a new face against the brand. Target: ≤ 50 ms.
(4) The limit in the same run: a bare numpy matrix-vector product (N×128 float64 · 128) at both
    sizes, which reads the same matrix once and does nothing else.

Enrolled encodings are synthetic with the statistics of real ones: the real encodings of the five
one-face photos plus Gaussian noise (std 0.1 per dimension), each rescaled to the norm of the real
encoding it came from (about 1.4 for these photos). The distances of (2) and (3) as
they were first written (``np.linalg.norm(gallery - encoding, axis=1)``) are timed too, for
comparison.

The measurement runs ROUNDS times (each in its own process, ``python -m bench step faces measure``,
after waiting, bounded, for an idle machine); the report keeps the median round (by 1:N p50) and
the range over the rounds. Not part of `make bench`: ``python -m bench faces`` (about 2 minutes).

Tunables: BENCH_FACES_ROUNDS (3), BENCH_FACES_DETECT_RUNS (20), BENCH_FACES_GALLERY (10000),
BENCH_FACES_QUERIES (1000), BENCH_FACES_UNIQUE (100000), BENCH_FACES_UNIQUE_QUERIES (200),
BENCH_FACES_QUIET (60 s of waiting for an idle machine before each round at most).
"""

from __future__ import annotations

import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.harness.cpu import CpuSampler, load_average, wait_for_quiet
from bench.harness.load import median, percentile
from bench.harness.machine import machine_info
from bench.harness.proc import ROOT, emit, log
from bench.harness.runs import Run

FACES_DIR = ROOT.parent / "shared" / "faces"
PHOTOS = ("obama.jpg", "biden.jpg", "obama_small.jpg")
CENTRES = ("obama.jpg", "obama2.jpg", "obama_small.jpg", "biden.jpg", "biden2.jpg")
ROUNDS = int(os.environ.get("BENCH_FACES_ROUNDS", 3))
DETECT_RUNS = int(os.environ.get("BENCH_FACES_DETECT_RUNS", 20))
GALLERY = int(os.environ.get("BENCH_FACES_GALLERY", 10000))
QUERIES = int(os.environ.get("BENCH_FACES_QUERIES", 1000))
UNIQUE = int(os.environ.get("BENCH_FACES_UNIQUE", 100000))
UNIQUE_QUERIES = int(os.environ.get("BENCH_FACES_UNIQUE_QUERIES", 200))
QUIET = float(os.environ.get("BENCH_FACES_QUIET", 60))
NOISE = 0.1
THRESHOLD, MARGIN = 0.45, 0.06  # the default matching policy's
TARGET_1N_MS = 5.0
TARGET_UNIQUE_MS = 50.0


def _ms(values: list[float]) -> dict:
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 50), 3),
        "p95": round(percentile(ms, 95), 3),
        "p99": round(percentile(ms, 99), 3),
        "max": round(max(ms), 3),
    }


def _timed(fn, args_list) -> list[float]:
    out = []
    for args in args_list:
        t0 = time.perf_counter()
        fn(*args)
        out.append(time.perf_counter() - t0)
    return out


def _synthetic(rng, centres, n):
    import numpy as np

    pick = rng.integers(0, len(centres), n)
    rows = centres[pick] + rng.normal(0, NOISE, (n, centres.shape[1]))
    rows *= (np.linalg.norm(centres[pick], axis=1) / np.linalg.norm(rows, axis=1))[:, None]
    return rows


def measure() -> None:
    """One round of (1)–(4); prints its figures."""
    import numpy as np

    from attendance import crypto, faces

    out: dict = {"load_average_before": load_average()}
    # (1) detection + encoding, as the engine does it (downscaled to MAX_SIDE).
    detect = {}
    with CpuSampler() as cpu:
        for name in PHOTOS:
            data = (FACES_DIR / name).read_bytes()
            (face,) = faces.analyse(data, checks=False)  # warm-up (models loaded on first use)
            rgb = faces.load(data)
            times = _timed(lambda d=data: faces.analyse(d, checks=False), [()] * DETECT_RUNS)
            detect[name] = {**_ms(times), "frame": f"{rgb.shape[1]}×{rgb.shape[0]}", "bytes": len(data)}
    out["detect"] = detect
    out["detect_cpus"] = cpu.cpus

    real = {n: faces.analyse((FACES_DIR / n).read_bytes(), checks=False)[0].encoding for n in CENTRES}
    centres = np.vstack([real[n] for n in CENTRES])
    out["real_encoding_norms"] = [round(float(np.linalg.norm(c)), 3) for c in centres]
    rng = np.random.default_rng(16)

    # (2) 1:N among GALLERY.
    gallery = _synthetic(rng, centres, GALLERY)
    owners = np.arange(1, GALLERY + 1, dtype=np.int64)
    rows = [crypto.encrypt(v) for v in gallery]
    t0 = time.perf_counter()
    matrix = np.array([crypto.decrypt(c, k) for c, k in rows]).reshape(-1, crypto.DIMENSIONS)
    out["decrypt_seconds"] = round(time.perf_counter() - t0, 3)
    assert np.array_equal(matrix, gallery)
    picks = rng.integers(0, GALLERY, QUERIES)
    queries = [
        gallery[p] + rng.normal(0, 0.02, 128) if i % 2 == 0 else centres[i % len(centres)]
        for i, p in enumerate(picks)
    ]
    results: dict[str, int] = {}
    times = []
    for q in queries:
        t0 = time.perf_counter()
        m = faces.best_match(matrix, owners, q, threshold=THRESHOLD, margin=MARGIN)
        times.append(time.perf_counter() - t0)
        results[m.result] = results.get(m.result, 0) + 1
    out["one_to_n"] = {**_ms(times), "results": results}
    pair = np.linalg.norm(gallery[:300, None, :] - gallery[None, 300:400, :], axis=2)
    out["synthetic_distances"] = {
        "min": round(float(pair[pair > 0].min()), 3),
        "p50": round(float(np.median(pair[pair > 0])), 3),
    }

    # (3) uniqueness over UNIQUE.
    big = _synthetic(rng, centres, UNIQUE)
    uq = [big[p] + rng.normal(0, 0.02, 128) for p in rng.integers(0, UNIQUE, UNIQUE_QUERIES)]
    out["unique"] = _ms(_timed(lambda q: float(faces.distances(big, q).min()), [(q,) for q in uq]))

    # The distances as first written, for comparison (fewer queries).
    def before(g, e):
        return np.linalg.norm(g - e, axis=1)

    def best_match_before(g, owners_, e):  # best_match's distances as first written
        d = before(g, e)
        i = int(np.argmin(d))
        others = d[owners_ != owners_[i]]
        return float(d[i]), float(others.min()) if others.size else None

    out["one_to_n_before"] = _ms(
        _timed(lambda q: best_match_before(matrix, owners, q), [(q,) for q in queries[:200]])
    )
    out["unique_before"] = _ms(_timed(lambda q: before(big, q).min(), [(q,) for q in uq[:50]]))

    # (4) the limit: one pass over the same matrices.
    out["matvec_10k"] = _ms(_timed(lambda q: matrix @ q, [(q,) for q in queries]))
    out["matvec_100k"] = _ms(_timed(lambda q: big @ q, [(q,) for q in uq]))
    import face_recognition

    out["versions"] = {
        "numpy": np.__version__,
        "face_recognition": face_recognition.__version__,
        "dlib": __import__("dlib").__version__,
        "blas": _blas(),
    }
    emit(out)


def _blas() -> str:
    try:
        import numpy as np

        cfg = np.show_config(mode="dicts")
        b = cfg["Build Dependencies"]["blas"]
        return f"{b.get('name')} {b.get('version')}"
    except Exception:  # noqa: BLE001  # only a label in the report
        return "unknown"


STEPS = {"measure": measure}


def run(run: Run) -> dict:
    if not FACES_DIR.is_dir():
        raise SystemExit(f"bench: the face photos are not here: {FACES_DIR}")
    rounds = []
    for i in range(ROUNDS):
        load = load_average()
        busy = wait_for_quiet(seconds=QUIET)
        r = run.step("measure", timeout=900)
        r["round"] = i + 1
        r["load_average"] = load
        r["cpu_busy_before"] = round(busy, 3)
        log(
            f"round {i + 1}: load {load}, busy {busy:.0%}; 1:N p50 {r['one_to_n']['p50']} ms "
            f"p99 {r['one_to_n']['p99']} ms; uniqueness p50 {r['unique']['p50']} ms "
            f"p99 {r['unique']['p99']} ms; detect obama.jpg p50 {r['detect']['obama.jpg']['p50']} ms"
        )
        rounds.append(r)
    by = sorted(rounds, key=lambda r: r["one_to_n"]["p50"])
    chosen = by[len(by) // 2]
    m = machine_info({}, "not used")
    m["code"] = run.code
    return run.finish(
        {
            "machine": m,
            "python": platform.python_version(),
            "median_round": chosen["round"],
            "chosen": chosen,
            "rounds": rounds,
            "range": {
                key: [min(r[key]["p50"] for r in rounds), max(r[key]["p50"] for r in rounds)]
                for key in ("one_to_n", "unique", "matvec_10k", "matvec_100k")
            },
            "decrypt_range": [
                min(r["decrypt_seconds"] for r in rounds),
                max(r["decrypt_seconds"] for r in rounds),
            ],
            "median_of_rounds": {
                "one_to_n_p99": median([r["one_to_n"]["p99"] for r in rounds]),
                "unique_p99": median([r["unique"]["p99"] for r in rounds]),
            },
            "settings": {
                "rounds": ROUNDS,
                "detect_runs": DETECT_RUNS,
                "gallery": GALLERY,
                "queries": QUERIES,
                "unique": UNIQUE,
                "unique_queries": UNIQUE_QUERIES,
                "noise": NOISE,
                "threshold": THRESHOLD,
                "margin": MARGIN,
                "faces_dir": str(Path("..") / "shared" / "faces"),
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        }
    )
