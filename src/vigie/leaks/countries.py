"""Countries and nationalities in any written form, to ISO 3166-1 alpha-3 (the registry's).

Accepts alpha-3 and alpha-2 codes, English names (pycountry), French names (CLDR via
babel) and the demonyms most frequent among CIR signatories in French and English
("marocaine", "Afghan"…). Everything is folded first (accents, case, punctuation).
"""

from __future__ import annotations

import re
from functools import cache, lru_cache

import pycountry
from babel import Locale
from unidecode import unidecode

# Demonyms (French masculine/feminine, English) of the commonest nationalities.
_DEMONYMS: dict[str, tuple[str, ...]] = {
    "AFG": ("afghan", "afghane"),
    "DZA": ("algerien", "algerienne", "algerian"),
    "MAR": ("marocain", "marocaine", "moroccan"),
    "TUN": ("tunisien", "tunisienne", "tunisian"),
    "SEN": ("senegalais", "senegalaise", "senegalese"),
    "MLI": ("malien", "malienne", "malian"),
    "CIV": ("ivoirien", "ivoirienne", "ivorian"),
    "GIN": ("guineen", "guineenne", "guinean"),
    "CMR": ("camerounais", "camerounaise", "cameroonian"),
    "COD": ("congolais", "congolaise", "congolese"),
    "COG": ("congolais (brazzaville)",),
    "HTI": ("haitien", "haitienne", "haitian"),
    "SYR": ("syrien", "syrienne", "syrian"),
    "TUR": ("turc", "turque", "turkish"),
    "UKR": ("ukrainien", "ukrainienne", "ukrainian"),
    "RUS": ("russe", "russian"),
    "CHN": ("chinois", "chinoise", "chinese"),
    "IND": ("indien", "indienne", "indian"),
    "PAK": ("pakistanais", "pakistanaise", "pakistani"),
    "BGD": ("bangladais", "bangladaise", "bangladeshi"),
    "LKA": ("sri-lankais", "sri-lankaise", "sri lankan"),
    "SDN": ("soudanais", "soudanaise", "sudanese"),
    "ERI": ("erythreen", "erythreenne", "eritrean"),
    "SOM": ("somalien", "somalienne", "somali"),
    "ETH": ("ethiopien", "ethiopienne", "ethiopian"),
    "NGA": ("nigerian", "nigeriane"),
    "COM": ("comorien", "comorienne", "comorian"),
    "MDG": ("malgache", "malagasy"),
    "BRA": ("bresilien", "bresilienne", "brazilian"),
    "COL": ("colombien", "colombienne", "colombian"),
    "VEN": ("venezuelien", "venezuelienne", "venezuelan"),
    "GEO": ("georgien", "georgienne", "georgian"),
    "ARM": ("armenien", "armenienne", "armenian"),
    "ALB": ("albanais", "albanaise", "albanian"),
    "IRN": ("iranien", "iranienne", "iranian"),
    "IRQ": ("irakien", "irakienne", "iraqi"),
    "VNM": ("vietnamien", "vietnamienne", "vietnamese"),
    "PHL": ("philippin", "philippine", "filipino"),
    "USA": ("americain", "americaine", "american"),
    "GBR": ("britannique", "british"),
    "EGY": ("egyptien", "egyptienne", "egyptian"),
    "LBN": ("libanais", "libanaise", "lebanese"),
    "MRT": ("mauritanien", "mauritanienne", "mauritanian"),
    "TCD": ("tchadien", "tchadienne", "chadian"),
    "BFA": ("burkinabe",),
    "BEN": ("beninois", "beninoise", "beninese"),
    "TGO": ("togolais", "togolaise", "togolese"),
    "GAB": ("gabonais", "gabonaise", "gabonese"),
    "NER": ("nigerien", "nigerienne", "nigerien"),
    "MUS": ("mauricien", "mauricienne", "mauritian"),
}


def _fold(text: str) -> str:
    return re.sub(r"[^a-z]+", " ", unidecode(text).lower()).strip()


@cache
def _table() -> dict[str, str]:
    table: dict[str, str] = {}
    french = Locale("fr").territories
    for c in pycountry.countries:
        a3, a2 = c.alpha_3, c.alpha_2
        table[a3.lower()] = a3
        table.setdefault(a2.lower(), a3)
        for attr in ("name", "common_name", "official_name"):
            value = getattr(c, attr, None)
            if value:
                table.setdefault(_fold(value), a3)
        if a2 in french:
            table.setdefault(_fold(french[a2]), a3)
    for a3, names in _DEMONYMS.items():
        for name in names:
            table.setdefault(_fold(name), a3)
    return table


@lru_cache(maxsize=10_000)
def country_code(text: str) -> str | None:
    """ISO alpha-3 code for a country or nationality written as code, name or demonym."""
    folded = _fold(text)
    if not folded:
        return None
    if len(folded) == 2 and text.strip().lower() != folded:
        return None
    return _table().get(folded)
