"""The import page (admins): upload a spreadsheet, check and edit its column mapping, read
the dry run, then import with a progress bar fed by a status endpoint. The work is
`server.importer`'s; an upload lives in this process until its import ends."""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.errors import NotFound
from server.importer import (
    TARGETS,
    Importer,
    ImportFileError,
    Plan,
    Progress,
    column_letter,
    read_file,
)
from server.services import services_of

from .auth import Viewer, check_csrf, language, viewer
from .web import page, render, see_other

log = logging.getLogger(__name__)

MAX_UPLOAD = 50 * 1024 * 1024
SHOWN_ROWS = 200  # of the dry run's table; refused rows are always shown (up to MAX_REFUSED)
MAX_REFUSED = 1000
KEEP_JOBS = 8


@dataclass
class Job:
    id: str
    admin_id: str
    plan: Plan
    progress: Progress | None = None
    task: asyncio.Task[None] | None = None
    errors: list[str] = field(default_factory=list)


def _jobs(request: Request) -> dict[str, Job]:
    jobs: dict[str, Job] | None = getattr(request.app.state, "imports", None)
    if jobs is None:
        jobs = {}
        request.app.state.imports = jobs
    return jobs


async def _admin(request: Request) -> Viewer:
    v = await viewer(request)
    v.require_admin()
    return v


def _job(request: Request, v: Viewer) -> Job:
    job = _jobs(request).get(request.path_params["job"])
    if job is None or job.admin_id != v.user.id:
        raise NotFound("no such import (uploads are kept until the server restarts)")
    return job


def _problem_text(e: ImportFileError, lang: str) -> str:
    return e.message_zh if lang == "zh" else e.message


@page
async def import_page(request: Request) -> Response:
    await _admin(request)
    return await render(request, "import.html", {"job": None, "error": ""})


@page
async def import_upload(request: Request) -> Response:
    v = await _admin(request)
    await check_csrf(request)
    form = await request.form()
    upload = form.get("file")
    on_match = str(form.get("on_match") or "merge")
    lang = language(request)
    if not isinstance(upload, UploadFile) or not upload.filename:
        await form.close()
        return await render(request, "import.html", {"job": None, "error": (
            "请选择要导入的 Excel (.xlsx) 或 CSV 文件" if lang == "zh"
            else "choose an Excel (.xlsx) or CSV file to import")}, status=400)
    try:
        data = await upload.read(MAX_UPLOAD + 1)
    finally:
        await form.close()  # the spooled temporary file
    try:
        if len(data) > MAX_UPLOAD:
            raise ImportFileError(f"the file is larger than {MAX_UPLOAD // 2**20} MB",
                                  f"文件超过 {MAX_UPLOAD // 2**20} MB")
        sheet = await asyncio.to_thread(read_file, upload.filename, data)
        importer = Importer(services_of(request).edits)
        plan = await importer.plan(sheet, await importer.mapping_for(sheet), on_match)
    except ImportFileError as e:
        return await render(request, "import.html",
                            {"job": None, "error": _problem_text(e, lang)}, status=422)
    jobs = _jobs(request)
    for old in list(jobs)[:max(0, len(jobs) - KEEP_JOBS + 1)]:
        task = jobs[old].task
        if task is None or task.done():
            del jobs[old]
    job = Job(secrets.token_urlsafe(12), v.user.id, plan)
    jobs[job.id] = job
    return see_other(request, f"/import/{job.id}")


@page
async def job_page(request: Request) -> Response:
    v = await _admin(request)
    job = _job(request, v)
    return await _show(request, job, "")


async def _show(request: Request, job: Job, error: str, status: int = 200) -> Response:
    plan = job.plan
    refused = plan.refused[:MAX_REFUSED]
    shown = [r for r in plan.rows[:SHOWN_ROWS] if r.action != "refuse"]
    return await render(request, "import.html", {
        "job": job, "plan": plan, "error": error, "targets": TARGETS,
        "columns": [(i, column_letter(i), h, plan.mapping.get(i, ""))
                    for i, h in enumerate(plan.sheet.headers)],
        "counts": {a: plan.count(a) for a in
                   ("create", "merge", "skip", "unchanged", "contact", "refuse")},
        "refused": refused, "shown": shown, "shown_limit": SHOWN_ROWS,
    }, status=status)


@page
async def job_mapping(request: Request) -> Response:
    """The mapping as the admin edited it: the dry run again."""
    v = await _admin(request)
    job = _job(request, v)
    form = await check_csrf(request)
    if job.task is not None:
        return await _show(request, job, "", 409)
    mapping = {}
    for i in range(len(job.plan.sheet.headers)):
        target = form.get(f"col{i}", "")
        if target:
            mapping[i] = target
    try:
        job.plan = await Importer(services_of(request).edits).plan(
            job.plan.sheet, mapping, form.get("on_match", job.plan.on_match))
    except ImportFileError as e:
        return await _show(request, job, _problem_text(e, language(request)), 422)
    return see_other(request, f"/import/{job.id}")


@page
async def job_run(request: Request) -> Response:
    v = await _admin(request)
    job = _job(request, v)
    await check_csrf(request)
    if job.task is not None:
        return see_other(request, f"/import/{job.id}")
    if job.plan.refused:
        lang = language(request)
        return await _show(request, job, (
            f"{len(job.plan.refused)} 行被拒绝:改正文件后重新上传,未导入任何数据" if lang == "zh"
            else f"{len(job.plan.refused)} rows are refused: correct the file and upload it "
            "again; nothing was imported"), 422)
    svc = services_of(request)
    importer = Importer(svc.edits)
    await importer.save_mapping(job.plan.sheet, job.plan.mapping, v.user.id)
    job.progress = Progress(0)

    async def work() -> None:
        assert job.progress is not None
        try:
            await importer.run(job.plan, v.user.id, progress=job.progress)
        except Exception as e:  # shown on the page and logged, not lost
            log.exception("import %s failed", job.id)
            job.errors.append(str(e))

    job.task = asyncio.get_running_loop().create_task(work())
    return see_other(request, f"/import/{job.id}")


@page
async def job_status(request: Request) -> Response:
    v = await _admin(request)
    job = _job(request, v)
    p = job.progress
    body: dict[str, Any] = {"started": p is not None, "done": p.done if p else 0,
                            "total": p.total if p else 0, "created": p.created if p else 0,
                            "finished": bool(p and p.finished and job.task and job.task.done()),
                            "error": "; ".join(job.errors)}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
