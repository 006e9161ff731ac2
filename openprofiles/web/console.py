"""`/console/…`: the web console's routes. Pages are server-rendered (Jinja2, autoescaped) from the
services; in `sigv4` mode they need a session, which signing in with an access key pair opens.

CSRF: every POST must carry an Origin header naming this host (a POST without one is refused) and
the form's CSRF token (web/sessions.py); the session cookie is also SameSite=Strict.
docs/console.md describes the console.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from importlib.resources import files
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import anyio.to_thread
from jinja2 import Environment, PackageLoader
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from openprofiles.clock import Clock
from openprofiles.context import RequestContext
from openprofiles.errors import NotFound
from openprofiles.services.console_sessions import Throttled
from openprofiles.web.agent import AgentPages
from openprofiles.web.pages import Pages
from openprofiles.web.sessions import COOKIE, SIGN_IN_COOKIE, Session, Sessions

PREFIX = "/console"
SIGN_IN = f"{PREFIX}/signin"
#: A sign-in form is two short fields; a larger body is refused.
MAX_FORM = 8192
#: The key name the profile search form starts with.
DEFAULT_SEARCH_KEY = "_email"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
T = TypeVar("T")


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if value and value.startswith(PREFIX + "/") and "//" not in value and "\\" not in value:
        return value
    return PREFIX + "/"


async def _form(request: Request) -> dict[str, str] | None:
    """A urlencoded form's fields (the first value of each), or None when the body is over MAX_FORM."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            return None
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


