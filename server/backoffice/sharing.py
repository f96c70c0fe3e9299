"""Sharing a customer with named users from its record page: the owner, a manager whose
team the owner is in, or an admin adds or removes users in `shared_with`, through the
server's own edits (the sync path), audited."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from schema.ydoc import update_fields
from server.accounts import User, audit
from server.errors import BadRequest, Conflict, Forbidden
from server.services import services_of

from .auth import Viewer, check_csrf, language, viewer
from .reassign import _customer
from .web import page, see_other

MAX_SHARED = 200  # the field's max_items


def may_share(v: Viewer, owner: str) -> bool:
    """The owner, their manager (anyone whose tree holds the owner) or an admin."""
    return v.is_admin or v.user.id == owner or (
        v.principal.role == "manager" and v.sees_user(owner))


async def share_candidates(svc: Any, owner: str, shared: list[str]) -> list[User]:
    """Active users the customer can still be shared with."""
    users: list[User] = await svc.accounts.all_users()
    return [u for u in users if u.disabled_at is None and u.id != owner and u.id not in shared]


async def _shared_now(svc: Any, doc_id: str) -> list[str]:
    live = await svc.hub.open(doc_id, "customer")
    return [u for u in live.record.get("shared_with") or [] if isinstance(u, str)]


@page
async def share_post(request: Request) -> Response:
    """POST /records/{doc_id}/share: `add` = a user id, or `remove` = a user id."""
    v = await viewer(request)
    form = await check_csrf(request)
    svc = services_of(request)
    doc_id = request.path_params["doc_id"]
    zh = language(request) == "zh"
    async with svc.engine.connect() as conn:
        customer = await _customer(conn, v, doc_id)
        if customer is None:
            raise Forbidden("你看不到这个客户,不能共享它" if zh else
                            "you cannot share this customer: it is not among those you see",
                            code="customer_not_visible")
    shared = await _shared_now(svc, doc_id)
    if not may_share(v, customer.owner):
        raise Forbidden("只有客户经理、其上级或管理员可以更改共享" if zh else
                        "only the owner, their manager or an admin may change sharing",
                        code="not_yours_to_share")
    if customer.merged_into:
        raise BadRequest("这张卡片已被合并,请共享保留的那张" if zh else
                         "this card was merged into another; share that one", code="merged")
    add, remove = form.get("add", ""), form.get("remove", "")
    if add:
        user = await svc.accounts.get(add)
        if user is None or user.disabled_at is not None:
            raise BadRequest("没有这个用户,或已停用" if zh else "no such active user",
                             field="add")
        if add == customer.owner or add in shared:
            return see_other(request, f"/records/{doc_id}", done="unchanged")
        if len(shared) >= MAX_SHARED:
            raise BadRequest(f"最多共享给 {MAX_SHARED} 人" if zh else
                             f"a customer is shared with at most {MAX_SHARED} users", field="add")
        new = [*shared, add]
    elif remove:
        if remove not in shared:
            return see_other(request, f"/records/{doc_id}", done="unchanged")
        new = [u for u in shared if u != remove]
    else:
        raise BadRequest("请选择要添加或移除的用户" if zh else "choose a user to add or remove",
                         field="add")
    done = await svc.edits.edit(doc_id, "customer",
                                lambda d: update_fields(d, "customer", {"shared_with": new}))
    if done is None:
        raise Conflict("服务器拒绝了这次更改" if zh else "the server refused the change",
                       code="refused")
    async with svc.engine.begin() as conn:
        await audit(conn, "customer.share", user_id=v.user.id, doc_id=doc_id,
                    added=[add] if add else [], removed=[remove] if remove else [],
                    shared_with=new)
    return see_other(request, f"/records/{doc_id}", done="shared")
