"""How a notice names each exposed field, in words a person understands.

The labels are English gettext message ids; their translations are in the catalogues.
Several registry fields share one label (the three address fields are "your postal
address"), so a notice never lists the same thing twice.
"""

from __future__ import annotations

from collections.abc import Collection


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here."""
    return message


FIELD_LABELS: dict[str, str] = {
    "given_name": N_("your name"),
    "family_name": N_("your name"),
    "given_name_native": N_("your name in your own script"),
    "family_name_native": N_("your name in your own script"),
    "birth_date": N_("your date of birth"),
    "sex": N_("your sex"),
    "birth_country": N_("your country of birth"),
    "nationality": N_("your nationality"),
    "preferred_language": N_("your preferred language"),
    "email": N_("your e-mail address"),
    "phone": N_("your phone number"),
    "address_line": N_("your postal address"),
    "postal_code": N_("your postal address"),
    "city": N_("your postal address"),
    "region": N_("your region"),
    "entry_date": N_("your date of entry into France"),
    "residence_reason": N_("the reason for your residence permit"),
    "residence_status": N_("your residence status"),
    "cir_signed_on": N_("the date you signed your integration contract"),
    "course_hours": N_("your training course details"),
    "course_level": N_("your training course details"),
    "ref": N_("your file number"),
    "pseudonym": N_("an internal identifier used by our subcontractor"),
}
ORDER: tuple[str, ...] = tuple(FIELD_LABELS)


def label_ids(fields: Collection[str]) -> list[str]:
    """The distinct labels (message ids) of ``fields``, in a stable, readable order.

    A field without a label is refused: a notice must never omit an exposed field.
    """
    unknown = set(fields) - set(FIELD_LABELS)
    if unknown:
        raise ValueError(f"no notice label for field(s) {sorted(unknown)}")
    out: list[str] = []
    for name in ORDER:
        if name in fields and FIELD_LABELS[name] not in out:
            out.append(FIELD_LABELS[name])
    return out
