"""What the "who saw my file?" routes answer: the request form, the link, the report.

The request works as the self-check does: count, parse, queue, the same page for every
contact. The link page (``GET /report/TOKEN``) only offers a button, so that a mail
scanner following links does not spend the one opening; the report is shown by the
``POST`` that opens the link (:func:`vigie.public.report_links.open_report`).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response

from vigie.breach import i18n
from vigie.errors import InvalidInput
from vigie.public import incident_pages, languages, tasks
from vigie.public.limiter import LimiterDown, RateLimited
from vigie.public.report_links import LinkNotValid, Opened, check_link, open_report
from vigie.public.report_render import report_values
from vigie.public.views import INVALID, LINK_NOT_VALID, SENT_DETAIL, Views
from vigie.store.base import utcnow

ENDPOINT = "disclosure-report"
TITLE = "Who saw my file?"


@dataclass
class ReportViews:
    """The disclosure report's routes, over the public views' helpers."""

    views: Views

    def form(self, request: Request) -> Response:
        v = self.views
        return v._html(request, "report_request.html.j2", TITLE, lang=v._lang(request))

    async def _request(
        self, request: Request, contact: str, lang: str | None, delivery: str
    ) -> None:
        await self.views.queue(
            request,
            endpoint=ENDPOINT,
            kind=tasks.REPORT,
            contact=contact,
            lang=lang,
            delivery="letter" if delivery == "letter" else "link",
        )

    async def request_page(
        self, request: Request, *, contact: str, lang: str, delivery: str = "link"
    ) -> Response:
        v = self.views
        lang = v._lang(request, lang)
        try:
            await self._request(request, contact, lang, delivery)
        except InvalidInput:
            gettext = languages.translations(lang).gettext
            return v._html(
                request,
                "report_request.html.j2",
                TITLE,
                lang=lang,
                status=400,
                error_field="contact",
                error=gettext("Enter an e-mail address or a phone number."),
                delivery=delivery,
            )
        except (RateLimited, LimiterDown) as exc:
            return v._refused_page(request, exc, lang)
        return v._html(request, "report_request_sent.html.j2", "Request received", lang=lang)

    async def request_json(
        self, request: Request, *, contact: str, lang: str | None, delivery: str = "link"
    ) -> Response:
        v = self.views
        try:
            chosen = lang if lang in i18n.LANGUAGES else None
            await self._request(request, contact, chosen, delivery)
        except InvalidInput:
            return v._problem(INVALID, "not an e-mail address nor a phone number", request)
        except (RateLimited, LimiterDown) as exc:
            return v._refused_json(request, exc)
        body = {"status": "accepted", "detail": SENT_DETAIL}
        return Response(orjson.dumps(body), status_code=202, media_type="application/json")

    def _not_valid(self, request: Request, lang: str) -> Response:
        v = self.views
        message = languages.translations(lang).gettext(LINK_NOT_VALID)
        return v._html(
            request,
            "error.html.j2",
            "This link does not work",
            lang=lang,
            status=404,
            message=message,
        )

    def link_page(self, request: Request, token: str) -> Response:
        v = self.views
        with v.sessions() as session:
            try:
                row = check_link(session, token=token, now=utcnow())
            except LinkNotValid:
                return self._not_valid(request, v._lang(request))
            lang = request.query_params.get("lang") or row.lang
        if lang not in languages.LANGUAGES:
            lang = v._lang(request)
        return v._html(
            request,
            "report_open.html.j2",
            "Your disclosure report",
            lang=lang,
            action=f"/report/{token}",
        )

    def report_page(self, request: Request, token: str, *, lang: str) -> Response:
        v = self.views
        try:
            v._count(ENDPOINT, request)
        except (RateLimited, LimiterDown) as exc:
            return v._refused_page(request, exc, v._lang(request, lang))
        with v.sessions.begin() as session:
            try:
                opened: Opened = open_report(session, token=token, now=utcnow())
            except LinkNotValid:
                return self._not_valid(request, v._lang(request, lang))
            shown = lang if lang in languages.LANGUAGES else opened.request.lang
            published = set(incident_pages.published_ids(session))
            values = report_values(opened.report, opened.checkpoints, shown, published)
        return v._html(request, "report.html.j2", "Your disclosure report", lang=shown, **values)
