"""Parquet files whose images are embedded, typed as ``datasets`` features.

The Arrow schema comes from ``datasets.Features`` (``features.arrow_schema`` carries them in the
file's ``huggingface`` metadata), so ``datasets.load_dataset("parquet", ...)`` decodes the
``images`` column to PIL images and the file loads from any working directory. Rows are written in
row groups of ``batch_rows``; memory holds one group.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vlmforge.errors import ConfigError

INSTALL_HINT = "embed_images = true needs the datasets package: pip install 'vlmforge[train]'."


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise ConfigError(f"exporter_options.embed_images: {INSTALL_HINT}") from None
    return datasets


def trl_features(columns: tuple[str, ...]) -> Any:
    """Features of TRL rows: the message columns named in ``columns`` (lists of {role, content:
    [{type, text}]}), ``images`` (a list of embedded images) and ``metadata`` (a JSON string)."""
    ds = _datasets()
    part = {"type": ds.Value("string"), "text": ds.Value("string")}
    message = {"role": ds.Value("string"), "content": [part]}
    spec: dict[str, Any] = {name: [message] for name in columns}
    spec["images"] = [ds.Image()]
    spec["metadata"] = ds.Value("string")
    return ds.Features(spec)


class ParquetRows:
    """Rows appended to one Parquet file with a fixed ``datasets`` schema, counted."""

    def __init__(self, path: Path, features: Any, batch_rows: int = 64):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path, self.features, self.rows = path, features, 0
        self._pa = pa
        self._schema = features.arrow_schema
        self._writer = pq.ParquetWriter(path, self._schema)
        self._batch: list[dict[str, Any]] = []
        self._batch_rows = batch_rows

    def write(self, row: dict[str, Any]) -> None:
        self._batch.append(self.features.encode_example(row))
        self.rows += 1
        if len(self._batch) >= self._batch_rows:
            self._flush()

    def _flush(self) -> None:
        if self._batch:
            table = self._pa.Table.from_pylist(self._batch, schema=self._schema)
            self._writer.write_table(table)
            self._batch = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
