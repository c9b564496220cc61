"""Where the synthetic people live: regions, their cities with postal codes, streets.

Region shares follow where newcomers settle (Île-de-France first, then the big
metropolitan areas). Each region lists real towns with their postal codes and a weight;
Paris, Lyon and Marseille spread over their arrondissements. Overseas regions are left
out of the synthetic population (the registry accepts them on import).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    """A town, its postal codes and its weight within the region."""

    name: str
    postal_codes: tuple[str, ...]
    weight: float


def _c(name: str, codes: str, weight: float) -> City:
    return City(name, tuple(codes.split()), weight)


def _arr(prefix: str, count: int) -> str:
    return " ".join(f"{prefix}{i:02d}" for i in range(1, count + 1))


REGION_SHARES: dict[str, float] = {
    "11": 0.415, "84": 0.11, "93": 0.08, "44": 0.07, "76": 0.06, "32": 0.06, "75": 0.05,
    "52": 0.04, "53": 0.03, "28": 0.03, "24": 0.025, "27": 0.025, "94": 0.005,
}  # fmt: skip

CITIES: dict[str, tuple[City, ...]] = {
    "11": (
        _c("Paris", _arr("750", 20), 0.30), _c("Saint-Denis", "93200 93210", 0.06),
        _c("Montreuil", "93100", 0.05), _c("Aubervilliers", "93300", 0.05),
        _c("Créteil", "94000", 0.04), _c("Argenteuil", "95100", 0.04),
        _c("Nanterre", "92000", 0.04), _c("Vitry-sur-Seine", "94400", 0.04),
        _c("Aulnay-sous-Bois", "93600", 0.04), _c("Sarcelles", "95200", 0.04),
        _c("Évry-Courcouronnes", "91000 91080", 0.03), _c("Cergy", "95000 95800", 0.03),
        _c("Bobigny", "93000", 0.03), _c("Pantin", "93500", 0.03),
        _c("Mantes-la-Jolie", "78200", 0.03), _c("Meaux", "77100", 0.03),
        _c("Melun", "77000", 0.02), _c("Versailles", "78000", 0.02),
        _c("Boulogne-Billancourt", "92100", 0.02), _c("Saint-Ouen-sur-Seine", "93400", 0.03),
        _c("Clichy-sous-Bois", "93390", 0.01),
    ),
    "84": (
        _c("Lyon", _arr("690", 9), 0.35), _c("Villeurbanne", "69100", 0.10),
        _c("Vénissieux", "69200", 0.07), _c("Grenoble", "38000 38100", 0.12),
        _c("Saint-Étienne", "42000 42100", 0.10), _c("Clermont-Ferrand", "63000 63100", 0.08),
        _c("Annemasse", "74100", 0.05), _c("Valence", "26000", 0.05),
        _c("Chambéry", "73000", 0.04), _c("Vaulx-en-Velin", "69120", 0.04),
    ),
    "93": (
        _c("Marseille", " ".join(f"130{i:02d}" for i in range(1, 17)), 0.45),
        _c("Nice", "06000 06100 06200 06300", 0.18), _c("Toulon", "83000 83100 83200", 0.10),
        _c("Avignon", "84000", 0.08), _c("Aix-en-Provence", "13090 13100", 0.07),
        _c("Cannes", "06400", 0.04), _c("Gap", "05000", 0.03), _c("Digne-les-Bains", "04000", 0.05),
    ),
    "44": (
        _c("Strasbourg", "67000 67100 67200", 0.30), _c("Mulhouse", "68100 68200", 0.15),
        _c("Metz", "57000 57050 57070", 0.15), _c("Nancy", "54000 54100", 0.12),
        _c("Reims", "51100", 0.12), _c("Troyes", "10000", 0.08), _c("Colmar", "68000", 0.08),
    ),
    "76": (
        _c("Toulouse", "31000 31100 31200 31300 31400 31500", 0.45),
        _c("Montpellier", "34000 34070 34080 34090", 0.30), _c("Nîmes", "30000 30900", 0.10),
        _c("Perpignan", "66000 66100", 0.10), _c("Béziers", "34500", 0.05),
    ),
    "32": (
        _c("Lille", "59000 59160 59260 59800", 0.30), _c("Roubaix", "59100", 0.15),
        _c("Tourcoing", "59200", 0.10), _c("Amiens", "80000 80080 80090", 0.15),
        _c("Calais", "62100", 0.08), _c("Creil", "60100", 0.10), _c("Saint-Quentin", "02100", 0.07),
        _c("Dunkerque", "59140 59240", 0.05),
    ),
    "75": (
        _c("Bordeaux", "33000 33100 33200 33300 33800", 0.40), _c("Poitiers", "86000", 0.12),
        _c("Limoges", "87000 87100", 0.12), _c("Pau", "64000", 0.10),
        _c("La Rochelle", "17000", 0.08), _c("Bayonne", "64100", 0.08),
        _c("Mérignac", "33700", 0.10),
    ),
    "52": (
        _c("Nantes", "44000 44100 44200 44300", 0.45), _c("Angers", "49000 49100", 0.20),
        _c("Le Mans", "72000 72100", 0.20), _c("Saint-Nazaire", "44600", 0.08),
        _c("La Roche-sur-Yon", "85000", 0.07),
    ),
    "53": (
        _c("Rennes", "35000 35200 35700", 0.45), _c("Brest", "29200", 0.20),
        _c("Lorient", "56100", 0.12), _c("Saint-Brieuc", "22000", 0.12),
        _c("Quimper", "29000", 0.11),
    ),
    "28": (
        _c("Rouen", "76000 76100", 0.35), _c("Le Havre", "76600 76610 76620", 0.25),
        _c("Caen", "14000", 0.25), _c("Évreux", "27000", 0.10),
        _c("Cherbourg-en-Cotentin", "50100", 0.05),
    ),
    "24": (
        _c("Orléans", "45000 45100", 0.35), _c("Tours", "37000 37100 37200", 0.35),
        _c("Bourges", "18000", 0.12), _c("Blois", "41000", 0.10), _c("Chartres", "28000", 0.08),
    ),
    "27": (
        _c("Dijon", "21000", 0.35), _c("Besançon", "25000", 0.30), _c("Belfort", "90000", 0.12),
        _c("Auxerre", "89000", 0.08), _c("Chalon-sur-Saône", "71100", 0.08),
        _c("Montbéliard", "25200", 0.07),
    ),
    "94": (_c("Ajaccio", "20000 20090", 0.55), _c("Bastia", "20200 20600", 0.45)),
}  # fmt: skip

STREETS: tuple[str, ...] = (
    "rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Gambetta",
    "rue Pasteur", "rue de la Paix", "avenue de la Libération", "rue du Général de Gaulle",
    "rue Jules Ferry", "place de la Mairie", "rue des Écoles", "allée des Tilleuls",
    "rue Émile Zola", "chemin des Vignes", "impasse des Lilas", "avenue du Maréchal Foch",
    "rue Jean Moulin", "rue de Verdun", "rue Voltaire", "rue Carnot", "rue Paul Bert",
    "rue Anatole France", "rue du Moulin", "rue de l'Église", "rue du Stade",
    "avenue Aristide Briand", "rue Gabriel Péri", "boulevard de la Liberté", "rue Lamartine",
    "rue des Acacias", "rue Pierre Curie", "rue Marcel Cachin", "cité des Fleurs",
    "résidence les Peupliers", "rue Saint-Exupéry", "avenue Salvador Allende",
)  # fmt: skip
