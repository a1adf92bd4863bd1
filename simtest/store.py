"""Results store: one Parquet file per cell plus a JSON manifest per run.

Layout::

    runs/<run>/manifest.json          run config, hashes, versions, per-cell status
    runs/<run>/cells/<cell>.parquet   result rows of one cell (written atomically)

Rows follow :data:`RESULT_SCHEMA`: one row per ground-truth object per frame
(``row_type == "gt"``) and one row per false positive (``row_type == "fp"``),
tagged with the cell's axis values (extra columns, typed by the manifest's
``axes``). Everything downstream is a query over these rows.

Every write goes to a temporary file in the same folder, is fsynced and then
renamed, so a killed writer leaves either the old file or the new one, never a
partial one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import simtest

RESULT_SCHEMA = pa.schema(
    [
        pa.field("cell", pa.string(), nullable=False),
        pa.field("episode", pa.int32(), nullable=False),
        pa.field("frame", pa.int32(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("timestamp", pa.float64(), nullable=False),
        pa.field("row_type", pa.string(), nullable=False),  # "gt" | "fp"
        pa.field("object_id", pa.int64(), nullable=False),  # -1 for false positives
        pa.field("cls", pa.string(), nullable=False),
        pa.field("detected", pa.bool_()),  # gt rows: matched at the operating point; null for fp
        pa.field("score", pa.float32()),  # matched (gt) or false-positive score; null when missed
        pa.field("best_score", pa.float32()),  # highest same-class score within the match gate, any threshold
        pa.field("center_error", pa.float32()),  # BEV centre distance to the matched box (m)
        pa.field("bev_iou", pa.float32()),  # BEV IoU with the matched box
        pa.field("x", pa.float32(), nullable=False),  # ego-frame position of the gt (or fp) box
        pa.field("y", pa.float32(), nullable=False),
        pa.field("distance", pa.float32(), nullable=False),  # BEV distance from the ego origin (m)
        pa.field("visible_fraction", pa.float32()),  # null for fp
        pa.field("lidar_points", pa.int32()),  # null for fp
        pa.field("in_path", pa.bool_(), nullable=False),
        pa.field("critical", pa.bool_(), nullable=False),
        pa.field("ego_speed", pa.float32(), nullable=False),  # m/s
    ]
)
"""Fixed columns of every result row; axis columns follow them."""

RESERVED = frozenset(RESULT_SCHEMA.names) | {"run"}
AXIS_TYPES = {"float": pa.float64(), "int": pa.int64(), "string": pa.string(), "bool": pa.bool_()}
CELL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=,+-]{0,199}$")
MANIFEST = "manifest.json"


class StoreError(ValueError):
    """A run folder or file that cannot be used; the message names the path and the fix."""


# ---------------------------------------------------------------------------
# atomic file helpers
# ---------------------------------------------------------------------------


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a fsynced temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_table(path: Path, table: pa.Table) -> None:
    """Write a Parquet file atomically (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


# ---------------------------------------------------------------------------
# manifest
# ---------------------------------------------------------------------------


def config_hash(config: Mapping[str, Any]) -> str:
    """Stable sha256 of a JSON-able config (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def git_commit(path: Path | None = None) -> str | None:
    """The git commit of the source tree simtest runs from, or None outside a checkout."""
    where = path or Path(simtest.__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class CellRecord:
    """Status of one cell: ``pending``, ``running``, ``done`` or ``failed``."""

    axes: dict[str, Any]
    seed: int
    weight: float = 1.0
    status: str = "pending"
    start: str | None = None
    end: str | None = None
    attempts: int = 0
    rows: int = 0
    error: str | None = None


@dataclass
class Manifest:
    """What a run was, so that it can be reproduced and resumed."""

    run_id: str
    config: dict[str, Any]
    axes: dict[str, str]  # axis name -> "float" | "int" | "string" | "bool"
    root_seed: int
    model: dict[str, Any] = field(default_factory=dict)  # name, version, hash
    config_hash: str = ""
    simtest_version: str = simtest.__version__
    git_commit: str | None = None
    created: str = field(default_factory=_now)
    cells: dict[str, CellRecord] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.config_hash:
            self.config_hash = config_hash(self.config)
        for name, kind in self.axes.items():
            if name in RESERVED:
                raise StoreError(f"axis {name!r} clashes with a result column; rename the sweep axis")
            if kind not in AXIS_TYPES:
                raise StoreError(f"axis {name!r}: type {kind!r} is not one of {sorted(AXIS_TYPES)}")
        for key in self.cells:
            check_cell_id(key)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False, default=str)

    @classmethod
    def from_json(cls, text: str, *, where: str = MANIFEST) -> Manifest:
        try:
            data = json.loads(text)
            cells = {k: CellRecord(**v) for k, v in data.pop("cells", {}).items()}
            return cls(**data, cells=cells)
        except (json.JSONDecodeError, TypeError) as e:
            raise StoreError(f"{where}: not a simtest manifest ({e}); was it written by another tool or truncated?") from None


def check_cell_id(cell: str) -> str:
    if not isinstance(cell, str) or not CELL_ID.match(cell):
        raise StoreError(
            f"cell id {cell!r}: use 1-200 characters of letters, digits and . _ = , + - (no slashes or spaces)"
        )
    return cell


def axis_type_of(values: Iterable[Any]) -> str:
    """The store type for an axis taking ``values``: bool, int, float or string."""
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, bool) for v in vals):
        return "bool"
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "int"
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return "float"
    return "string"


# ---------------------------------------------------------------------------
# the run folder
# ---------------------------------------------------------------------------


class RunStore:
    """Reads and writes one run folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @property
    def cells_dir(self) -> Path:
        return self.root / "cells"

    def cell_path(self, cell: str) -> Path:
        return self.cells_dir / f"{check_cell_id(cell)}.parquet"

    # -- manifest -----------------------------------------------------------

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def load_manifest(self) -> Manifest:
        if not self.manifest_path.is_file():
            raise StoreError(
                f"{self.root}: no {MANIFEST} here; is this a simtest run folder (runs/<run>)? "
                "Run a sweep first or point at the folder that holds manifest.json"
            )
        return Manifest.from_json(self.manifest_path.read_text(), where=str(self.manifest_path))

    def save_manifest(self, manifest: Manifest) -> None:
        atomic_write_bytes(self.manifest_path, manifest.to_json().encode())

    # -- cells --------------------------------------------------------------

    def write_cell(self, manifest: Manifest, cell: str, rows: pd.DataFrame | pa.Table) -> Path:
        """Validate and atomically write the rows of one cell; returns the file path.

        ``rows`` holds the fixed columns of :data:`RESULT_SCHEMA` (``cell`` may be
        omitted); the cell's axis values from the manifest are added as columns.
        """
        if cell not in manifest.cells:
            raise StoreError(f"cell {cell!r} is not in the run's manifest; plan it before writing")
        table = to_result_table(rows, cell=cell, axes=manifest.cells[cell].axes, axis_types=manifest.axes)
        path = self.cell_path(cell)
        atomic_write_table(path, table)
        return path

    def done_cells(self) -> set[str]:
        """Cells whose file exists (the file is the proof of completion)."""
        if not self.cells_dir.is_dir():
            return set()
        return {p.stem for p in self.cells_dir.glob("*.parquet") if not p.name.startswith(".")}

    def cell_files(self) -> list[Path]:
        if not self.cells_dir.is_dir():
            return []
        return sorted(p for p in self.cells_dir.glob("*.parquet") if not p.name.startswith("."))

    def read(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """All result rows of the run as one DataFrame (raises on an empty or foreign run)."""
        manifest = self.load_manifest()
        files = self.cell_files()
        if not files:
            raise StoreError(f"{self.root}: the run has no finished cells in {self.cells_dir}; nothing to evaluate")
        schema = result_schema(manifest.axes)
        tables = [read_cell_file(p, schema, columns) for p in files]
        return pa.concat_tables(tables).to_pandas()


def result_schema(axis_types: Mapping[str, str]) -> pa.Schema:
    """The full schema of a run: fixed columns, then its axes in manifest order."""
    return pa.schema(list(RESULT_SCHEMA) + [pa.field(n, AXIS_TYPES[t]) for n, t in axis_types.items()])


def to_result_table(
    rows: pd.DataFrame | pa.Table,
    *,
    cell: str,
    axes: Mapping[str, Any],
    axis_types: Mapping[str, str],
) -> pa.Table:
    """Check rows against :data:`RESULT_SCHEMA` and add the cell id and axis columns."""
    df = rows.to_pandas() if isinstance(rows, pa.Table) else rows.copy()
    df["cell"] = cell
    missing_axes = set(axis_types) - set(axes)
    if missing_axes:
        raise StoreError(f"cell {cell!r}: no value for axes {sorted(missing_axes)}")
    for name in axis_types:
        df[name] = axes[name]
    missing = [n for n in RESULT_SCHEMA.names if n not in df.columns]
    if missing:
        raise StoreError(f"cell {cell!r}: result rows lack column(s) {missing}")
    schema = result_schema(axis_types)
    try:
        table = pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as e:
        raise StoreError(f"cell {cell!r}: result rows do not fit the schema: {e}") from None
    bad = set(df["row_type"].unique()) - {"gt", "fp"}
    if bad:
        raise StoreError(f"cell {cell!r}: column row_type has {sorted(bad)}; expected 'gt' or 'fp'")
    return table


def read_cell_file(path: Path, schema: pa.Schema, columns: Sequence[str] | None = None) -> pa.Table:
    """Read one cell file, checking it is a complete simtest result file."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise StoreError(f"{path}: not a readable Parquet file ({e}); delete it and resume the run to redo the cell") from None
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise StoreError(f"{path}: not a simtest result file, missing column(s) {missing}")
    try:
        table = table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError) as e:
        raise StoreError(f"{path}: columns have the wrong types for this run ({e})") from None
    return table.select(list(columns)) if columns is not None else table


def read_runs(runs: Iterable[str | os.PathLike[str]]) -> pd.DataFrame:
    """Rows of several runs with a ``run`` column (the run folder name)."""
    frames = []
    for r in runs:
        df = RunStore(r).read()
        df.insert(0, "run", Path(r).name)
        frames.append(df)
    if not frames:
        raise StoreError("no runs given")
    return pd.concat(frames, ignore_index=True)


def query(run_dir: str | os.PathLike[str], sql: str) -> pd.DataFrame:
    """Run DuckDB SQL over a run. Views: ``results`` (all rows) and ``cells`` (manifest)."""
    import duckdb

    store = RunStore(run_dir)
    manifest = store.load_manifest()
    files = store.cell_files()
    if not files:
        raise StoreError(f"{store.root}: the run has no finished cells to query")
    con = duckdb.connect()
    try:
        file_list = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
        con.execute(f"CREATE VIEW results AS SELECT * FROM read_parquet([{file_list}], union_by_name=true)")
        cells = pd.DataFrame(
            [{"cell": k, **{f: v for f, v in asdict(c).items() if f != "axes"}, **c.axes} for k, c in manifest.cells.items()]
        )
        con.register("cells", cells)
        try:
            return con.execute(sql).df()
        except duckdb.Error as e:
            raise StoreError(f"query failed: {e}") from None
    finally:
        con.close()
