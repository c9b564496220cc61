"""What each public route answers: language, limits, one domain call, one rendering.

The pages and the JSON endpoints share the same domain calls and the same limits; a
page shows a form error only for what the reader typed (never for what the registry
holds), and a refused request (429, 503) looks the same whatever was asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import Response

from vigie.breach import i18n
from vigie.breach.codes import code_tag, tag_key
from vigie.breach.notices import NoticeRenderer
from vigie.breach.notify import context_for
from vigie.errors import InvalidInput, NotFound
from vigie.http.problems import PROBLEM_JSON, ProblemKind, problem_body
from vigie.public import incident_pages, languages, pages, tasks
from vigie.public.contacts import parse_contact
from vigie.public.group_commit import GroupCommit
from vigie.public.limiter import Limiter, LimiterDown, RateLimited
from vigie.public.verify import GenuineNotice, NotGenuine, TagLookup, notices_of
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings

STYLESHEET = (pages.STATIC / "public.css").read_bytes()
EXAMPLE_CODE = "7K3M-Q9PX"
CHANNEL_NAMES = {"email": "e-mail", "sms": "SMS", "letter": "letter"}
TOO_MANY = ProblemKind(429, "too-many-requests", "Too many requests")
UNAVAILABLE = ProblemKind(503, "unavailable", "Service unavailable")
INVALID = ProblemKind(400, "invalid-request", "Invalid request")
NOT_FOUND = ProblemKind(404, "not-found", "Not found")
SENT_DETAIL = "If this contact is in our records, a message has been sent to it."
HTML = "text/html; charset=utf-8"
PAGES = frozenset({"/", "/verify", "/self-check", "/my-file"})
LINK_NOT_VALID = (
    "This link is not valid: it was already used, it expired, or it was mistyped. "
    "You can ask for a new one."
)


@dataclass
class Views:
    """The public routes' work, over the instance's sessions, secrets and limits."""

    settings: Settings
    sessions: sessionmaker[Session]
    reader: Engine  # for look-ups only: no write lock on SQLite
    secrets: InstanceSecrets
    limiter: Limiter
    writer: GroupCommit  # the queued requests' group commit
    _renderers: dict[int, NoticeRenderer] = field(default_factory=dict)
    _lookup: TagLookup | None = None

    @property
    def site(self) -> pages.Site:
        s = self.settings
        return pages.Site(controller=s.controller_name, phone=s.dpo_phone, email=s.dpo_email)

    # --- shared -----------------------------------------------------------------------

    def _lang(self, request: Request, form_lang: str = "") -> str:
        return languages.choose(
            query=request.query_params.get("lang") or form_lang or None,
            cookie=request.cookies.get(languages.COOKIE),
            accept=request.headers.get("accept-language"),
        )

    def _html(
        self,
        request: Request,
        template: str,
        title: str,
        *,
        lang: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        title_values: dict[str, Any] | None = None,
        **values: Any,
    ) -> Response:
        gettext = languages.translations(lang).gettext
        path = request.url.path
        body = pages.render(
            template,
            lang=lang,
            path=path if path in PAGES or path.startswith("/incidents/") else "/",
            site=self.site,
            title=gettext(title) % (title_values or {}) if title_values else gettext(title),
            lang_code=lang,
            **values,
        )
        response = Response(body, status_code=status, media_type=HTML, headers=headers)
        response.headers["content-security-policy"] = pages.PAGE_CSP
        response.headers["cache-control"] = "no-store"
        asked = request.query_params.get("lang")
        if asked in languages.LANGUAGES and asked != request.cookies.get(languages.COOKIE):
            response.set_cookie(
                languages.COOKIE,
                asked,
                max_age=365 * 86400,
                httponly=True,
                samesite="lax",
                secure=(self.settings.public_url or "").startswith("https://"),
            )
        return response

    def home(self, request: Request) -> Response:
        with self.sessions() as session:
            published = incident_pages.published_ids(session)
        return self._html(
            request,
            "home.html.j2",
            "The public service",
            lang=self._lang(request),
            incidents=[{"id": i, "number": pages.ltr(i)} for i in published],
        )

    def incident_page(self, request: Request, incident_id: int) -> Response:
        """The public page of a published incident, in the reader's language."""
        lang = self._lang(request)
        with self.sessions() as session:
            try:
                shown = incident_pages.published_incident(session, incident_id=incident_id)
            except NotFound:
                return self.http_error(request, 404)
            renderer = self._renderers.get(incident_id)
            if renderer is None:
                context = context_for(self.settings, session, incident_id=incident_id)
                renderer = self._renderers[incident_id] = NoticeRenderer(context)
        body = renderer.public_body(lang, count=shown.people, fields=shown.fields)
        return self._html(
            request,
            "incident.html.j2",
            "Incident %(incident)s: what happened and what to do",
            lang=lang,
            title_values={"incident": incident_id},
            body=body,
            incident=pages.ltr(incident_id),
        )

    def _count(self, endpoint: str, request: Request) -> None:
        address = request.client.host if request.client else "unknown"
        self.limiter.request(endpoint, address=address)

    def _refused_page(self, request: Request, exc: Exception, lang: str) -> Response:
        if isinstance(exc, RateLimited):
            return self._html(
                request,
                "error.html.j2",
                "Too many requests",
                lang=lang,
                status=429,
                headers={"retry-after": str(exc.retry_after)},
                message=languages.translations(lang).gettext("Please wait a little and try again."),
            )
        return self._html(
            request,
            "error.html.j2",
            "Service unavailable",
            lang=lang,
            status=503,
            headers={"retry-after": "30"},
            message=languages.translations(lang).gettext(
                "The service cannot answer right now. Please try again later."
            ),
        )

    @staticmethod
    def _problem(kind: ProblemKind, detail: str, request: Request, **headers: str) -> Response:
        body = problem_body(kind, detail, instance=request.url.path)
        return Response(body, status_code=kind.status, media_type=PROBLEM_JSON, headers=headers)

    def _refused_json(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, RateLimited):
            return self._problem(
                TOO_MANY,
                "too many requests; retry later",
                request,
                **{"retry-after": str(exc.retry_after)},
            )
        return self._problem(
            UNAVAILABLE,
            "the service cannot answer now; retry later",
            request,
            **{"retry-after": "30"},
        )

    def http_error(self, request: Request, status: int) -> Response:
        """A 404/405 page, or a problem for a JSON path."""
        if request.url.path.startswith("/json/") or status not in (404, 405):
            kind = NOT_FOUND if status == 404 else ProblemKind(status, f"http-{status}", "Error")
            return self._problem(kind, "no such resource" if status == 404 else "error", request)
        lang = self._lang(request)
        title = "Page not found" if status == 404 else "Method not allowed"
        message = languages.translations(lang).gettext("This page does not exist.")
        return self._html(
            request, "error.html.j2", title, lang=lang, status=status, message=message
        )

    def invalid_json(self, request: Request, exc: RequestValidationError) -> Response:
        """A request that does not match the schema: a page's form again, else a 422 problem."""
        lang = self._lang(request)
        gettext = languages.translations(lang).gettext
        if request.url.path == "/verify":
            return self._html(
                request,
                "verify.html.j2",
                "Check a notice",
                lang=lang,
                status=400,
                code="",
                incident="",
                error_field="code",
                example=pages.ltr(EXAMPLE_CODE),
                error=gettext("Enter the verification code."),
            )
        if request.url.path in ("/self-check", "/my-file"):
            template, title = (
                ("selfcheck.html.j2", "Was my data affected?")
                if request.url.path == "/self-check"
                else ("report_request.html.j2", "Who saw my file?")
            )
            return self._html(
                request,
                template,
                title,
                lang=lang,
                status=400,
                error_field="contact",
                error=gettext("Enter an e-mail address or a phone number."),
            )
        if request.url.path.startswith("/report/"):
            return self._html(
                request,
                "error.html.j2",
                "This link does not work",
                lang=lang,
                status=404,
                message=gettext(LINK_NOT_VALID),
            )
        errors = [".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()[:5]]
        kind = ProblemKind(422, "validation", "Request does not match the schema")
        return self._problem(kind, ("invalid: " + ", ".join(errors))[:300], request)

    def stylesheet(self) -> Response:
        return Response(
            STYLESHEET, media_type="text/css", headers={"cache-control": "public, max-age=86400"}
        )

    # --- verify a notice ----------------------------------------------------------------

    def _verify(self, *, code: str, incident: int | None) -> list[GenuineNotice]:
        if self._lookup is None:
            self._lookup = TagLookup(self.reader)
        rows = self._lookup.rows(code_tag(tag_key(self.secrets), code))
        try:
            return notices_of(rows, incident_id=incident)
        except NotGenuine:
            return []

    def verify_form(self, request: Request) -> Response:
        return self._html(
            request,
            "verify.html.j2",
            "Check a notice",
            lang=self._lang(request),
            code="",
            incident="",
            example=pages.ltr(EXAMPLE_CODE),
        )

    def verify_page(self, request: Request, *, code: str, incident: str, lang: str) -> Response:
        lang = self._lang(request, lang)
        gettext = languages.translations(lang).gettext
        if not code.strip():
            return self._html(
                request,
                "verify.html.j2",
                "Check a notice",
                lang=lang,
                status=400,
                code="",
                incident=incident,
                example=pages.ltr(EXAMPLE_CODE),
                error_field="code",
                error=gettext("Enter the verification code."),
            )
        try:
            self._count("verify", request)
        except (RateLimited, LimiterDown) as exc:
            return self._refused_page(request, exc, lang)
        number = int(incident) if incident.strip().isdigit() and len(incident) < 11 else None
        if incident.strip() and number is None:
            number = -1  # matches no incident: answers like any wrong code
        found = self._verify(code=code, incident=number)
        separator = i18n.LIST_SEPARATORS.get(lang, ", ")
        notices = [
            {
                "incident": pages.ltr(n.incident_id),
                "date": pages.isolate(pages.long_date(n.sent_on, lang)),
                "channels": separator.join(gettext(CHANNEL_NAMES[c]) for c in n.channels),
            }
            for n in found
        ]
        return self._html(
            request,
            "verify_result.html.j2",
            "This notice is genuine" if found else "We cannot confirm this notice",
            lang=lang,
            code=pages.ltr(code.strip()[:32]),
            notices=notices,
        )

    def verify_json(self, request: Request, *, code: str, incident: int | None) -> Response:
        try:
            self._count("verify", request)
        except (RateLimited, LimiterDown) as exc:
            return self._refused_json(request, exc)
        found = self._verify(code=code, incident=incident)
        body = {
            "genuine": bool(found),
            "notices": [
                {
                    "incident": n.incident_id,
                    "sent_on": n.sent_on.isoformat(),
                    "channels": list(n.channels),
                }
                for n in found
            ],
        }
        return Response(orjson.dumps(body), media_type="application/json")

    # --- was I affected? ----------------------------------------------------------------

    def self_check_form(self, request: Request) -> Response:
        return self._html(
            request, "selfcheck.html.j2", "Was my data affected?", lang=self._lang(request)
        )

    async def queue(
        self,
        request: Request,
        *,
        endpoint: str,
        kind: str,
        contact: str,
        lang: str | None,
        delivery: str = "link",
    ) -> None:
        """Count, parse, queue a job of ``kind``: the same work for every contact. Raises
        to refuse (:class:`LimiterDown` too when the queue cannot be written). The job is
        written with the requests that arrived meanwhile (:mod:`vigie.public.group_commit`);
        this returns once it is committed."""
        self._count(endpoint, request)
        parsed = parse_contact(contact)
        row = tasks.job(
            kind=kind, contact=parsed, lang=lang, secrets=self.secrets, delivery=delivery
        )
        try:
            await self.writer.put(row)
        except SQLAlchemyError as exc:
            raise LimiterDown("the queue cannot be written") from exc

    async def _self_check(self, request: Request, contact: str) -> None:
        await self.queue(
            request, endpoint="self-check", kind=tasks.SELF_CHECK, contact=contact, lang=None
        )

    async def self_check_page(self, request: Request, *, contact: str, lang: str) -> Response:
        lang = self._lang(request, lang)
        try:
            await self._self_check(request, contact)
        except InvalidInput:
            gettext = languages.translations(lang).gettext
            return self._html(
                request,
                "selfcheck.html.j2",
                "Was my data affected?",
                lang=lang,
                status=400,
                error_field="contact",
                error=gettext("Enter an e-mail address or a phone number."),
            )
        except (RateLimited, LimiterDown) as exc:
            return self._refused_page(request, exc, lang)
        return self._html(request, "selfcheck_sent.html.j2", "Request received", lang=lang)

    async def self_check_json(self, request: Request, *, contact: str) -> Response:
        try:
            await self._self_check(request, contact)
        except InvalidInput:
            return self._problem(INVALID, "not an e-mail address nor a phone number", request)
        except (RateLimited, LimiterDown) as exc:
            return self._refused_json(request, exc)
        body = {"status": "accepted", "detail": SENT_DETAIL}
        return Response(orjson.dumps(body), status_code=202, media_type="application/json")
