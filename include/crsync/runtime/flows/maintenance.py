"""The ``crsync_maintenance`` DAG's work: delete the XCom files (object storage) of old runs.

The XCom backend (``XComObjectStorageBackend``, apache-airflow-providers-common-io) writes a batch
above the size threshold to ``<xcom_objectstorage_path>/<dag_id>/<run_id>/<task_id>/<uuid>[.gz]``
and keeps only that path in the metadata DB; nothing ever deletes those files. Here a run's files are
deleted when all of these hold:

- the DAG is one of this project's (:data:`PROJECT_DAG_IDS`): other DAGs may share the backend and
  their files are never touched;
- every file of the run was last written before the cutoff (now minus
  ``maintenance.xcom_retention_days``). A run with any newer file (a cleared task that ran again, and
  still reads its upstream tasks' older files) is kept whole;
- Airflow does not list the run as queued or running (asked through the task's execution API, the only
  way a task reaches the metadata DB in Airflow 3).

Only files named as the backend names them are removed, one by one, never a prefix recursively, so a
``s3://...`` base path is as safe as a local folder; empty folders are removed on local file systems
only (object stores have none). Each deleted run is logged with its file count and size.

The metadata DB rows of the same runs are removed by ``airflow db clean`` (``bin/clean-airflow-db``),
which must run outside task code: Airflow 3 blocks database access from tasks (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from crsync.settings import FlowId, load_settings

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

DAG_ID = "crsync_maintenance"
#: The DAGs whose XCom files this project owns (and may delete).
PROJECT_DAG_IDS: tuple[str, ...] = (*(flow.value for flow in FlowId), "crsync_reconciliation", DAG_ID)
#: A UUID plus an optional ``.json`` and compression suffix: the names the backend gives its files
#: (``<uuid4>.gz`` from ``serialize_value`` in common-io 1.11; ``.json[.gz]`` from its ``store_value``).
XCOM_FILE_NAME = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.json)?(\.[a-z0-9]{1,8})?$"
)
ACTIVE_RUN_STATES = ["queued", "running"]
LOCAL_PROTOCOLS = frozenset({"", "file", "local"})


@dataclass
class RunFiles:
    """The backend's files of one DAG run."""

    dag_id: str
    run_id: str
    folder: ObjectStoragePath
    files: list[ObjectStoragePath] = field(default_factory=list)
    size: int = 0
    newest: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.dag_id}/{self.run_id}"


def xcom_base_path() -> ObjectStoragePath | None:
    """The configured object-storage XCom folder, or None when XComs do not go to object storage."""
    from airflow.sdk import ObjectStoragePath, conf

    backend = conf.get("core", "xcom_backend", fallback="") or ""
    path = conf.get("common.io", "xcom_objectstorage_path", fallback="") or ""
    if "XComObjectStorageBackend" not in backend or not path.strip():
        return None
    return ObjectStoragePath(path.strip())


def scan_runs(base: ObjectStoragePath, dag_ids: Iterable[str]) -> Iterator[RunFiles]:
    """Every ``<dag_id>/<run_id>`` folder under ``base`` with the backend's files in it."""
    for dag_id in dag_ids:
        dag_folder = base / dag_id
        if not dag_folder.is_dir():
            continue
        for run_folder in dag_folder.iterdir():
            if not run_folder.is_dir():
                continue
            run = RunFiles(dag_id, run_folder.name, run_folder)
            for task_folder in run_folder.iterdir():
                if not task_folder.is_dir():
                    continue
                for path in task_folder.iterdir():
                    if XCOM_FILE_NAME.match(path.name) and path.is_file():
                        stat = path.stat()
                        run.files.append(path)
                        run.size += int(stat.st_size or 0)
                        run.newest = max(run.newest, float(stat.st_mtime))
            if run.files:
                yield run


