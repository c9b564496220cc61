"""What a leaked column holds: its *kind*, from its header and from its values.

Kinds are the registry's field names (``SUBJECT_FIELDS``) plus ``full_name`` (given and
family name in one column), ``pseudonym`` (a per-processor pseudonym), ``date`` (a date
whose meaning the header does not tell) and ``unknown``.

Headers are matched after folding (accents stripped, lower case, punctuation removed)
against French and English names and their usual abbreviations (``nom``, ``prénom``,
``date_naiss``, ``tel``, ``courriel``, ``nationalite``, ``motif_sejour``,
``num_dossier``…). Values are recognised by :func:`value_matches` (pure, table-tested)
or, for the registry's vocabularies (residence reason, status, language, names, refs), by
their share of values found in the registry.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

import phonenumbers
from unidecode import unidecode

FULL_NAME = "full_name"
PSEUDONYM = "pseudonym"
DATE = "date"
UNKNOWN = "unknown"

# Field -> folded header names (exact) ; prefixes/fragments are in _FRAGMENTS.
_HEADERS: dict[str, tuple[str, ...]] = {
    "ref": (
        "ref",
        "reference",
        "numdossier",
        "dossier",
        "nodossier",
        "ndossier",
        "numerodossier",
        "dossierno",
        "filenumber",
        "fileno",
        "casenumber",
        "caseref",
        "idofii",
        "refofii",
        "agdref",
        "numeroagdref",
        "numetranger",
        "numeroetranger",
        "controllerref",
    ),
    "given_name": (
        "prenom",
        "prenoms",
        "firstname",
        "givenname",
        "forename",
        "fname",
        "pnom",
        "prenomusuel",
        "first",
    ),
    "family_name": (
        "nom",
        "nomfamille",
        "nomdefamille",
        "nomusage",
        "nomnaissance",
        "lastname",
        "surname",
        "familyname",
        "lname",
        "patronyme",
        "last",
    ),
    "given_name_native": ("prenomnatif", "prenomorigine", "givennamenative", "nativegivenname"),
    "family_name_native": ("nomnatif", "nomorigine", "familynamenative", "nativefamilyname"),
    FULL_NAME: (
        "nomcomplet",
        "nomprenom",
        "prenomnom",
        "fullname",
        "name",
        "identite",
        "beneficiaire",
        "stagiaire",
        "personne",
        "signataire",
        "nometprenom",
        "displayname",
    ),
    "birth_date": (
        "datenaiss",
        "datenaissance",
        "datedenaissance",
        "dob",
        "birthdate",
        "dateofbirth",
        "nele",
        "neele",
        "nee",
        "naissance",
        "ddn",
        "dtnaiss",
        "datnaiss",
        "birthday",
        "born",
    ),
    "sex": ("sexe", "sex", "genre", "gender", "civilite", "civ", "title"),
    "birth_country": (
        "paysnaissance",
        "paysnaiss",
        "birthcountry",
        "countryofbirth",
        "paysdenaissance",
        "lieunaissance",
        "placeofbirth",
    ),
    "nationality": ("nationalite", "nat", "nationality", "citizenship", "paysnationalite", "natio"),
    "preferred_language": (
        "langue",
        "language",
        "lang",
        "languematernelle",
        "languepreferee",
        "preferredlanguage",
        "langage",
    ),
    "email": (
        "email",
        "mail",
        "courriel",
        "adressemail",
        "adresseemail",
        "mel",
        "emailaddress",
        "adressecourriel",
        "adresseelectronique",
    ),
    "phone": (
        "tel",
        "telephone",
        "portable",
        "mobile",
        "phone",
        "phonenumber",
        "gsm",
        "numerotel",
        "telportable",
        "numtel",
        "tel1",
        "tel2",
        "telfixe",
        "cellphone",
        "cell",
        "numero",
    ),
    "address_line": (
        "adresse",
        "address",
        "rue",
        "voie",
        "adressepostale",
        "street",
        "addressline",
        "adr",
        "domicile",
    ),
    "postal_code": ("cp", "codepostal", "postcode", "zip", "zipcode", "postalcode", "codepost"),
    "city": ("ville", "commune", "city", "town", "localite"),
    "region": ("region", "coderegion", "reg"),
    "entry_date": (
        "dateentree",
        "entrydate",
        "datearrivee",
        "arrivee",
        "dateentreefrance",
        "datedentree",
        "arrival",
        "arrivaldate",
    ),
    "residence_reason": (
        "motifsejour",
        "motif",
        "residencereason",
        "reason",
        "motifadmission",
        "categorietitre",
        "motifdesejour",
    ),
    "residence_status": (
        "statut",
        "status",
        "statutsejour",
        "titresejour",
        "titre",
        "residencestatus",
        "typetitre",
        "titredesejour",
    ),
    "cir_signed_on": (
        "datecir",
        "datesignature",
        "cirsignedon",
        "datesignaturecir",
        "signaturecir",
        "cir",
        "datecontrat",
    ),
    "course_hours": (
        "heures",
        "nbheures",
        "coursehours",
        "heuresformation",
        "volumehoraire",
        "hours",
    ),
    "course_level": ("niveau", "level", "courselevel", "niveaucible", "niveaulangue", "cefr"),
    PSEUDONYM: ("pseudonym", "pseudo", "pseudonyme", "token", "subjectid", "personid", "uid"),
}
_FRAGMENTS: tuple[tuple[str, str], ...] = (
    ("naiss", "birth_date"),
    ("birth", "birth_date"),
    ("prenom", "given_name"),
    ("firstname", "given_name"),
    ("mail", "email"),
    ("courriel", "email"),
    ("tel", "phone"),
    ("phone", "phone"),
    ("nationalit", "nationality"),
    ("dossier", "ref"),
    ("motif", "residence_reason"),
    ("statut", "residence_status"),
    ("postal", "postal_code"),
    ("adress", "address_line"),
    ("entree", "entry_date"),
    ("surname", "family_name"),
    ("lastname", "family_name"),
    ("langu", "preferred_language"),
    ("pseudo", PSEUDONYM),
)
_BY_HEADER = {name: kind for kind, names in _HEADERS.items() for name in names}


def fold(text: str) -> str:
    """Accents stripped (any script transliterated), lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]+", "", unidecode(text).lower())


