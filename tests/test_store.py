"""Results store: round trip, atomic writes under SIGKILL, and every bad file it must refuse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simtest.metrics.matching import MatchConfig, result_rows
from simtest.store import (
    RESULT_SCHEMA,
    CellRecord,
    Manifest,
    RunStore,
    StoreError,
    config_hash,
    query,
    read_runs,
)
from simtest.types import Detections, EgoState, Frame, Objects


def make_rows(n_frames: int = 5, episode: int = 0, seed: int = 1) -> pd.DataFrame:
    cfg = MatchConfig()
    out = []
    for t in range(n_frames):
        objects = Objects(
            ids=np.array([1, 2]), labels=np.array([1, 0]),
            boxes=np.array([[8.0 - t, 1, 0.9, 0.6, 0.6, 1.7, 0], [25, -3, 0.8, 4.5, 1.9, 1.6, np.pi]]),
            critical=np.array([True, False]), lidar_points=np.array([80, 30]),
        )
        frame = Frame(index=t, timestamp=0.1 * t, ego=EgoState(velocity=np.array([10.0, 0, 0])), objects=objects)
        det = Detections(boxes=np.array([[8.2 - t, 1, 0.9, 0.6, 0.6, 1.7, 0], [40, 5, 0.8, 4.5, 1.9, 1.6, 0]]),
                         scores=np.array([0.8 if t % 2 else 0.1, 0.6]), labels=np.array([1, 0]))
        out.append(result_rows(frame, det, cfg, episode=episode, seed=seed))
    return pd.concat(out, ignore_index=True)


def make_manifest(cells=("fog-3", "clear-0")) -> Manifest:
    axes = {"fog-3": {"weather": "fog", "severity": 3}, "clear-0": {"weather": "clear", "severity": 0}}
    return Manifest(
        run_id="r1", config={"sweep": {"weather": ["fog", "clear"]}, "seed": 0},
        axes={"weather": "string", "severity": "int"}, root_seed=0, model={"name": "m", "hash": "abc"},
        cells={c: CellRecord(axes=axes[c], seed=i) for i, c in enumerate(cells)},
    )


@pytest.fixture
def run(tmp_path: Path) -> tuple[RunStore, Manifest]:
    store = RunStore(tmp_path / "runs" / "r1")
    manifest = make_manifest()
    store.save_manifest(manifest)
    return store, manifest


def test_round_trip(run):
    store, manifest = run
    rows = make_rows()
    store.write_cell(manifest, "fog-3", rows)
    store.write_cell(manifest, "clear-0", make_rows(episode=1))
    back = store.read()
    assert list(back.columns) == RESULT_SCHEMA.names + ["weather", "severity"]
    fog = back[back.cell == "fog-3"].reset_index(drop=True)
    assert (fog.weather == "fog").all() and (fog.severity == 3).all()
    for col in ("object_id", "cls", "row_type", "frame"):
        assert fog[col].tolist() == rows[col].tolist()
    np.testing.assert_allclose(fog["distance"], rows["distance"], rtol=1e-6)
    assert fog["detected"].isna().tolist() == rows["detected"].isna().tolist()
    assert fog["score"].isna().tolist() == rows["score"].isna().tolist()  # NaN stored as null
    assert store.done_cells() == {"fog-3", "clear-0"}
    assert Manifest.from_json(store.manifest_path.read_text()) == manifest


def test_read_runs_and_query(run, tmp_path):
    store, manifest = run
    store.write_cell(manifest, "fog-3", make_rows())
    other = RunStore(tmp_path / "runs" / "r2")
    m2 = make_manifest(("clear-0",))
    other.save_manifest(m2)
    other.write_cell(m2, "clear-0", make_rows())
    both = read_runs([store.root, other.root])
    assert set(both["run"]) == {"r1", "r2"}
    out = query(store.root, "SELECT cls, count(*) AS n FROM results WHERE row_type = 'gt' GROUP BY cls ORDER BY cls")
    assert out.to_dict("list") == {"cls": ["pedestrian", "vehicle"], "n": [5, 5]}
    cells = query(store.root, "SELECT cell, weather FROM cells ORDER BY cell")
    assert cells["weather"].tolist() == ["clear", "fog"]
    with pytest.raises(StoreError, match="query failed"):
        query(store.root, "SELECT nope FROM results")


def test_manifest_hash_and_validation():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert make_manifest().config_hash == config_hash({"sweep": {"weather": ["fog", "clear"]}, "seed": 0})
    with pytest.raises(StoreError, match="axis 'cls' clashes with a result column"):
        Manifest(run_id="r", config={}, axes={"cls": "string"}, root_seed=0)
    with pytest.raises(StoreError, match="axis 'w': type 'text'"):
        Manifest(run_id="r", config={}, axes={"w": "text"}, root_seed=0)
    with pytest.raises(StoreError, match="cell id 'a/b'"):
        Manifest(run_id="r", config={}, axes={}, root_seed=0, cells={"a/b": CellRecord(axes={}, seed=0)})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.drop(columns=["distance"]), r"lack column\(s\) \['distance'\]"),
        (lambda df: df.assign(row_type="tp"), "row_type has \\['tp'\\]"),
        (lambda df: df.assign(frame="first"), "do not fit the schema"),
    ],
)
def test_bad_rows_are_refused_and_nothing_is_written(run, mutate, message):
    store, manifest = run
    with pytest.raises(StoreError, match=message):
        store.write_cell(manifest, "fog-3", mutate(make_rows()))
    assert not store.cells_dir.exists() or not any(store.cells_dir.iterdir())


def test_unplanned_cell_is_refused(run):
    store, manifest = run
    with pytest.raises(StoreError, match="not in the run's manifest"):
        store.write_cell(manifest, "snow-5", make_rows())


def test_empty_run_and_missing_manifest(run, tmp_path):
    store, _ = run
    with pytest.raises(StoreError, match="no finished cells"):
        store.read()
    with pytest.raises(StoreError, match="no manifest.json here"):
        RunStore(tmp_path / "nowhere").read()
    store.manifest_path.write_text('{"hello": "world"}')
    with pytest.raises(StoreError, match="manifest.json: not a simtest manifest"):
        store.read()
    store.manifest_path.write_text('{"run_id": "r1", "conf')
    with pytest.raises(StoreError, match="not a simtest manifest"):
        store.load_manifest()


def test_truncated_cell_file_is_refused_with_its_path(run):
    store, manifest = run
    path = store.write_cell(manifest, "fog-3", make_rows())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreError, match=r"fog-3.parquet: not a readable Parquet file") as e:
        store.read()
    assert "resume" in str(e.value)


def test_foreign_parquet_files_are_refused(run):
    store, _ = run
    store.cells_dir.mkdir(parents=True)
    pq.write_table(pa.table({"a": [1, 2]}), store.cells_dir / "fog-3.parquet")
    with pytest.raises(StoreError, match=r"fog-3.parquet: not a simtest result file, missing column"):
        store.read()
    (store.cells_dir / "fog-3.parquet").write_text("not parquet at all")
    with pytest.raises(StoreError, match="not a readable Parquet file"):
        store.read()


def test_wrong_column_types_are_refused(run):
    store, manifest = run
    path = store.write_cell(manifest, "fog-3", make_rows())
    table = pq.read_table(path)
    i = table.column_names.index("cls")
    table = table.set_column(i, pa.field("cls", pa.list_(pa.int64())), pa.array([[1]] * table.num_rows))
    pq.write_table(table, path)
    with pytest.raises(StoreError, match="wrong types"):
        store.read()


WRITER = textwrap.dedent(
    """
    import sys, time
    import pyarrow as pa
    import pyarrow.parquet as pq
    sys.path.insert(0, {tests!r})
    from test_store import make_manifest, make_rows
    from simtest.store import RunStore

    real_write = pq.write_table

    def slow_write(table, where, **kw):
        # Write half of the real bytes, tell the parent, then hang until killed.
        sink = pa.BufferOutputStream()
        real_write(table, sink, **kw)
        data = sink.getvalue().to_pybytes()
        with open(where, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
        print("writing", flush=True)
        time.sleep(60)

    pq.write_table = slow_write
    store = RunStore({root!r})
    store.write_cell(make_manifest(), "fog-3", make_rows(n_frames=200))
    """
)


@pytest.mark.parametrize("has_old_version", [False, True])
def test_writer_killed_mid_write_leaves_no_partial_cell(run, has_old_version):
    store, manifest = run
    if has_old_version:
        store.write_cell(manifest, "fog-3", make_rows(n_frames=3))
    code = WRITER.format(tests=str(Path(__file__).parent), root=str(store.root))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    leftovers = [p.name for p in store.cells_dir.iterdir()]
    assert any(name.endswith(".tmp") for name in leftovers)  # the partial bytes went to a temp file only
    if has_old_version:
        assert store.done_cells() == {"fog-3"}
        back = store.read()
        assert back["frame"].max() == 2  # the old, complete version
    else:
        assert store.done_cells() == set()
        with pytest.raises(StoreError, match="no finished cells"):
            store.read()
