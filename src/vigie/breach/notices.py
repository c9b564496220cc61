"""Rendering each person's notice: e-mail (text and HTML), SMS, letter and public notice.

A notice lists exactly the person's exposed fields, in their language (or French and
English when there is no catalogue for it), says what may follow and what to do, gives
the contact point and a verification code. Right-to-left languages get ``dir="rtl"``
and ``lang``; every inserted value (name, phone, e-mail, code, reference, date, URL) is
isolated — ``<bdi>`` in HTML, FSI…PDI (U+2068…U+2069) in text — so a phone number or a
code is never reordered inside Arabic or Hebrew.

The renderer prepares everything that does not depend on the person once per language;
per person it only fills the name, the code, the reference and the field list.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from babel.dates import format_date
from jinja2 import Environment, FileSystemLoader, Template
from markupsafe import Markup, escape

from vigie.breach import fonts, i18n
from vigie.breach.labels import label_ids
from vigie.breach.risk import SENSITIVE

TEMPLATES = Path(__file__).parent / "templates"
FSI, LRI, PDI = "\u2068", "\u2066", "\u2069"
# Values that are left-to-right whatever the language (numbers, addresses, codes) are
# isolated as LTR; names and dates take the direction of their own first letter.
LTR_VALUES = frozenset({"phone", "email", "url", "cnil", "code", "ref", "count"})
CNIL_URL = "www.cnil.fr"


@dataclass(frozen=True)
class NoticeContext:
    """What every notice of one incident shares."""

    incident_id: int
    controller: str
    phone: str
    email: str
    check_url: str
    aware_on: date


@dataclass(frozen=True)
class Recipient:
    """One affected person, as a notice needs them."""

    subject_id: int
    ref: str
    name: str
    language: str | None  # preferred_language as stored (BCP 47)
    fields: frozenset[str]
    code: str
    email: str | None = None
    phone: str | None = None
    address: str = ""


@dataclass(frozen=True)
class EmailNotice:
    """A rendered e-mail: subject, plain-text body and HTML body."""

    languages: tuple[str, ...]
    subject: str
    text: str
    html: str


_NO_ISOLATES = str.maketrans("", "", "\u2066\u2067\u2068\u2069")
SLOT = "\x01%s\x01"
_SLOT_RE = re.compile("\x01([a-z])\x01")


class _Slotted:
    """A rendered notice with slots for the person's name, code, reference and address.

    Everything else in a notice depends only on the language and the exposed fields, so
    it is rendered once and each person's notice is a join: that is what makes two
    million notices a matter of minutes.
    """

    __slots__ = ("_pieces",)

    def __init__(self, rendered: str) -> None:
        self._pieces = _SLOT_RE.split(rendered)  # literal, slot, literal, slot, ...

    def fill(self, r: Recipient, *, html: bool) -> str:
        values = {"n": r.name, "c": r.code, "r": r.ref, "a": r.address}
        pieces = self._pieces
        out = [pieces[0]]
        for i in range(1, len(pieces), 2):
            value = values[pieces[i]]
            out.append(str(escape(value)) if html else value)
            out.append(pieces[i + 1])
        return "".join(out)


def _isolate_html(value: str, *, ltr: bool = False) -> Markup:
    if ltr:
        return Markup('<bdi dir="ltr">%s</bdi>') % value
    return Markup("<bdi>%s</bdi>") % value


def _isolate_text(value: str, *, ltr: bool = False) -> str:
    return f"{LRI if ltr else FSI}{value}{PDI}"


class _Kit:
    """One language's environment, templates and per-incident values, built once."""

    def __init__(self, lang: str, ctx: NoticeContext) -> None:
        self.lang = lang
        self.dir = i18n.direction(lang)
        trans = i18n.translations(lang)
        self.gettext = trans.gettext
        self.html_env = self._env(trans, autoescape=True)
        self.text_env = self._env(trans, autoescape=False)
        when = format_date(ctx.aware_on, format="long", locale=i18n.babel_locale(lang))
        shared = {
            "controller": ctx.controller,
            "date": when,
            "phone": ctx.phone,
            "email": ctx.email,
            "url": ctx.check_url,
            "cnil": CNIL_URL,
        }
        self.html_shared = {k: _isolate_html(v, ltr=k in LTR_VALUES) for k, v in shared.items()}
        self.html_shared["controller"] = escape(ctx.controller)
        self.text_shared = {k: _isolate_text(v, ltr=k in LTR_VALUES) for k, v in shared.items()}
        self.text_shared["controller"] = ctx.controller
        self.separator = i18n.LIST_SEPARATORS.get(lang, ", ")
        self._labels: dict[frozenset[str], list[str]] = {}

    @staticmethod
    def _env(trans: Any, *, autoescape: bool) -> Environment:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=autoescape,  # noqa: S701 (text templates are plain text, not HTML)
            extensions=["jinja2.ext.i18n"],
            keep_trailing_newline=False,
            trim_blocks=False,
        )
        env.install_gettext_translations(trans, newstyle=True)  # type: ignore[attr-defined]
        return env

    def labels(self, fields: frozenset[str]) -> list[str]:
        got = self._labels.get(fields)
        if got is None:
            got = [self.gettext(m) for m in label_ids(fields)]
            if len(self._labels) < 4096:
                self._labels[fields] = got
        return got

    @cached_property
    def body_html(self) -> Template:
        return self.html_env.get_template("_body.html.j2")

    @cached_property
    def public_html(self) -> Template:
        return self.html_env.get_template("_public.html.j2")

    @cached_property
    def body_text(self) -> Template:
        return self.text_env.get_template("email.txt.j2")

    @cached_property
    def public_md(self) -> Template:
        return self.text_env.get_template("public.md.j2")

    @cached_property
    def subject(self) -> Template:
        return self.text_env.get_template("subject.txt.j2")

    @cached_property
    def sms(self) -> Template:
        return self.text_env.get_template("sms.txt.j2")