def kind_from_header(header: str) -> str | None:
    """The kind a header names, or None when it names nothing known."""
    folded = fold(header)
    if not folded:
        return None
    if folded in _BY_HEADER:
        return _BY_HEADER[folded]
    for prefix in ("num", "no", "n", "date", "dt", "adresse", "code", "le", "la", "les"):
        if folded.startswith(prefix) and folded[len(prefix) :] in _BY_HEADER:
            kind = _BY_HEADER[folded[len(prefix) :]]
            if prefix in {"date", "dt"} and kind not in {
                "birth_date",
                "entry_date",
                "cir_signed_on",
            }:
                return DATE
            return kind
    for fragment, kind in _FRAGMENTS:
        if fragment in folded:
            return kind
    if folded.startswith("date") or folded.endswith("date"):
        return DATE
    return None


# -- values -------------------------------------------------------------------------------

EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
PSEUDONYM_RE = re.compile(r"^[a-z2-7]{26}$", re.IGNORECASE)
_PHONE_CHARS = re.compile(r"^\+?[\d\s().\-/]{8,24}$")
_NAME_RE = re.compile(r"^[^\W\d_]+(?:[ '’\-.][^\W\d_]+){0,5}\.?$")
_SEX = {
    "f",
    "m",
    "x",
    "h",
    "femme",
    "homme",
    "male",
    "female",
    "masculin",
    "feminin",
    "mme",
    "mr",
    "m.",
    "mlle",
    "madame",
    "monsieur",
}

MONTHS = {
    "janvier": 1,
    "janv": 1,
    "january": 1,
    "jan": 1,
    "fevrier": 2,
    "fevr": 2,
    "fev": 2,
    "february": 2,
    "feb": 2,
    "mars": 3,
    "march": 3,
    "mar": 3,
    "avril": 4,
    "avr": 4,
    "april": 4,
    "apr": 4,
    "mai": 5,
    "may": 5,
    "juin": 6,
    "june": 6,
    "jun": 6,
    "juillet": 7,
    "juil": 7,
    "july": 7,
    "jul": 7,
    "aout": 8,
    "august": 8,
    "aug": 8,
    "septembre": 9,
    "sept": 9,
    "september": 9,
    "sep": 9,
    "octobre": 10,
    "oct": 10,
    "october": 10,
    "novembre": 11,
    "nov": 11,
    "november": 11,
    "decembre": 12,
    "dec": 12,
    "december": 12,
}
_NUMERIC_DATE = re.compile(
    r"^(\d{1,4})([/.\-]|\s)(\d{1,2})\2(\d{1,4})(?:[T ]\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?Z?)?$"
)
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_WORD_DATE = re.compile(r"^(\d{1,2})(?:er)?\s+([^\W\d_]+)\.?\s+(\d{4})$")
_WORD_DATE_EN = re.compile(r"^([^\W\d_]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")


def parse_date(text: str, *, day_first: bool = True) -> dt.date | None:
    """A date in any common written form (ISO, dd/mm/yyyy, yyyymmdd, "3 mars 1990"…)."""
    s = text.strip()
    m = _NUMERIC_DATE.match(s)
    try:
        if m:
            a, _sep, b, c = m.groups()
            if len(a) == 4:
                return dt.date(int(a), int(b), int(c))
            year = int(c) if len(c) == 4 else (2000 + int(c) if int(c) < 30 else 1900 + int(c))
            if len(c) not in (2, 4):
                return None
            day, month = (int(a), int(b)) if day_first else (int(b), int(a))
            if month > 12 and day <= 12:
                day, month = month, day
            return dt.date(year, month, day)
        m = _COMPACT_DATE.match(s)
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        folded = unidecode(s).lower()
        m = _WORD_DATE.match(folded)
        if m and m[2] in MONTHS:
            return dt.date(int(m[3]), MONTHS[m[2]], int(m[1]))
        m = _WORD_DATE_EN.match(folded)
        if m and m[1] in MONTHS:
            return dt.date(int(m[3]), MONTHS[m[1]], int(m[2]))
    except ValueError:
        return None
    return None