class Console:
    """The console's pages. `sessions` is None in `--auth open` mode: every page is open and acts
    for `open_account`, as the API does."""

    def __init__(self, pages: Pages, agent: AgentPages, sessions: Sessions | None, region: str, clock: Clock,
                 open_account: str) -> None:
        self.pages = pages
        self.agent = agent
        self.sessions = sessions
        self.region = region
        self.clock = clock
        self.open_account = open_account
        self.templates = Environment(loader=PackageLoader("openprofiles.web", "templates"),
                                     autoescape=True, auto_reload=False)
        self.templates.filters["when"] = lambda t: t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else ""
        self.stylesheet = files("openprofiles.web").joinpath("static/console.css").read_bytes()

    def routes(self) -> list[BaseRoute]:
        return [
            Route(PREFIX, lambda _: RedirectResponse(PREFIX + "/", 308), methods=["GET"]),
            Route(PREFIX + "/", self.domains, methods=["GET"]),
            Route(PREFIX + "/domains/{name}", self.domain, methods=["GET"]),
            Route(PREFIX + "/domains/{name}/profiles", self.profile_search, methods=["GET"]),
            Route(PREFIX + "/domains/{name}/profiles/{profile_id}", self.profile, methods=["GET"]),
            Route(PREFIX + "/flows", self.flows, methods=["GET"]),
            Route(SIGN_IN, self.sign_in_form, methods=["GET"]),
            Route(SIGN_IN, self.sign_in, methods=["POST"]),
            Route(PREFIX + "/signout", self.sign_out, methods=["POST"]),
            Route(PREFIX + "/static/console.css", self.css, methods=["GET"]),
            Route(PREFIX + "/{rest:path}", self.not_found, methods=["GET"]),
        ]

    # Rendering

    def _render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(template).render(
            open_mode=self.sessions is None, open_account=self.open_account, region=self.region, prefix=PREFIX,
            **context)
        return HTMLResponse(html, status, headers=HEADERS)

    def _refused(self, message: str) -> HTMLResponse:
        return self._render("refused.html", 403, message=message)

    async def css(self, _: Request) -> Response:
        return Response(self.stylesheet, media_type="text/css",
                        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})

    # Sessions

    async def _session(self, request: Request) -> Session | None:
        if self.sessions is None:
            return Session(self.open_account, "")
        return await anyio.to_thread.run_sync(self.sessions.current, request.cookies.get(COOKIE))

    def _to_sign_in(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{SIGN_IN}?next={quote(target, safe='')}", 303, headers=HEADERS)

    async def _page(self, request: Request, read: Callable[[RequestContext], T],
                    show: Callable[[T, Session], HTMLResponse]) -> Response:
        """A signed-in page: read through the services in a worker thread, then render; the sign-in page
        without a session, the 404 page for an unknown resource."""
        session = await self._session(request)
        if session is None:
            return self._to_sign_in(request)
        ctx = RequestContext(session.account_id, self.region, "Console", str(uuid.uuid4()), self.clock.now())
        try:
            data = await anyio.to_thread.run_sync(read, ctx)
        except NotFound as error:
            return self._render("not_found.html", 404, session=session, message=error.message)
        return show(data, session)

    @staticmethod
    def _same_site(request: Request) -> bool:
        """Whether a POST comes from a page of this host: its Origin names this host. A POST with no
        Origin (or `null`) is refused too: browsers send one with every form POST."""
        origin = request.headers.get("origin")
        return origin is not None and origin != "null" and urlsplit(origin).netloc == request.headers.get("host")

    def _sign_in_page(self, sessions: Sessions, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        """The sign-in form, its CSRF token bound to the pre-session cookie (set here when missing)."""
        cookie = request.cookies.get(SIGN_IN_COOKIE)
        nonce = cookie if cookie and len(cookie) <= 64 else sessions.new_nonce()
        response = self._render("signin.html", status, csrf=sessions.sign_in_token(nonce), **context)
        if nonce != cookie:
            response.set_cookie(SIGN_IN_COOKIE, nonce, path=SIGN_IN, secure=request.url.scheme == "https",
                                httponly=True, samesite="strict")
        return response

    async def sign_in_form(self, request: Request) -> Response:
        if self.sessions is None:
            return RedirectResponse(PREFIX + "/", 303)
        return self._sign_in_page(self.sessions, request, next=_safe_next(request.query_params.get("next")))

    async def sign_in(self, request: Request) -> Response:
        if self.sessions is None:
            return RedirectResponse(PREFIX + "/", 303)
        if not self._same_site(request):
            return self._refused("Sign-in refused: the form was not sent from this site's sign-in page "
                                 "(the request has no Origin header naming this host).")
        form = await _form(request)
        if form is None:
            return self._sign_in_page(self.sessions, request, 413, next=PREFIX + "/", error="The sign-in form is too large.")
        if not self.sessions.sign_in_token_matches(request.cookies.get(SIGN_IN_COOKIE), form.get("csrf")):
            return self._refused("Sign-in refused: the form's CSRF token is missing or does not match "
                                 "(load the sign-in page again; cookies must be enabled).")
        target = _safe_next(form.get("next"))
        key_id = form.get("access_key_id", "").strip()
        address = request.client.host if request.client else ""
        result = await anyio.to_thread.run_sync(self.sessions.sign_in, key_id, form.get("secret_access_key", ""),
                                                address)
        if isinstance(result, Throttled):
            response = self._sign_in_page(
                self.sessions, request, 429, next=target, access_key_id=key_id,
                error=f"Too many sign-in attempts; try again in {result.retry_after} s.")
            response.headers["Retry-After"] = str(result.retry_after)
            return response
        if result is None:
            return self._sign_in_page(
                self.sessions, request, 401, next=target, access_key_id=key_id,
                error="The access key id or secret access key is not valid, or the key is revoked.")
        signed_in = RedirectResponse(target, 303, headers=HEADERS)
        signed_in.set_cookie(COOKIE, result, max_age=int(self.sessions.lifetime.total_seconds()),
                            path=PREFIX, secure=request.url.scheme == "https", httponly=True, samesite="strict")
        signed_in.delete_cookie(SIGN_IN_COOKIE, path=SIGN_IN, httponly=True, samesite="strict")
        return signed_in

    async def sign_out(self, request: Request) -> Response:
        if not self._same_site(request):
            return self._refused("Sign-out refused: the form was not sent from this site's pages "
                                 "(the request has no Origin header naming this host).")
        if self.sessions is None:
            return RedirectResponse(PREFIX + "/", 303, headers=HEADERS)
        form = await _form(request)
        cookie = request.cookies.get(COOKIE)
        if cookie and not (form is not None and self.sessions.session_token_matches(cookie, form.get("csrf"))):
            return self._refused("Sign-out refused: the form's CSRF token is missing or does not match "
                                 "(reload the page and sign out again).")
        await anyio.to_thread.run_sync(self.sessions.sign_out, cookie)
        response = RedirectResponse(SIGN_IN, 303, headers=HEADERS)
        response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    # Pages

    async def domains(self, request: Request) -> Response:
        return await self._page(request, self.pages.domain_list,
                                lambda domains, session: self._render("domains.html", session=session, domains=domains))

    async def domain(self, request: Request) -> Response:
        name = request.path_params["name"]
        return await self._page(
            request, lambda ctx: self.pages.integration_list(ctx, name),
            lambda rows, session: self._render("domain.html", session=session, domain=name, integrations=rows))

    async def profile_search(self, request: Request) -> Response:
        name, query = request.path_params["name"], request.query_params
        key, value = query.get("key", DEFAULT_SEARCH_KEY).strip(), query.get("value", "").strip()
        return await self._page(
            request, lambda ctx: self.agent.search(ctx, name, key, value, query.get("after")),
            lambda page, session: self._render("profiles.html", 400 if page.error else 200, session=session,
                                               domain=name, page=page))

    async def profile(self, request: Request) -> Response:
        name, profile_id = request.path_params["name"], request.path_params["profile_id"]
        return await self._page(
            request, lambda ctx: self.agent.profile(ctx, name, profile_id),
            lambda view, session: self._render("profile.html", session=session, domain=name, view=view))

    async def flows(self, request: Request) -> Response:
        return await self._page(request, self.pages.flow_list,
                                lambda flows, session: self._render("flows.html", session=session, flows=flows))

    async def not_found(self, request: Request) -> Response:
        session = await self._session(request)
        if session is None:
            return self._to_sign_in(request)
        return self._render("not_found.html", 404, session=session,
                            message=f"There is no console page at {request.url.path}.")
