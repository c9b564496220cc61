"""Column typing by header and by value: table-driven, ~20 positive/negative per kind."""

from __future__ import annotations

import datetime as dt

import pytest

from vigie.leaks.countries import country_code
from vigie.leaks.kinds import (
    kind_from_header,
    name_tokens,
    normalize_phone,
    parse_date,
    value_matches,
    wildcard_match,
)

HEADERS = [
    ("nom", "family_name"), ("Nom de famille", "family_name"), ("NOM_USAGE", "family_name"),
    ("surname", "family_name"), ("last_name", "family_name"), ("LastName", "family_name"),
    ("prénom", "given_name"), ("Prenoms", "given_name"), ("first_name", "given_name"),
    ("FirstName", "given_name"), ("forename", "given_name"),
    ("nom_prenom", "full_name"), ("Nom complet", "full_name"), ("full name", "full_name"),
    ("name", "full_name"), ("identité", "full_name"),
    ("date_naiss", "birth_date"), ("Date de naissance", "birth_date"), ("DDN", "birth_date"),
    ("dob", "birth_date"), ("né(e) le", "birth_date"), ("birth_date", "birth_date"),
    ("date_of_birth", "birth_date"), ("dt_naiss", "birth_date"),
    ("tel", "phone"), ("Tél.", "phone"), ("téléphone", "phone"), ("portable", "phone"),
    ("phone_number", "phone"), ("mobile", "phone"), ("num_tel", "phone"), ("GSM", "phone"),
    ("courriel", "email"), ("E-mail", "email"), ("mail", "email"), ("adresse_mail", "email"),
    ("Adresse électronique", "email"),
    ("nationalite", "nationality"), ("Nationalité", "nationality"), ("nat", "nationality"),
    ("citizenship", "nationality"),
    ("motif_sejour", "residence_reason"), ("Motif de séjour", "residence_reason"),
    ("statut", "residence_status"), ("titre_sejour", "residence_status"),
    ("num_dossier", "ref"), ("N° dossier", "ref"), ("ref", "ref"), ("file_number", "ref"),
    ("AGDREF", "ref"),
    ("cp", "postal_code"), ("Code postal", "postal_code"), ("zip", "postal_code"),
    ("ville", "city"), ("commune", "city"), ("adresse", "address_line"),
    ("langue", "preferred_language"), ("date_entree", "entry_date"), ("sexe", "sex"),
    ("pseudonym", "pseudonym"), ("niveau", "course_level"),
]  # fmt: skip
NOT_HEADERS = ["foo", "colonne 7", "x", "", "montant", "commentaire", "total", "id_interne_42"]


@pytest.mark.parametrize(("header", "kind"), HEADERS)
def test_header_kind(header: str, kind: str) -> None:
    assert kind_from_header(header) == kind


@pytest.mark.parametrize("header", NOT_HEADERS)
def test_header_without_kind(header: str) -> None:
    assert kind_from_header(header) is None


VALUES = {
    "email": (
        ["a@example.org", "jean.dupont@mail.example", "X_Y+tag@courriel.example",
         "o'brien@example.org", "a.b-c@sub.mail.example", "UPPER@EXAMPLE.ORG",
         "n1@boite.example", "ab@cd.ef.example", "first.last@example.co", "z@z.example"],
        ["jean.dupont", "@example.org", "a@b", "a@@example.org", "a b@example.org",
         "example.org", "mailto:", "06 12 34 56 78", "", "a@example"],
    ),
    "phone": (
        ["06 12 34 56 78", "0612345678", "+33 6 12 34 56 78", "+33612345678", "0033612345678",
         "06.12.34.56.78", "06-12-34-56-78", "+33 (0)6 12 34 56 78", "+212 6 12 34 56 78",
         "01 23 45 67 89"],
        ["12", "06 12", "jean", "2024-01-01", "+", "0000", "abc 12 34 56 78", "", "12/03/1990",
         "a@example.org"],
    ),
    "date": (
        ["12/03/1990", "1990-03-12", "12-03-1990", "12.03.1990", "19900312", "3 mars 1990",
         "1er janvier 2001", "March 3, 1990", "12/03/90", "31/12/1999"],
        ["hello", "32/01/1990", "1990-13-01", "12", "", "abc", "1990", "06 12 34 56 78",
         "a@example.org", "99/99/9999"],
    ),
    "pseudonym": (
        ["abcdefghijklmnopqrstuvwxy2", "a2b3c4d5e6f7g2h3i4j5k6l7m2", "zzzzzzzzzzzzzzzzzzzzzzzzz7",
         "ABCDEFGHIJKLMNOPQRSTUVWXY2", "qwertyuiopasdfghjklzxcvbn2", "m4m4m4m4m4m4m4m4m4m4m4m4m4",
         "aaaaaaaaaaaaaaaaaaaaaaaaa3", "bbbbbbbbbbbbbbbbbbbbbbbbb4", "ccccccccccccccccccccccccc5",
         "ddddddddddddddddddddddddd6"],
        ["abc", "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxy1",
         "abcdefghijklmnopqrstuvwxy8", "abcdefghijklmnopqrstuvwxy29", "jean dupont",
         "", "0123456789012345678901234", "a@example.org", "abcdefghijklmnopqrstuvwxy-"],
    ),
    "nationality": (
        ["AFG", "MAR", "ma", "Maroc", "Morocco", "marocaine", "Afghane", "Syrie", "Ukraine",
         "Côte d'Ivoire"],
        ["Dupont", "xx", "", "123", "Narnia", "jean", "QQQ", "a@example.org", "Lune", "Atlantide"],
    ),
    "postal_code": (
        ["75001", "13008", "69003", "01000", "97411", "33000", "59000", "67000", "06000", "20000"],
        ["7500", "750011", "ABCDE", "", "75 001", "2A004x", "1", "75-001", "jean", "a@b"],
    ),
    "sex": (
        ["F", "M", "X", "f", "m", "Femme", "Homme", "male", "female", "H"],
        ["", "Z", "fem", "hommes", "1", "0", "jean", "MF", "?", "n/a"],
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [(k, v, True) for k, (pos, _neg) in VALUES.items() for v in pos]
    + [(k, v, False) for k, (_pos, neg) in VALUES.items() for v in neg],
)
def test_value_kind(kind: str, text: str, expected: bool) -> None:
    assert value_matches(kind, text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("06 12 34 56 78", "+33612345678"), ("+33 (0)6 12 34 56 78", "+33612345678"),
     ("0033612345678", "+33612345678"), ("+212 6 12 34 56 78", "+212612345678"),
     ("06.12.34.56.78", "+33612345678"), ("jean", None)],
)  # fmt: skip
def test_phone_normalisation(text: str, expected: str | None) -> None:
    assert normalize_phone(text) == expected