@lru_cache(maxsize=200_000)
def normalize_phone(text: str, region: str = "FR") -> str | None:
    """E.164 form of a phone number written in any national or international format."""
    s = text.strip()
    if not _PHONE_CHARS.match(s):
        return None
    if s.startswith("00"):
        s = "+" + s[2:]
    try:
        number = phonenumbers.parse(s, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def name_tokens(text: str) -> list[str]:
    """A name's tokens, transliterated and folded: "N'Diaye Aïssatou" -> n, diaye, aissatou.

    A letter lost to a narrow encoding (``?`` or U+FFFD, as when "Yıldız" is written in
    cp1252) stays as ``?``, a one-letter wildcard for :func:`wildcard_match`.
    """
    text = text.replace("\ufffd", "?")
    return [t for t in re.sub(r"[^a-z?]+", " ", unidecode(text).lower()).split() if t.strip("?")]


@lru_cache(maxsize=100_000)
def _wildcard_pattern(token: str) -> re.Pattern[str]:
    """``token`` with each ``?`` standing for one letter or two (a lost non-Latin letter
    may transliterate to either)."""
    return re.compile(re.escape(token).replace(r"\?", ".{1,2}"))


def wildcard_match(a: str, b: str) -> bool:
    """Whether name key ``a`` (tokens, ``?`` for a lost letter) fits name key ``b``."""
    if "?" not in a:
        return False
    left = b.split()
    for token in a.split():
        pattern = _wildcard_pattern(token)
        hit = next((t for t in left if pattern.fullmatch(t)), None)
        if hit is None:
            return False
        left.remove(hit)
    return not left


def value_matches(kind: str, text: str) -> bool:
    """Whether ``text`` looks like a value of ``kind`` on its own (format kinds only)."""
    s = text.strip()
    if not s:
        return False
    if kind == "email":
        return bool(EMAIL_RE.match(s))
    if kind == PSEUDONYM:
        return bool(PSEUDONYM_RE.match(s)) and any(ch.isdigit() for ch in s)
    if kind == "phone":
        return normalize_phone(s) is not None and sum(ch.isdigit() for ch in s) >= 9
    if kind == DATE:
        d = parse_date(s)
        return d is not None and 1900 <= d.year <= 2100
    if kind == "postal_code":
        return bool(re.fullmatch(r"\d{5}", s))
    if kind == "sex":
        return s.lower() in _SEX
    if kind == "name":
        return bool(_NAME_RE.match(s)) and not EMAIL_RE.match(s) and len(s) <= 80
    if kind == "nationality":
        from vigie.leaks.countries import country_code

        return country_code(s) is not None
    return False


FORMAT_KINDS = ("email", PSEUDONYM, "phone", DATE, "postal_code", "sex", "nationality")


# Values that stand for "no value" in spreadsheets and exports, folded (:func:`fold`).
PLACEHOLDERS = frozenset(
    {
        "na", "nan", "nc", "nd", "nr", "ns", "sans", "aucun", "aucune", "neant", "vide",
        "inconnu", "inconnue", "nonconnu", "nonrenseigne", "nonrenseignee", "nonapplicable",
        "unknown", "null", "none", "nil", "empty", "tbd", "todo", "ras", "undefined",
    }
)  # fmt: skip
# Folded values made of zeros only ("0", "00/00/0000") or of two x or more ("XXX").
_PLACEHOLDER_PATTERN = "0+|x{2,}"


def is_placeholder(text: str) -> bool:
    """Whether a written value stands for "no value": punctuation only ("-", "?", "/"),
    a placeholder word ("N/A", "inconnu", "non renseigné") or zeros/``x`` only."""
    if not any(ch.isalnum() for ch in text):
        return True
    folded = fold(text)
    return folded in PLACEHOLDERS or bool(re.fullmatch(_PLACEHOLDER_PATTERN, folded))


def placeholder_sql(value: str) -> str:
    """DuckDB SQL of :func:`is_placeholder` for the non-NULL text expression ``value``."""
    folded = f"regexp_replace(lower(strip_accents({value})), '[^a-z0-9]+', '', 'g')"
    words = ", ".join(f"'{w}'" for w in sorted(PLACEHOLDERS))
    return (
        f"(NOT regexp_matches({value}, '[\\pL\\pN]') OR {folded} IN ({words}) "
        f"OR regexp_full_match({folded}, '{_PLACEHOLDER_PATTERN}'))"
    )
