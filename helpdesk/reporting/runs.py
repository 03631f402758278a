"""Actualizar ahora: enqueue the refresh job once and read its progress back."""

from __future__ import annotations

from rq.exceptions import NoSuchJobError
from rq.job import Job

from ..extensions import get_queue, get_redis

JOB_ID = "reports-refresh-now"


def refresh_now() -> str:
    """Enqueue the incremental refresh on the reports queue (one at a time); its job id."""
    queue = get_queue("reports")
    try:
        job = Job.fetch(JOB_ID, connection=get_redis(), serializer=queue.serializer)
        if job.get_status(refresh=True) in ("queued", "started"):
            return JOB_ID
        job.delete()
    except NoSuchJobError:
        pass
    queue.enqueue("helpdesk.jobs.refresh_reports", job_id=JOB_ID, result_ttl=3600)
    return JOB_ID


def job_progress(job_id: str) -> dict:
    """status (queued/started/finished/failed/unknown), done and total tickets."""
    if job_id != JOB_ID:
        return {"status": "unknown"}
    queue = get_queue("reports")
    try:
        job = Job.fetch(job_id, connection=get_redis(), serializer=queue.serializer)
    except NoSuchJobError:
        return {"status": "unknown"}
    meta = job.get_meta(refresh=True)
    status = job.get_status(refresh=True)
    return {"status": getattr(status, "value", status) or "unknown",
            "done": meta.get("done", 0), "total": meta.get("total", 0)}


def report_progress(done: int, total: int) -> None:
    """Store progress on the rq job running now (nothing outside a job)."""
    from rq import get_current_job

    job = get_current_job()
    if job is not None:
        job.meta.update(done=done, total=total)
        job.save_meta()