def test_dates_day_first_unless_told() -> None:
    assert parse_date("03/04/1990") == dt.date(1990, 4, 3)
    assert parse_date("03/04/1990", day_first=False) == dt.date(1990, 3, 4)
    assert parse_date("13/04/1990", day_first=False) == dt.date(1990, 4, 13)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Aïssatou N'Diaye", "NDIAYE aissatou"), ("Jean-Pierre Dupont", "dupont jean pierre"),
     ("Müller Zoë", "MULLER ZOE"), ("Ольга Иванова", "olga ivanova")],
)  # fmt: skip
def test_name_tokens_fold_accents_scripts_and_order(a: str, b: str) -> None:
    assert sorted("".join(name_tokens(a))) == sorted("".join(name_tokens(b)))


def test_country_codes() -> None:
    assert country_code("Afghanistan") == country_code("afghane") == "AFG"
    assert country_code("Dupont") is None


@pytest.mark.parametrize(
    ("leaked", "registry", "fits"),
    [("Y?ld?z Ay?e", "Yıldız Ayşe", True), ("Ay?e Y?ld?z", "Yıldız Ayşe", True),
     ("\ufffdukasz Nowak", "Łukasz Nowak", True), ("Y?ld?z Ay?e", "Yıldız Fatma", False),
     ("Dupont Jean", "Dupont Jean", False), ("Y?ld?z", "Yıldız Ayşe", False)],
)  # fmt: skip
def test_letters_lost_to_the_encoding_are_wildcards(leaked: str, registry: str, fits: bool) -> None:
    a = " ".join(sorted(name_tokens(leaked)))
    b = " ".join(sorted(name_tokens(registry)))
    assert wildcard_match(a, b) is fits


PLACEHOLDER_VALUES = ["", " ", "-", "--", "?", "/", "—", ".", "N/A", "n/a", "NA", "NC", "n.c.",
                      "inconnu", "Inconnue", "non renseigné", "NON RENSEIGNEE", "néant", "NULL",
                      "None", "unknown", "0", "000", "00/00/0000", "0000-00-00", "XXX", "xx",
                      "TBD", "vide"]  # fmt: skip
REAL_VALUES = ["X", "F", "M", "FRA", "Afghanistan", "75001", "01", "2A", "06 12 34 56 78",
               "Zoé", "Nadia", "Хасанов", "أحمد", "٣", "1990", "12/03/1990",
               "a@example.org", "A1", "valid", "Nc-Ville"]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "placeholder"),
    [(v, True) for v in PLACEHOLDER_VALUES] + [(v, False) for v in REAL_VALUES],
)
def test_placeholders_in_python_and_in_sql(text: str, placeholder: bool) -> None:
    import duckdb

    from vigie.leaks.kinds import is_placeholder, placeholder_sql

    assert is_placeholder(text) is placeholder
    with duckdb.connect(":memory:") as con:
        con.execute("CREATE TABLE t (v VARCHAR)")
        con.execute("INSERT INTO t VALUES (?)", [text])
        row = con.execute(f"SELECT {placeholder_sql('v')} FROM t").fetchall()
    assert row[0][0] is placeholder