def purge_old_runs(
    base: ObjectStoragePath,
    cutoff: datetime,
    *,
    dag_ids: Iterable[str] = PROJECT_DAG_IDS,
    is_active: Any = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Delete the files of the runs last written before ``cutoff`` (see the module docstring).

    :param is_active: ``(dag_id, run_ids) -> set of run ids queued or running``; None = none are.
    :return: what was deleted (run names, file and byte counts) and how many runs were kept.
    """
    old: list[RunFiles] = []
    kept = 0
    for run in scan_runs(base, dag_ids):
        if run.newest < cutoff.timestamp():
            old.append(run)
        else:
            kept += 1
    active: set[tuple[str, str]] = set()
    if is_active is not None:
        by_dag: dict[str, list[str]] = {}
        for run in old:
            by_dag.setdefault(run.dag_id, []).append(run.run_id)
        for dag_id, run_ids in by_dag.items():
            active |= {(dag_id, run_id) for run_id in is_active(dag_id, run_ids)}
    deleted: list[str] = []
    files = size = 0
    local = getattr(base, "protocol", "") in LOCAL_PROTOCOLS
    verb = "Would delete" if dry_run else "Deleted"
    for run in old:
        if (run.dag_id, run.run_id) in active:
            log.info("Kept %s: files older than the cutoff but the run is still queued or running", run.name)
            kept += 1
            continue
        if not dry_run:
            for path in run.files:
                path.unlink(missing_ok=True)
            if local:
                _remove_empty_folders(run.folder)
        deleted.append(run.name)
        files += len(run.files)
        size += run.size
        last = datetime.fromtimestamp(run.newest, UTC).isoformat(timespec="seconds")
        log.info("%s %s file(s), %s bytes, of run %s (last written %s)", verb, len(run.files), run.size, run.name, last)
    log.info(
        "%s %s XCom file(s) (%s bytes) of %s run(s) last written before %s under %s; kept %s run(s)",
        verb,
        files,
        size,
        len(deleted),
        cutoff.isoformat(timespec="seconds"),
        base,
        kept,
    )
    return {
        "cutoff": cutoff.isoformat(timespec="seconds"),
        "dry_run": dry_run,
        "deleted_runs": deleted,
        "deleted_files": files,
        "deleted_bytes": size,
        "kept_runs": kept,
    }


def _remove_empty_folders(run_folder: ObjectStoragePath) -> None:
    """Remove the run's task folders and the run folder when empty (local file systems only)."""
    for task_folder in list(run_folder.iterdir()):
        with contextlib.suppress(OSError):
            if task_folder.is_dir() and not any(task_folder.iterdir()):
                task_folder.rmdir()
    with contextlib.suppress(OSError):
        if not any(run_folder.iterdir()):
            run_folder.rmdir()


def purge_xcom_files(context: Mapping[str, Any]) -> dict[str, Any]:
    """The ``purge_xcom_files`` task: retention from the settings, active runs from Airflow."""
    retention_days = load_settings().maintenance.xcom_retention_days
    dry_run = bool(context["params"].get("dry_run"))
    base = xcom_base_path()
    if base is None:
        log.info("XComs are not in object storage ([core] xcom_backend): no files to delete")
        return {"deleted_runs": [], "deleted_files": 0, "deleted_bytes": 0, "kept_runs": 0, "dry_run": dry_run}
    ti = context["ti"]

    def is_active(dag_id: str, run_ids: list[str]) -> set[str]:
        if not ti.get_dr_count(dag_id=dag_id, run_ids=run_ids, states=ACTIVE_RUN_STATES):
            return set()
        return {r for r in run_ids if ti.get_dr_count(dag_id=dag_id, run_ids=[r], states=ACTIVE_RUN_STATES)}

    cutoff = datetime.now(UTC) - timedelta(days=retention_days)
    log.info("Retention %s day(s) (maintenance.xcom_retention_days): cutoff %s", retention_days, cutoff)
    summary = purge_old_runs(base, cutoff, is_active=is_active, dry_run=dry_run)
    return {"retention_days": retention_days, **summary}
