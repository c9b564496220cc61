"""Writing a sanction dossier: JSON, PDF, the draft formal notice, a proof per cited
event, and a manifest signed with the audit key — verifiable offline.

``DIR`` receives::

    dossier.json          the content (vigie.requirements.dossier)
    dossier.pdf           the same, printable, with the volume chart
    mise-en-demeure.md    the draft formal notice (French)
    proofs/event-N.json   an inclusion proof of each cited audit event
    manifest.json         SHA-256 of every file above, the cited events, the checkpoint
    manifest.sig          Ed25519 signature (hex) of "vigie-dossier-manifest/v1\\n" + manifest
    audit-signing.pub.pem the audit key (trusted only through its fingerprint)
    verify_trail.py       the standalone verifier: `python verify_trail.py --dossier DIR
                          --fingerprint HEX`

The trail must verify, anchored, before anything is written (as for the authority pack);
if the latest checkpoint does not cover every cited event, one is signed first. The
``dossier:build`` event records the manifest's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import escape
from sqlalchemy.orm import Session

from vigie.audit import offline, proofs, trail
from vigie.audit.actions import Action
from vigie.audit.anchors import Bound
from vigie.audit.checkpoints import latest, take
from vigie.audit.evidence import require_verified
from vigie.audit.key import AuditKey
from vigie.processors.directory import get_processor
from vigie.requirements.dossier import build_content
from vigie.requirements.dossier_render import render_html
from vigie.requirements.notice import formal_notice
from vigie.secrets import InstanceSecrets
from vigie.settings import Settings


@dataclass(frozen=True)
class Dossier:
    """A dossier written to disk."""

    directory: Path
    files: dict[str, str]  # name -> SHA-256
    cited: list[int]
    manifest_sha256: str
    fingerprint: str
    audit_seq: int


def _dump(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def build_dossier(
    session: Session,
    settings: Settings,
    secrets: InstanceSecrets,
    *,
    processor: str,
    incident_id: int,
    out_dir: Path,
    actor: str,
    now: datetime,
    pdf: bool = True,
) -> Dossier:
    """Build and write the dossier of ``processor`` for incident ``incident_id``."""
    public_key = secrets.verify_key
    require_verified(session, public_key=secrets.audit_keys, bound=Bound.of(settings),
                     purpose="the sanction dossier")  # fmt: skip
    proc = get_processor(session, name=processor)
    controller = {"name": settings.controller_legal_name, "dpo": settings.dpo_name,
                  "dpo_email": settings.dpo_email}  # fmt: skip
    content = build_content(session, processor=proc, incident_id=incident_id,
                            controller=controller, now=now)  # fmt: skip
    cited: list[int] = content["cited"]
    head = latest(session)
    if cited and (head is None or head.size < cited[-1]):
        take(session, signing_key=secrets.signing_key, actor=actor)
        head = latest(session)
    notice = formal_notice(content)
    files: dict[str, bytes] = {
        "dossier.json": _dump(content),
        "mise-en-demeure.md": notice.encode("utf-8"),
    }
    for seq in cited:
        files[f"proofs/event-{seq}.json"] = _dump(proofs.inclusion(session, seq=seq).to_json())
    if pdf:
        from weasyprint import HTML

        notice_html = "".join(f"<p>{escape(line)}</p>" for line in notice.splitlines() if line)
        files["dossier.pdf"] = HTML(
            string=render_html(content, notice_html=notice_html)
        ).write_pdf()
    card = AuditKey.of(public_key)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    manifest = _dump(
        {
            "format": "vigie-dossier-manifest/v1",
            "processor": proc.name,
            "incident": incident_id,
            "built_at": now.isoformat(),
            "files": digests,
            "cited": cited,
            "checkpoint": {"id": head.id, "size": head.size} if head else None,
            "signing_key_fingerprint": card.fingerprint,
        }
    )
    signature = secrets.signing_key.sign(offline.DOSSIER_CONTEXT + manifest).hex()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "proofs").mkdir(exist_ok=True)
    for name, data in files.items():
        (out_dir / name).write_bytes(data)
    (out_dir / offline.MANIFEST).write_bytes(manifest)
    (out_dir / offline.MANIFEST_SIG).write_text(signature + "\n", encoding="ascii")
    (out_dir / offline.BUNDLED_KEY).write_text(card.pem, encoding="ascii")
    shutil.copyfile(offline.__file__, out_dir / "verify_trail.py")
    manifest_sha = hashlib.sha256(manifest).hexdigest()
    seq = trail.append(
        session, action=Action.DOSSIER_BUILD, actor=actor, processor_id=proc.id,
        detail={"incident": incident_id, "manifest_sha256": manifest_sha, "cited": len(cited)},
        at=now,
    )  # fmt: skip
    return Dossier(out_dir, digests, cited, manifest_sha, card.fingerprint, seq)
