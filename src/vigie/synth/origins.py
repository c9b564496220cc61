"""Who the synthetic CIR signatories are: nationality mix and what goes with each origin.

Shares are in the spirit of France's recent arrivals and CIR signatories (Maghreb, West
and Central Africa, Afghanistan, Ukraine, Syria, Turkey, China...). For each nationality:
the share of women, preferred languages (BCP 47; deliberately *not* always the
nationality's main language), reasons of residence, birth countries when not the
nationality, and the window of entry dates (e.g. Ukrainians from 24 February 2022).

Dari is written ``fa-AF`` (Persian as used in Afghanistan), the tag most software and
CLDR know; the import also accepts ``prs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Origin:
    """Everything the generator needs to know about one nationality."""

    share: float
    female: float
    languages: dict[str, float]
    reasons: dict[str, float]
    entry_from: date = date(2019, 1, 1)
    born_abroad: dict[str, float] = field(default_factory=dict)


_EU = date(2019, 1, 1)

ORIGINS: dict[str, Origin] = {
    "DZA": Origin(
        0.14,
        0.52,
        {"ar": 0.45, "fr": 0.45, "kab": 0.10},
        {"family": 0.70, "work": 0.12, "studies": 0.15, "humanitarian": 0.03},
    ),
    "MAR": Origin(
        0.13,
        0.55,
        {"ar": 0.45, "fr": 0.40, "zgh": 0.10, "en": 0.05},
        {"family": 0.60, "work": 0.20, "studies": 0.20},
    ),
    "TUN": Origin(
        0.08,
        0.48,
        {"ar": 0.55, "fr": 0.43, "en": 0.02},
        {"family": 0.55, "work": 0.25, "studies": 0.20},
    ),
    "AFG": Origin(
        0.08,
        0.25,
        {"fa-AF": 0.55, "ps": 0.35, "en": 0.05, "fr": 0.05},
        {"asylum": 0.88, "family": 0.10, "humanitarian": 0.02},
        born_abroad={"IRN": 0.20, "PAK": 0.10},
    ),
    "UKR": Origin(
        0.08,
        0.70,
        {"uk": 0.62, "ru": 0.30, "en": 0.05, "fr": 0.03},
        {"temporary_protection": 0.92, "family": 0.04, "work": 0.04},
        entry_from=date(2022, 2, 24),
    ),
    "CIV": Origin(
        0.06,
        0.50,
        {"fr": 0.97, "en": 0.03},
        {"family": 0.55, "asylum": 0.15, "studies": 0.20, "work": 0.10},
    ),
    "CMR": Origin(
        0.045,
        0.52,
        {"fr": 0.80, "en": 0.20},
        {"family": 0.50, "studies": 0.25, "work": 0.15, "asylum": 0.10},
    ),
    "GIN": Origin(
        0.04,
        0.35,
        {"fr": 0.85, "ff": 0.15},
        {"asylum": 0.45, "family": 0.40, "studies": 0.10, "humanitarian": 0.05},
    ),
    "SEN": Origin(
        0.035, 0.45, {"fr": 0.80, "wo": 0.20}, {"family": 0.55, "studies": 0.25, "work": 0.20}
    ),
    "SYR": Origin(
        0.035,
        0.40,
        {"ar": 0.85, "ku": 0.08, "en": 0.04, "fr": 0.03},
        {"asylum": 0.85, "family": 0.13, "humanitarian": 0.02},
        born_abroad={"LBN": 0.04, "JOR": 0.03},
    ),
    "COD": Origin(
        0.03,
        0.50,
        {"fr": 0.90, "ln": 0.10},
        {"asylum": 0.40, "family": 0.45, "studies": 0.10, "work": 0.05},
    ),
    "BGD": Origin(
        0.03, 0.15, {"bn": 0.85, "en": 0.15}, {"asylum": 0.45, "family": 0.25, "work": 0.30}
    ),
    "TUR": Origin(
        0.03,
        0.45,
        {"tr": 0.85, "ku": 0.12, "en": 0.03},
        {"asylum": 0.20, "family": 0.55, "work": 0.20, "studies": 0.05},
        born_abroad={"DEU": 0.02},
    ),
    "CHN": Origin(
        0.03,
        0.55,
        {"zh": 0.85, "en": 0.10, "fr": 0.05},
        {"family": 0.35, "work": 0.35, "studies": 0.30},
    ),
    "HTI": Origin(
        0.025,
        0.55,
        {"fr": 0.55, "ht": 0.45},
        {"family": 0.60, "asylum": 0.30, "humanitarian": 0.10},
    ),
    "RUS": Origin(
        0.025,
        0.55,
        {"ru": 0.90, "en": 0.05, "fr": 0.05},
        {"asylum": 0.25, "family": 0.45, "work": 0.20, "studies": 0.10},
    ),
    "SDN": Origin(
        0.025,
        0.15,
        {"ar": 0.90, "en": 0.10},
        {"asylum": 0.85, "family": 0.15},
        born_abroad={"TCD": 0.05},
    ),
    "BRA": Origin(
        0.025, 0.55, {"pt-BR": 0.95, "en": 0.05}, {"family": 0.55, "work": 0.30, "studies": 0.15}
    ),
    "GEO": Origin(
        0.02,
        0.50,
        {"ka": 0.80, "ru": 0.15, "en": 0.05},
        {"asylum": 0.30, "family": 0.50, "work": 0.20},
    ),
    "ISR": Origin(
        0.015,
        0.50,
        {"he": 0.75, "en": 0.12, "fr": 0.08, "ru": 0.05},
        {"family": 0.55, "work": 0.35, "studies": 0.10},
    ),
    "USA": Origin(0.01, 0.50, {"en": 1.0}, {"family": 0.55, "work": 0.35, "studies": 0.10}),
    "GBR": Origin(0.01, 0.50, {"en": 1.0}, {"family": 0.55, "work": 0.35, "studies": 0.10}),
}

# Residence status given the reason (CESEDA titles, simplified).
STATUS_BY_REASON: dict[str, dict[str, float]] = {
    "asylum": {"refugee": 0.6, "subsidiary_protection": 0.4},
    "temporary_protection": {"temporary_protection": 1.0},
    "family": {"temporary_permit": 0.5, "multi_year_permit": 0.35, "resident_card": 0.15},
    "work": {"temporary_permit": 0.55, "multi_year_permit": 0.45},
    "studies": {"temporary_permit": 0.8, "multi_year_permit": 0.2},
    "humanitarian": {"temporary_permit": 0.7, "multi_year_permit": 0.3},
}

RESIDENCE_REASONS: tuple[str, ...] = tuple(STATUS_BY_REASON)
RESIDENCE_STATUSES: tuple[str, ...] = (
    "refugee",
    "subsidiary_protection",
    "temporary_protection",
    "temporary_permit",
    "multi_year_permit",
    "resident_card",
)

# Months between entry and the CIR signature: protection must be granted first.
CIR_DELAY_MONTHS: dict[str, tuple[int, int]] = {
    "asylum": (6, 24),
    "temporary_protection": (1, 12),
    "family": (1, 6),
    "work": (1, 6),
    "studies": (1, 9),
    "humanitarian": (3, 12),
}
