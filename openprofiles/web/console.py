"""`/console/…`: the web console's routes. Pages are server-rendered (Jinja2, autoescaped) from the
services; in `sigv4` mode they need a session, which signing in with an access key pair opens.

CSRF: the session cookie is SameSite=Strict, so a cross-site form never carries it, and every POST
whose Origin names another host is refused. docs/console.md describes the console.
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
from openprofiles.services.context import RequestContext
from openprofiles.services.errors import NotFound
from openprofiles.web.agent import AgentPages
from openprofiles.web.pages import Pages
from openprofiles.web.sessions import COOKIE, Sessions

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
            open_mode=self.sessions is None, region=self.region, prefix=PREFIX, **context)
        return HTMLResponse(html, status, headers=HEADERS)

    async def css(self, _: Request) -> Response:
        return Response(self.stylesheet, media_type="text/css",
                        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"})

    # Sessions

    async def _account(self, request: Request) -> str | None:
        if self.sessions is None:
            return self.open_account
        return await anyio.to_thread.run_sync(self.sessions.account_of, request.cookies.get(COOKIE))

    def _to_sign_in(self, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{SIGN_IN}?next={quote(target, safe='')}", 303, headers=HEADERS)

    async def _page(self, request: Request, read: Callable[[RequestContext], T],
                    show: Callable[[T, str], HTMLResponse]) -> Response:
        """A signed-in page: read through the services in a worker thread, then render; the sign-in page
        without a session, the 404 page for an unknown resource."""
        account = await self._account(request)
        if account is None:
            return self._to_sign_in(request)
        ctx = RequestContext(account, self.region, "Console", str(uuid.uuid4()), self.clock.now())
        try:
            data = await anyio.to_thread.run_sync(read, ctx)
        except NotFound as error:
            return self._render("not_found.html", 404, account=account, message=error.message)
        return show(data, account)

    @staticmethod
    def _foreign(request: Request) -> bool:
        """Whether a POST comes from a page of another site (its Origin names another host)."""
        origin = request.headers.get("origin")
        return origin is not None and urlsplit(origin).netloc != request.headers.get("host")

    async def sign_in_form(self, request: Request) -> Response:
        if self.sessions is None:
            return RedirectResponse(PREFIX + "/", 303)
        return self._render("signin.html", next=_safe_next(request.query_params.get("next")))

    async def sign_in(self, request: Request) -> Response:
        if self.sessions is None:
            return RedirectResponse(PREFIX + "/", 303)
        if self._foreign(request):
            return self._render("signin.html", 403, next=PREFIX + "/", error="Sign-in from another site is refused.")
        form = await _form(request)
        if form is None:
            return self._render("signin.html", 413, next=PREFIX + "/", error="The sign-in form is too large.")
        target = _safe_next(form.get("next"))
        key_id = form.get("access_key_id", "").strip()
        key = await anyio.to_thread.run_sync(self.sessions.check_secret, key_id, form.get("secret_access_key", ""))
        if key is None:
            return self._render("signin.html", 401, next=target, access_key_id=key_id,
                                error="The access key id or secret access key is not valid, or the key is revoked.")
        response = RedirectResponse(target, 303, headers=HEADERS)
        response.set_cookie(COOKIE, self.sessions.cookie_for(key), max_age=int(self.sessions.lifetime.total_seconds()),
                            path=PREFIX, secure=request.url.scheme == "https", httponly=True, samesite="strict")
        return response

    async def sign_out(self, request: Request) -> Response:
        if self._foreign(request):
            return self._render("not_found.html", 403, message="Sign-out from another site is refused.")
        response = RedirectResponse(SIGN_IN if self.sessions is not None else PREFIX + "/", 303, headers=HEADERS)
        response.delete_cookie(COOKIE, path=PREFIX, httponly=True, samesite="strict")
        return response

    # Pages

    async def domains(self, request: Request) -> Response:
        return await self._page(request, self.pages.domain_list,
                                lambda domains, account: self._render("domains.html", account=account, domains=domains))

    async def domain(self, request: Request) -> Response:
        name = request.path_params["name"]
        return await self._page(
            request, lambda ctx: self.pages.integration_list(ctx, name),
            lambda rows, account: self._render("domain.html", account=account, domain=name, integrations=rows))

    async def profile_search(self, request: Request) -> Response:
        name, query = request.path_params["name"], request.query_params
        key, value = query.get("key", DEFAULT_SEARCH_KEY).strip(), query.get("value", "").strip()
        return await self._page(
            request, lambda ctx: self.agent.search(ctx, name, key, value, query.get("after")),
            lambda page, account: self._render("profiles.html", 400 if page.error else 200, account=account,
                                               domain=name, page=page))

    async def profile(self, request: Request) -> Response:
        name, profile_id = request.path_params["name"], request.path_params["profile_id"]
        return await self._page(
            request, lambda ctx: self.agent.profile(ctx, name, profile_id),
            lambda view, account: self._render("profile.html", account=account, domain=name, view=view))

    async def flows(self, request: Request) -> Response:
        return await self._page(request, self.pages.flow_list,
                                lambda flows, account: self._render("flows.html", account=account, flows=flows))

    async def not_found(self, request: Request) -> Response:
        account = await self._account(request)
        if account is None:
            return self._to_sign_in(request)
        return self._render("not_found.html", 404, account=account,
                            message=f"There is no console page at {request.url.path}.")
