"""Benchmark: the bulk ZIP of a quarter's accepted service returns, made as production makes it: the
job queued on Redis and run by a real RQ worker (burst mode), on a database seeded by bench/scale.py.

    .venv/bin/python bench/returns_zip.py --database-url URL [--period 2026-Q2]
        [--redis redis://127.0.0.1:6379/13] [--email contracts@scale.example]

Without --period it takes the quarter with the most accepted returns. A quarter holds a return per
contract whatever the referrals (their figures are frozen when submitted), so a database seeded with
40 partners holds a national-scale quarter. Reports the wall time, the time per PDF, the progress
steps the status page saw, the ZIP's size, the process's peak resident memory and its resident
memory after the first, middle and last PDF (flat: the job holds one PDF at a time). With
--tracemalloc it runs the job again under tracemalloc (several times slower, so not timed) for
Python's own peak allocation and the memory it holds after those PDFs.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a database seeded by bench/scale.py")
    parser.add_argument("--period", default="", help="a quarter such as 2026-Q2 (default: the fullest)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13", help="a Redis database of your own")
    parser.add_argument("--email", default="contracts@scale.example", help="the contract manager")
    parser.add_argument("--tracemalloc", action="store_true", help="a second run, under tracemalloc")
    args = parser.parse_args(argv)
    storage = tempfile.mkdtemp(prefix="returns-zip-")
    os.environ.update(PORTAL_ENV="test", TEST_DATABASE_URL=args.database_url, LOG_LEVEL="WARNING")

    from redis import Redis
    from rq import SimpleWorker
    from sqlalchemy import func, select

    from portal import create_app, jobs
    from portal.accounts.models import User
    from portal.extensions import db
    from portal.returns import bulk
    from portal.returns.models import ReturnStatus, ServiceReturn

    queue = f"returns-zip-bench-{os.getpid()}"
    app = create_app("test")
    app.config.update(JOBS_BACKEND="rq", REDIS_URL=args.redis, JOBS_QUEUE=queue, STORAGE_DIR=storage)
    connection = Redis.from_url(args.redis)
    with app.app_context():
        user = db.session.scalars(select(User).where(User.email == args.email)).one()
        period = args.period or fullest_quarter(db, func, select, ServiceReturn, ReturnStatus)
        expected = len(bulk.accepted_returns(user, period))
        user_id = user.id
        db.session.remove()
    print(f"Bulk ZIP of {period}: {expected} accepted returns, as {args.email}, on {args.database_url}")
    print(f"load average before: {load_average()}")

    def one_run(watch: Any) -> tuple[float, Any]:
        """Queue the job as the page does, then let a real worker run it; `watch` sees each step."""
        steps: list[Any] = []
        report = bulk.report_progress

        def reported(done: int, total: int, message: str = "") -> None:
            report(done, total, message)
            steps.append((done, total, watch()))

        bulk.report_progress = reported  # type: ignore[assignment]
        try:
            with app.app_context():
                state = jobs.start_job("returns_zip", "portal.returns.bulk:run", user_id, period, owner_id=user_id)
            started = time.perf_counter()
            with app.app_context():
                SimpleWorker([queue], connection=connection).work(burst=True)
                seconds = time.perf_counter() - started
                final = jobs.job_status(state.id)
        finally:
            bulk.report_progress = report  # type: ignore[assignment]
        assert final is not None and final.status == "finished", final
        return seconds, (final, steps)

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds, (final, steps) = one_run(resident)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    path = Path(storage) / "exports" / final.result["file"]
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pdf_bytes = sum(info.file_size for info in archive.infolist())
    assert len(names) == expected == final.result["count"], (len(names), expected)
    print(f"load average after: {load_average()}")
    print("| measure | value |\n|---|---:|")
    print(f"| accepted returns in the ZIP | {len(names)} |")
    print(f"| wall time, queued job through the RQ worker | {seconds:.1f} s |")
    print(f"| per PDF | {seconds / max(1, len(names)):.2f} s |")
    first, last = steps[0], steps[-1]
    print(f"| progress steps the status page could read | {len(steps)} ({first[0]}/{first[1]} … {last[0]}/{last[1]}) |")
    print(f"| ZIP size (PDFs uncompressed) | {path.stat().st_size / MB:.1f} MB ({pdf_bytes / MB:.1f} MB) |")
    rss = f"{rss_before / 1024:.0f} → {rss_after / 1024:.0f} MB"
    print(f"| peak resident memory of the process (before the job → after) | {rss} |")
    print(f"| resident memory after PDF {at_pdfs(steps)} |")
    if not args.tracemalloc:
        connection.delete(f"rq:queue:{queue}")
        return 0

    tracemalloc.start()
    _, (final, steps) = one_run(lambda: tracemalloc.get_traced_memory()[0])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"| Python memory held (tracemalloc) after PDF {at_pdfs(steps)} |")
    print(f"| Python peak allocation over the job (tracemalloc) | {peak / MB:.1f} MB |")
    connection.delete(f"rq:queue:{queue}")
    return 0


def fullest_quarter(db: Any, func: Any, select: Any, ServiceReturn: Any, ReturnStatus: Any) -> str:  # noqa: N803
    from portal.dates import Period, PeriodKind

    start = db.session.execute(
        select(ServiceReturn.period_start)
        .where(ServiceReturn.status == ReturnStatus.ACCEPTED, ServiceReturn.period_kind == PeriodKind.QUARTER)
        .group_by(ServiceReturn.period_start)
        .order_by(func.count().desc(), ServiceReturn.period_start.desc())
        .limit(1)
    ).scalar_one()
    return Period(PeriodKind.QUARTER, start).code


def resident() -> int:
    """This process's resident memory now, in bytes (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


def at_pdfs(steps: list[Any]) -> str:
    """ "1, 23 and 45 | 180, 181 and 181 MB": memory after the first, middle and last PDF."""
    held = [(done, memory) for done, _, memory in steps if done]
    if not held:
        return "– | –"
    picked = [held[0], held[len(held) // 2], held[-1]]
    return (
        f"{picked[0][0]}, {picked[1][0]} and {picked[2][0]} | "
        + ", ".join(f"{memory / MB:.1f}" for _, memory in picked[:2])
        + f" and {picked[2][1] / MB:.1f} MB"
    )


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    raise SystemExit(main())
