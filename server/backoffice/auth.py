"""Who is looking: the session cookie, CSRF tokens and the viewer's rights.

A back-office session is an ordinary account token (`server.accounts`) carried in an
HttpOnly, SameSite=Lax cookie, so logging out, disabling the user or revoking the token
ends it like any other session. POST forms carry a CSRF token: an HMAC, under the server
secret, of a random nonce kept in its own cookie (signed double submit).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from starlette.requests import Request
from starlette.responses import Response

from server import tables as t
from server.accounts import Accounts, User, hash_token
from server.errors import Forbidden, Unauthorized
from server.services import services_of
from sync.log import now_ms
from sync.scope import Principal

SESSION_COOKIE = "wq_admin"
CSRF_COOKIE = "wq_csrf"
LANG_COOKIE = "wq_lang"
SESSION_TTL_MS = 12 * 3600 * 1000  # a back-office session lasts a working day
LABEL = "backoffice"


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to the login form."""


class CsrfFailed(Forbidden):
    pass


@dataclass(frozen=True)
class Viewer:
    user: User
    principal: Principal
    token_id: str

    @property
    def is_admin(self) -> bool:
        return self.principal.visible is None

    def sees_user(self, user_id: str) -> bool:
        return self.principal.visible is None or user_id in self.principal.visible

    def require_admin(self) -> None:
        if not self.is_admin:
            raise Forbidden("administrators only")



def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def start_session(request: Request, response: Response, login: str, password: str) -> User:
    """Check the password, issue a token for the back office and set the cookie."""
    accounts: Accounts = services_of(request).accounts
    address = request.client.host if request.client else ""
    token, user = await accounts.login(login, password, label=LABEL, address=address)
    async with accounts.engine.begin() as conn:
        # Shorter than a device token: nobody carries a back office in their pocket.
        await conn.execute(
            update(t.tokens)
            .where(t.tokens.c.token_hash == hash_token(token))
            .values(expires_at=now_ms() + SESSION_TTL_MS)
        )
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="lax", secure=_secure(request),
        path=request.scope.get("root_path", "") or "/",
    )
    return user


async def end_session(request: Request, response: Response) -> None:
    services = services_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            info = await services.accounts.authenticate(token)
        except Unauthorized:
            info = None
        if info is not None:
            await services.accounts.revoke(info.id)
    response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path", "") or "/")


async def viewer(request: Request) -> Viewer:
    """The logged-in viewer, or LoginRequired."""
    cached = request.scope.get("waiqin.viewer")
    if isinstance(cached, Viewer):
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired()
    accounts: Accounts = services_of(request).accounts
    try:
        info = await accounts.authenticate(token)
    except Unauthorized:
        raise LoginRequired() from None
    v = Viewer(info.user, await accounts.principal(info.user), info.id)
    request.scope["waiqin.viewer"] = v
    return v


# -- CSRF ------------------------------------------------------------------------------------


def _sign(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def csrf_nonce(request: Request) -> str:
    """The nonce of this browser (made now if it has none; `remember_csrf` sets the cookie)."""
    nonce = request.cookies.get(CSRF_COOKIE) or request.scope.get("waiqin.csrf_new")
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        request.scope["waiqin.csrf_new"] = nonce
    return str(nonce)


def csrf_token(request: Request) -> str:
    return _sign(services_of(request).config.secret(), csrf_nonce(request))


def remember_csrf(request: Request, response: Response) -> None:
    nonce = request.scope.get("waiqin.csrf_new")
    if nonce:
        response.set_cookie(
            CSRF_COOKIE, str(nonce), httponly=True, samesite="lax", secure=_secure(request),
            path=request.scope.get("root_path", "") or "/",
        )


async def check_csrf(request: Request) -> dict[str, str]:
    """The posted form, once its CSRF token matches this browser's nonce."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    nonce = request.cookies.get(CSRF_COOKIE)
    sent = values.get("csrf", "")
    if not nonce or not hmac.compare_digest(
        sent, _sign(services_of(request).config.secret(), nonce)
    ):
        raise CsrfFailed("the form's CSRF token is missing or wrong", code="csrf")
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.rstrip("/") != _origin(request):
        raise CsrfFailed("cross-site form submission", code="csrf")
    return values


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def language(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
    return lang if lang in ("zh", "en") else "zh"


def remember_language(request: Request, response: Response) -> None:
    lang = request.query_params.get("lang")
    if lang in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, samesite="lax", secure=_secure(request),
                            max_age=365 * 86400, path=request.scope.get("root_path", "") or "/")
