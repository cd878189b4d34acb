"""Load `results/calls/*.json` into the store: idempotent, bad files reported by name."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..i18n import t
from ..privacy import RedactOptions, redact_result_json
from .db import ResultFileError, Store, import_reason, open_store, result_hash


@dataclass
class ImportReport:
    imported: int = 0  # new or changed calls written
    unchanged: int = 0  # files whose content was already stored
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file name, error)

    @property
    def total(self) -> int:
        return self.imported + self.unchanged + len(self.failed)


def import_results(
    results_dir: Path,
    db_path: Path | str | None = None,
    *,
    store: Store | None = None,
    batch_size: int = 200,
    redact: RedactOptions | None = None,
) -> ImportReport:
    """Import every `results_dir/calls/*.json` into the DB at `db_path`, a SQLite file or a database URL
    (default `<results_dir>/callqa.db`).

    Files are written `batch_size` per transaction with a SAVEPOINT per call: each call is
    stored completely or not at all, and a bad file does not stop the others."""
    results_dir = Path(results_dir)
    own = store is None
    if store is None:
        store = open_store(db_path if db_path else results_dir / "callqa.db")
    report = ImportReport()
    try:
        parsed: list[tuple[str, dict, str]] = []

        def flush() -> None:
            # the stored hashes of this chunk's calls only (an import costs what it imports, not the archive's
            # size); batches written before are committed, so a file repeated later in the run is unchanged
            known = store.source_hashes(data["call_id"] for _, data, _ in parsed)
            batch = []
            for name, data, h in parsed:
                if known.get(data["call_id"]) == h:
                    report.unchanged += 1
                    continue
                # a result written without redaction is redacted before it enters the database and its index
                batch.append((name, redact_result_json(data, redact), h))
            parsed.clear()
            if batch:
                failed = store.upsert_batch(batch)
                report.failed.extend(failed)
                report.imported += len(batch) - len(failed)

        for path in sorted((results_dir / "calls").glob("*.json")):
            try:
                with open(path, encoding="utf-8") as fh:
                    data = json.load(fh)
                if not isinstance(data, dict) or not data.get("call_id"):
                    raise ResultFileError(t("store.import.not_a_result"))
                if data.get("schema_version", 1) != 1:
                    raise ResultFileError(t("store.import.schema", version=data.get("schema_version")))
                h = result_hash(data)
            except Exception as exc:  # noqa: BLE001 - report and carry on
                report.failed.append((path.name, import_reason(exc)))
                continue
            parsed.append((path.name, data, h))
            if len(parsed) >= batch_size:
                flush()
        if parsed:
            flush()
        merge = getattr(store.fts, "merge_pending", None)  # PostgreSQL: the GIN pending list, searched linearly
        if merge is not None and report.imported:
            merge(store.engine)
    finally:
        if own:
            store.close()
    return report
