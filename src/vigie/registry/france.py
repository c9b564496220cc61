"""French administrative geography the registry validates against: regions and departments.

Regions are the INSEE codes of the 18 regions (13 metropolitan, 5 overseas). A postal code
names its department by its first two digits (three for overseas, ``97x``; Corsica's
``20xxx`` covers 2A and 2B), and the department names its region — so an address whose
postal code lies outside its stated region is refused on import.
"""

from __future__ import annotations

REGIONS: dict[str, str] = {
    "01": "Guadeloupe",
    "02": "Martinique",
    "03": "Guyane",
    "04": "La Réunion",
    "06": "Mayotte",
    "11": "Île-de-France",
    "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté",
    "28": "Normandie",
    "32": "Hauts-de-France",
    "44": "Grand Est",
    "52": "Pays de la Loire",
    "53": "Bretagne",
    "75": "Nouvelle-Aquitaine",
    "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse",
}

_DEPARTMENTS_BY_REGION: dict[str, tuple[str, ...]] = {
    "11": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "24": ("18", "28", "36", "37", "41", "45"),
    "27": ("21", "25", "39", "58", "70", "71", "89", "90"),
    "28": ("14", "27", "50", "61", "76"),
    "32": ("02", "59", "60", "62", "80"),
    "44": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),
    "52": ("44", "49", "53", "72", "85"),
    "53": ("22", "29", "35", "56"),
    "75": ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),
    "76": ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
    "84": ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),
    "93": ("04", "05", "06", "13", "83", "84"),
    "94": ("20",),  # postal codes 20xxx: Corse-du-Sud (2A) and Haute-Corse (2B)
    "01": ("971",),
    "02": ("972",),
    "03": ("973",),
    "04": ("974",),
    "06": ("976",),
}

DEPARTMENT_REGION: dict[str, str] = {
    dept: region for region, depts in _DEPARTMENTS_BY_REGION.items() for dept in depts
}


def region_of_postal_code(postal_code: str) -> str | None:
    """The INSEE region code of a French postal code, or None if it names no department."""
    if len(postal_code) != 5 or not postal_code.isdigit():
        return None
    if postal_code.startswith("97"):
        return DEPARTMENT_REGION.get(postal_code[:3])
    return DEPARTMENT_REGION.get(postal_code[:2])
