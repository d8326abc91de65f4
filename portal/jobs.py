"""Background jobs with progress: RQ on Redis when configured, otherwise a thread in this process.

A job is a plain function given by its dotted name ("portal.referrals.bulk_import:run"). While
it runs it calls `report_progress(done, total)`; pages poll `job_status(id)` to draw a progress
bar. JOBS_BACKEND chooses the runner: "rq" (production, with `flask jobs worker`), "thread"
(development) or "sync" (tests: the job runs before `start_job` returns).
"""

from __future__ import annotations

import importlib
import logging
import threading
import uuid
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

import click
from flask import Flask, current_app

log = logging.getLogger(__name__)


@dataclass
class JobState:
    id: str
    kind: str
    owner_id: int | None
    status: str = "queued"  # queued, running, finished, failed
    done: int = 0
    total: int = 0
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def percent(self) -> int:
        return 100 if self.status == "finished" else int(100 * self.done / self.total) if self.total else 0

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("owner_id")
        data["percent"] = self.percent
        return data


_local_states: dict[str, JobState] = {}
_local_lock = threading.Lock()
_current: ContextVar[JobState | None] = ContextVar("current_job", default=None)


def _backend(app: Flask) -> str:
    return app.config.get("JOBS_BACKEND") or ("rq" if app.config.get("REDIS_URL") else "thread")


def _queue(app: Flask) -> str:
    return app.config.get("JOBS_QUEUE") or "portal"


def _redis(app: Flask) -> Any:
    from redis import Redis

    return Redis.from_url(app.config["REDIS_URL"])


def _save(state: JobState) -> None:
    """Remember a job's state where pages can read it: Redis for RQ jobs, memory otherwise."""
    backend = _backend(current_app)
    if backend == "rq":
        import json

        _redis(current_app).set(f"portal:job:{state.id}", json.dumps(asdict(state)), ex=7 * 24 * 3600)
    else:
        with _local_lock:
            _local_states[state.id] = JobState(**asdict(state))


def job_status(job_id: str) -> JobState | None:
    if _backend(current_app) == "rq":
        import json

        raw = _redis(current_app).get(f"portal:job:{job_id}")
        return JobState(**json.loads(raw)) if raw else None
    with _local_lock:
        state = _local_states.get(job_id)
        return JobState(**asdict(state)) if state else None


def report_progress(done: int, total: int, message: str = "") -> None:
    """Called by a running job; cheap enough to call every few rows."""
    state = _current.get()
    if state is None:
        return
    state.done, state.total = done, total
    if message:
        state.message = message
    _save(state)


def _resolve(target: str) -> Any:
    module_name, _, function_name = target.partition(":")
    return getattr(importlib.import_module(module_name), function_name)


def _execute(state: JobState, target: str, args: tuple[Any, ...]) -> None:
    """Run the job inside an app context, recording how it ended."""
    from portal.extensions import db

    token = _current.set(state)
    state.status = "running"
    _save(state)
    try:
        state.result = _resolve(target)(*args) or {}
        state.status = "finished"
        state.message = state.message or "Finished"
    except Exception as error:
        db.session.rollback()
        log.exception("job %s (%s) failed", state.id, state.kind)
        state.status = "failed"
        state.error = getattr(error, "message", None) or "The job failed. Nothing was saved."
    finally:
        db.session.remove()
        _save(state)
        _current.reset(token)


def _run_in_app(app: Flask, state: JobState, target: str, args: tuple[Any, ...]) -> None:
    with app.app_context():
        _execute(state, target, args)


def run_rq_job(job_id: str, kind: str, owner_id: int | None, target: str, args: tuple[Any, ...]) -> None:
    """What the RQ worker runs: a fresh app context per job."""
    from portal import create_app

    app = current_app._get_current_object() if current_app else create_app()
    with app.app_context():
        _execute(JobState(id=job_id, kind=kind, owner_id=owner_id), target, args)


def start_job(kind: str, target: str, *args: Any, owner_id: int | None = None) -> JobState:
    """Start `target(*args)` in the background; returns its state (for its id)."""
    state = JobState(id=uuid.uuid4().hex, kind=kind, owner_id=owner_id)
    app = current_app._get_current_object()
    backend = _backend(app)
    _save(state)
    if backend == "sync":
        # Its own app context, so its own database session, as in a worker.
        _run_in_app(app, state, target, args)
    elif backend == "thread":
        threading.Thread(
            target=_run_in_app, args=(app, state, target, args), daemon=True, name=f"job-{kind}-{state.id[:8]}"
        ).start()
    else:
        from rq import Queue

        Queue(_queue(app), connection=_redis(app)).enqueue(
            run_rq_job, state.id, kind, owner_id, target, args, job_id=state.id, job_timeout=3600
        )
    return state


@click.group("jobs", help="Background jobs.")
def jobs_cli() -> None:
    pass


@jobs_cli.command("worker", help="Run an RQ worker for the portal's queue (JOBS_QUEUE; needs REDIS_URL).")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then stop (for cron, or a test).")
def worker(burst: bool) -> None:
    from rq import Worker

    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: jobs run in the web process instead")
    Worker([_queue(current_app)], connection=_redis(current_app)).work(burst=burst)
