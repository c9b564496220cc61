"""`vigie secrets rotate KIND`: new keys that keep every old proof, code and attribution valid."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from vigie.cli.context import console, instance, print_json
from vigie.cli.processors import operator
from vigie.errors import InvalidInput

group = typer.Typer(
    help="The instance's secrets: rotate them without invalidating what they signed "
    "(docs/operations.md, key rotation).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


class Kind(StrEnum):
    """What `vigie secrets rotate` can rotate."""

    AUDIT_SIGNING = "audit-signing"
    NOTICE_CODES = "notice-codes"
    WEBHOOK = "webhook"
    PSEUDONYMS = "pseudonyms"
    INSTANCE_KEY = "instance-key"


def register(app: typer.Typer) -> None:
    """Add the ``secrets`` group to ``app``."""
    app.add_typer(group, name="secrets")


@group.command("rotate")
def rotate_command(
    ctx: typer.Context,
    kind: Annotated[
        Kind,
        typer.Argument(
            help="Which secret: audit-signing, notice-codes, webhook, pseudonyms, instance-key."
        ),
    ],
    processor: str | None = typer.Option(
        None, "--processor", help="The processor whose pseudonyms to rotate (pseudonyms only)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what was rotated as JSON."),
) -> None:
    """Rotate a secret; audited, and fail closed (nothing changes unless all of it does).

    - `audit-signing`: a new checkpoint key; old checkpoints still verify with the old key
      (the key history, carried by exports). Publish the new fingerprint.
    - `notice-codes`: a new notice-code key; codes already sent still verify.
    - `webhook`: new webhook secrets; the old ones stay valid for
      VIGIE_WEBHOOK_ROTATION_OVERLAP_HOURS.
    - `pseudonyms --processor NAME`: new pseudonyms for one processor, which fetches the
      old → new mapping once (`GET /api/v1/pseudonyms/rotation`); leaks with old
      pseudonyms are still attributed.
    - `instance-key`: a new instance.key; the retired ones are re-wrapped under it, so
      every key derived so far still derives; stored leak reports are re-encrypted and
      notice codes, webhooks and queued contacts move to keys from the new one. Back up
      `secrets/` afterwards; old backups keep the old key (docs/operations.md).

    Running `vigie serve` and `vigie worker` processes load the new keys within
    VIGIE_SECRETS_RELOAD_SECONDS (2 s): no restart.
    """
    from vigie.ops import rotation

    inst = instance(ctx)
    directory = inst.settings.resolved_secrets_dir
    if (processor is None) != (kind is not Kind.PSEUDONYMS):
        raise InvalidInput("--processor NAME goes with `pseudonyms`, and only with it")
    if kind is Kind.AUDIT_SIGNING:
        done = rotation.rotate_audit_key(
            inst.sessions, directory=directory, secrets=inst.secrets, actor=operator()
        )
    elif kind is Kind.NOTICE_CODES:
        done = rotation.rotate_notice_codes(inst.sessions, directory=directory, actor=operator())
    elif kind is Kind.INSTANCE_KEY:
        done = rotation.rotate_instance_key(
            inst.sessions, directory=directory, secrets=inst.secrets, actor=operator()
        )
    elif kind is Kind.WEBHOOK:
        done = rotation.rotate_webhooks(
            inst.sessions, directory=directory, actor=operator(),
            overlap_hours=inst.settings.webhook_rotation_overlap_hours,
        )  # fmt: skip
    else:
        assert processor is not None
        done = rotation.rotate_pseudonyms(
            inst.sessions, directory=directory, processor=processor, actor=operator()
        )
    inst.__dict__.pop("secrets", None)  # this process signs with the new keys from now on
    if as_json:
        print_json({"kind": done.kind, **done.facts})
        return
    console.print(f"Rotated {done.kind}.", highlight=False)
    for name, value in done.facts.items():
        console.print(f"  {name.replace('_', ' ')}: {value}", highlight=False, markup=False)
    if kind is Kind.AUDIT_SIGNING:
        console.print(
            "Publish the new fingerprint where recipients learn it (`vigie audit key`); the "
            "old one still vouches for exports, which carry the key history.",
            highlight=False,
        )
    if kind is Kind.INSTANCE_KEY:
        console.print(
            "Back up `secrets/` now (`vigie backup`): backups made before hold the old key.",
            highlight=False,
        )
    console.print(
        "Running `vigie serve` and `vigie worker` load the new keys within "
        "VIGIE_SECRETS_RELOAD_SECONDS.",
        highlight=False,
    )
