"""The back office: server-rendered pages where managers and back-office staff review what
the field synced, resolve duplicates, run the policy's reports, export them, and administer
users. Mounted by the app with `Mount("/admin", routes=backoffice_routes())`."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from . import (
    admin,
    approvals,
    duplicates,
    importing,
    pages,
    pool,
    reassign,
    schedule,
    sharing,
    trips,
)
from .web import HERE


def backoffice_routes() -> list[BaseRoute]:
    return [
        Route("/", pages.home, methods=["GET"], name="bo_home"),
        Route("/login", pages.login_form, methods=["GET"], name="bo_login"),
        Route("/login", pages.login_submit, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"], name="bo_logout"),
        Route("/records/{doc_id}", pages.record_page, methods=["GET"], name="bo_record"),
        Route("/records/{doc_id}/reassign", reassign.reassign_customer, methods=["POST"]),
        Route("/records/{doc_id}/share", sharing.share_post, methods=["POST"]),
        Route("/records/{doc_id}/decide", approvals.decide_post, methods=["POST"]),
        Route("/approvals", approvals.inbox_page, methods=["GET"], name="bo_approvals"),
        Route("/trips", trips.trips_page, methods=["GET"], name="bo_trips"),
        Route("/settings", approvals.settings_page, methods=["GET"], name="bo_settings"),
        Route("/settings", approvals.settings_post, methods=["POST"]),
        Route("/photos/{sha256}", pages.blob, methods=["GET", "HEAD"], name="bo_photo"),
        Route("/photos/{sha256}/{thumb:str}", pages.blob, methods=["GET", "HEAD"]),
        Route("/reports/{report}.{fmt}", pages.report_export, methods=["GET"]),
        Route("/reports/{report}", pages.report_page, methods=["GET"], name="bo_report"),
        Route("/duplicates", duplicates.queue, methods=["GET"], name="bo_duplicates"),
        Route("/duplicates/{cand_id}/merge", duplicates.merge, methods=["POST"]),
        Route("/duplicates/{cand_id}/dismiss", duplicates.dismiss, methods=["POST"]),
        Route("/merges.{fmt}", duplicates.merges_export, methods=["GET"]),
        Route("/merges", duplicates.merges, methods=["GET"], name="bo_merges"),
        Route("/merges/{merge_id}/undo", duplicates.undo, methods=["POST"]),
        Route("/users.{fmt}", admin.users_export, methods=["GET"]),
        Route("/users", admin.users_page, methods=["GET"], name="bo_users"),
        Route("/users", admin.user_create, methods=["POST"]),
        Route("/users/{user_id}", admin.user_page, methods=["GET"], name="bo_user"),
        Route("/users/{user_id}/{action}", admin.user_action, methods=["POST"]),
        Route("/schedule", schedule.schedule_page, methods=["GET"], name="bo_schedule"),
        Route("/team", reassign.team_page, methods=["GET"], name="bo_team"),
        Route("/team/reassign", reassign.reassign_member, methods=["POST"]),
        Route("/import", importing.import_page, methods=["GET"], name="bo_import"),
        Route("/import", importing.import_upload, methods=["POST"]),
        Route("/import/{job}", importing.job_page, methods=["GET"]),
        Route("/import/{job}/mapping", importing.job_mapping, methods=["POST"]),
        Route("/import/{job}/run", importing.job_run, methods=["POST"]),
        Route("/import/{job}/status", importing.job_status, methods=["GET"]),
        *pool.routes(),  # the customer pool, extensions, the recycle bin
        Route("/audit.{fmt}", admin.audit_export, methods=["GET"]),
        Route("/refusals.{fmt}", admin.refusals_export, methods=["GET"]),
        Route("/refusals", admin.refusals_page, methods=["GET"], name="bo_refusals"),
        Route("/audit", admin.audit_page, methods=["GET"], name="bo_audit"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="bo_static"),
        Route("/{list}.{fmt}", pages.list_export, methods=["GET"]),
        Route("/{list}", pages.list_page, methods=["GET"], name="bo_list"),
    ]


__all__ = ["backoffice_routes"]