class NoticeRenderer:
    """Renders the notices of one incident, in every language it meets."""

    def __init__(
        self, ctx: NoticeContext, *, letter_fonts: fonts.PreparedFonts | None = None
    ) -> None:
        self.ctx = ctx
        self.letter_fonts = letter_fonts
        self._kits: dict[str, _Kit] = {}
        self._page_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
        self._email_page = self._page_env.get_template("email.html.j2")
        self._letter_page = self._page_env.get_template("letter.html.j2")
        self._cache: dict[tuple[str, str | None, frozenset[str]], tuple[_Slotted, ...]] = {}

    def kit(self, lang: str) -> _Kit:
        """The prepared kit of one catalogue language."""
        kit = self._kits.get(lang)
        if kit is None:
            kit = self._kits[lang] = _Kit(lang, self.ctx)
        return kit

    def _html_values(self, kit: _Kit, r: Recipient) -> dict[str, Any]:
        return {
            **kit.html_shared,
            "name": _isolate_html(r.name),
            "code": _isolate_html(r.code, ltr=True),
            "ref": _isolate_html(r.ref, ltr=True),
        }

    def _text_values(self, kit: _Kit, r: Recipient) -> dict[str, Any]:
        return {
            **kit.text_shared,
            "name": _isolate_text(r.name),
            "code": _isolate_text(r.code, ltr=True),
            "ref": _isolate_text(r.ref, ltr=True),
        }

    def _parts(self, r: Recipient, *, letter: bool = False) -> list[dict[str, Any]]:
        parts = []
        sensitive = bool(r.fields & SENSITIVE)
        for lang in i18n.languages_for(r.language):
            kit = self.kit(lang)
            v = self._html_values(kit, r)
            body = kit.body_html.render(v=v, labels=kit.labels(r.fields), sensitive=sensitive)
            title = kit.subject.render(v=self._text_values(kit, r)).strip()
            parts.append(
                {
                    "lang": lang,
                    "dir": kit.dir,
                    "body": Markup(body),  # noqa: S704 (rendered by an autoescaping template)
                    "title": title,
                    "fonts": self._font_stack(lang, letter=letter),
                }
            )
        return parts

    def email(self, r: Recipient) -> EmailNotice:
        """The e-mail notice of one person (subject, text, HTML)."""
        subject, text, html = self._slotted("email", r)
        return EmailNotice(
            languages=i18n.languages_for(r.language),
            subject=subject.fill(r, html=False),
            text=text.fill(r, html=False),
            html=html.fill(r, html=True),
        )

    def sms(self, r: Recipient) -> str:
        """The SMS notice of one person (plain text, values isolated)."""
        (text,) = self._slotted("sms", r)
        return text.fill(r, html=False)

    def letter_html(self, r: Recipient) -> str:
        """The letter of one person, as an HTML page for the PDF renderer."""
        (page,) = self._slotted("letter", r)
        return page.fill(r, html=True)

    def _slotted(self, kind: str, r: Recipient) -> tuple[_Slotted, ...]:
        """The notice of ``kind`` for people like ``r``, rendered once with slots."""
        key = (kind, r.language, r.fields)
        got = self._cache.get(key)
        if got is None:
            probe = Recipient(
                subject_id=0,
                ref=SLOT % "r",
                name=SLOT % "n",
                language=r.language,
                fields=r.fields,
                code=SLOT % "c",
                address=SLOT % "a",
            )
            if kind == "email":
                e = self._render_email(probe)
                got = (_Slotted(e.subject), _Slotted(e.text), _Slotted(e.html))
            elif kind == "sms":
                got = (_Slotted(self._render_sms(probe)),)
            else:
                got = (_Slotted(self._render_letter(probe)),)
            if len(self._cache) < 10_000:
                self._cache[key] = got
        return got

    def _render_email(self, r: Recipient) -> EmailNotice:
        langs = i18n.languages_for(r.language)
        sensitive = bool(r.fields & SENSITIVE)
        subjects, texts = [], []
        for lang in langs:
            kit = self.kit(lang)
            v = self._text_values(kit, r)
            subjects.append(kit.subject.render(v=v).strip())
            texts.append(
                kit.body_text.render(v=v, labels=kit.labels(r.fields), sensitive=sensitive)
            )
        parts = self._parts(r)
        html = self._email_page.render(
            lang=langs[0], dir=parts[0]["dir"], title=" / ".join(subjects), parts=parts
        )
        return EmailNotice(
            languages=langs,
            subject=" / ".join(subjects),
            text="\n\n----------\n\n".join(t.strip() + "\n" for t in texts),
            html=html,
        )

    def _render_sms(self, r: Recipient) -> str:
        out = []
        for lang in i18n.languages_for(r.language):
            kit = self.kit(lang)
            fields = kit.separator.join(kit.labels(r.fields))
            v = {**self._text_values(kit, r), "fields": fields}
            text = kit.sms.render(v=v).strip()
            if kit.dir == "ltr":
                # Nothing to reorder in a left-to-right SMS, and the isolates would force
                # UCS-2 encoding: 70 characters per SMS part instead of 160.
                text = text.translate(_NO_ISOLATES)
            out.append(text)
        return "\n".join(out)

    def _font_stack(self, lang: str, *, letter: bool) -> str:
        if letter and self.letter_fonts is not None:
            return self.letter_fonts.stack(lang)
        return fonts.css_stack(lang)

    @cached_property
    def check_qr(self) -> Markup:
        """A QR code to the check URL, as inline SVG drawn here (printed on letters)."""
        import segno

        svg = segno.make(self.ctx.check_url, error="m").svg_inline(
            scale=3, title=self.ctx.check_url
        )
        return Markup(svg)  # noqa: S704 (segno's own SVG; the URL in its title is escaped)

    def _render_letter(self, r: Recipient) -> str:
        parts = self._parts(r, letter=True)
        return self._letter_page.render(
            qr=self.check_qr,
            check_url=self.ctx.check_url,
            font_faces=Markup(self.letter_fonts.css if self.letter_fonts else ""),  # noqa: S704
            address_fonts=self._font_stack("fr", letter=True),
            lang=parts[0]["lang"],
            dir=parts[0]["dir"],
            title=parts[0]["title"],
            address=f"{r.name}\n{r.address}",
            parts=parts,
        )

    def public_html(
        self, *, count: int, fields: Collection[str], languages: Collection[str]
    ) -> str:
        """The public communication (Art. 34(3)(c)) as an HTML page, one section per language."""
        parts = []
        for lang in languages:
            kit = self.kit(lang)
            parts.append(
                {
                    "lang": lang,
                    "dir": kit.dir,
                    "body": self.public_body(lang, count=count, fields=fields),
                    "title": kit.gettext("Public notice: personal data breach"),
                    "fonts": fonts.css_stack(lang),
                }
            )
        return self._email_page.render(
            lang=parts[0]["lang"], dir=parts[0]["dir"], title=parts[0]["title"], parts=parts
        )

    def public_body(self, lang: str, *, count: int, fields: Collection[str]) -> Markup:
        """The public communication's body in ``lang`` (HTML, from its ``<h1>``)."""
        kit = self.kit(lang)
        v = {**kit.html_shared, "count": _isolate_html(_approximate(count), ltr=True)}
        body = kit.public_html.render(v=v, labels=kit.labels(frozenset(fields)))
        return Markup(body)  # noqa: S704 (rendered by an autoescaping template)

    def public_markdown(
        self, *, count: int, fields: Collection[str], languages: Collection[str]
    ) -> str:
        """The public communication as Markdown, one section per language."""
        out = []
        rounded = _approximate(count)
        for lang in languages:
            kit = self.kit(lang)
            v = {**kit.text_shared, "count": _isolate_text(rounded, ltr=True)}
            out.append(kit.public_md.render(v=v, labels=kit.labels(frozenset(fields))).strip())
        return "\n\n---\n\n".join(out) + "\n"


def _approximate(count: int) -> str:
    """A count rounded for a public notice (``2 100 000`` rather than ``2 097 311``)."""
    if count < 1_000:
        return str(count)
    digits = len(str(count)) - 2
    return f"{round(count, -digits):,}".replace(",", "\u202f")
