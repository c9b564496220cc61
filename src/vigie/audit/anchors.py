"""What anchors the trail: the checkpoint sequence, held checkpoints, the unanchored tail.

A hash chain alone is not tamper-evident against someone who can write the store: they
can delete or rewrite events and recompute every hash after them. What they cannot do is
sign. So verification also proves, with pure functions over what it read:

- the **checkpoint sequence**: every ``audit:checkpoint`` event of the chain (written in
  the same transaction as its checkpoint, directly after the events it signs) has its
  checkpoint row with the same id, size, root, time and signature, and every row has its
  event. A deleted, replaced or shrunk checkpoint is an :class:`IntegrityError`.
- **held checkpoints**: a checkpoint a third party kept (the authority, a processor, an
  auditor) is checked against the instance key and against the trail as it is today,
  so entries it covers cannot be removed or rewritten even with the store's own
  checkpoints deleted.
- the **unanchored tail**: the events after the last checkpoint (not counting that
  checkpoint's own event) and the age of the oldest, held to a configured :class:`Bound`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vigie.audit.proofs import SignedHead
from vigie.errors import IntegrityError, InvalidInput

if TYPE_CHECKING:
    from vigie.settings import Settings


@dataclass(frozen=True)
class Announcement:
    """An ``audit:checkpoint`` event: event ``seq`` says checkpoint ``head.id`` was signed.

    Trails written before the event carried the signed head have ``root`` etc. unset
    (``legacy``); only their id and size are compared.
    """

    seq: int
    id: int
    size: int
    root: bytes | None
    at_us: int | None
    signature: bytes | None

    @classmethod
    def parse(cls, seq: int, detail: str | None) -> Announcement:
        """The announcement in event ``seq``'s ``detail``; raises if it is not one."""
        try:
            data = json.loads(detail or "")
            root, sig = data.get("root"), data.get("signature")
            return cls(
                seq=seq,
                id=int(data["checkpoint"]),
                size=int(data["size"]),
                root=None if root is None else bytes.fromhex(root),
                at_us=None if data.get("at_us") is None else int(data["at_us"]),
                signature=None if sig is None else bytes.fromhex(sig),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            raise IntegrityError(f"event {seq}: not a readable checkpoint announcement") from None

    def matches(self, head: SignedHead) -> bool:
        """Whether ``head`` is the checkpoint this event recorded."""
        if (self.id, self.size) != (head.id, head.size):
            return False
        recorded = (self.root, self.at_us, self.signature)
        return recorded == (None, None, None) or recorded == (
            head.root,
            head.at_us,
            head.signature,
        )


def check_sequence(rows: Sequence[SignedHead], announced: Sequence[Announcement]) -> None:
    """Raise unless checkpoint rows and ``audit:checkpoint`` events are in one-to-one match.

    Each event must directly follow the events its checkpoint signs (``seq == size + 1``).
    """
    by_id = {r.id: r for r in rows}
    seen: set[int] = set()
    for a in announced:
        if a.id in seen:
            raise IntegrityError(f"event {a.seq}: announces checkpoint #{a.id} a second time")
        seen.add(a.id)
        if a.seq != a.size + 1:
            raise IntegrityError(
                f"event {a.seq}: announces checkpoint #{a.id} of {a.size} events out of place "
                f"(it must be event {a.size + 1})"
            )
        row = by_id.get(a.id)
        if row is None:
            raise IntegrityError(
                f"checkpoint #{a.id}: announced by event {a.seq} but missing from the store "
                "(it was deleted)"
            )
        if not a.matches(row):
            raise IntegrityError(
                f"checkpoint #{a.id}: differs from the head event {a.seq} recorded when it was "
                "signed (it was replaced)"
            )
    for r in rows:
        if r.id not in seen:
            raise IntegrityError(
                f"checkpoint #{r.id}: not announced in the trail (event {r.size + 1} should "
                "record it: the event was removed, or the row added)"
            )


def check_held(held: Sequence[SignedHead], rows: Sequence[SignedHead]) -> None:
    """Raise unless each held checkpoint is still in the store, unchanged.

    Its root against the events themselves is checked during the scan; this names the
    stored checkpoint that was deleted or replaced.
    """
    by_id = {r.id: r for r in rows}
    for h in held:
        row = by_id.get(h.id)
        if row is None:
            raise IntegrityError(
                f"held checkpoint #{h.id}: missing from the store (the checkpoint was deleted)"
            )
        if row != h:
            raise IntegrityError(
                f"held checkpoint #{h.id}: the stored checkpoint #{h.id} differs (it was replaced)"
            )


@dataclass(frozen=True)
class Tail:
    """The events no signed checkpoint covers yet."""

    events: int  # after the last checkpoint, not counting that checkpoint's own event
    checkpoint: int | None  # id of the last checkpoint; None: the trail has none
    oldest_us: int | None  # time of the oldest of those events (None if there are none)

    def age_seconds(self, now_us: int) -> float:
        """How long the oldest unanchored event has waited (0 if there is none)."""
        return 0.0 if self.oldest_us is None else max(0, now_us - self.oldest_us) / 1e6

    def describe(self, now_us: int) -> str:
        """One line naming the unanchored events and their age."""
        if self.events == 0:
            return f"none, checkpoint #{self.checkpoint} covers every event"
        noun = "event" if self.events == 1 else "events"
        after = (
            "and no signed checkpoint at all"
            if self.checkpoint is None
            else f"after checkpoint #{self.checkpoint}"
        )
        age = duration(self.age_seconds(now_us))
        return f"{self.events:,} {noun} {after}, the oldest {age} old"


@dataclass(frozen=True)
class Bound:
    """How far the trail may run ahead of its last signed checkpoint."""

    max_events: int
    max_seconds: float

    @classmethod
    def of(cls, settings: Settings) -> Bound:
        """The bound configured in ``audit_max_unanchored_events`` / ``_seconds``."""
        return cls(
            max_events=settings.audit_max_unanchored_events,
            max_seconds=settings.audit_max_unanchored_seconds,
        )


def unanchored(tail: Tail, *, bound: Bound, now_us: int) -> str | None:
    """Why ``tail`` exceeds ``bound`` (``UNANCHORED: ...``), or None when it is within it.

    A non-empty trail without any checkpoint is never anchored, whatever the bound.
    """
    if tail.events == 0:
        return None
    age = tail.age_seconds(now_us)
    if tail.checkpoint is not None and tail.events <= bound.max_events and age <= bound.max_seconds:
        return None
    return (
        f"UNANCHORED: {tail.describe(now_us)} (bound: {bound.max_events:,} events, "
        f"{duration(bound.max_seconds)}); they could be removed or rewritten without trace"
    )


def require_anchored(tail: Tail, *, bound: Bound, now_us: int) -> None:
    """Raise ``IntegrityError`` (``UNANCHORED: ...``) if ``tail`` exceeds ``bound``."""
    reason = unanchored(tail, bound=bound, now_us=now_us)
    if reason is not None:
        raise IntegrityError(
            f"{reason}. Sign one with `vigie audit checkpoint`, and find out why none was "
            "taken automatically"
        )


def duration(seconds: float) -> str:
    """``3 h 5 min``, ``10 min 1 s``, ``42 s``: a readable age."""
    s = int(seconds)
    if s >= 86_400:
        return f"{s // 86_400} d {s % 86_400 // 3600} h"
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    if s >= 60:
        return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    return f"{s} s"


def parse_held(text: str, *, source: str) -> list[SignedHead]:
    """Held checkpoints from ``text``: one JSON object (``vigie audit checkpoint --json``)
    or JSON lines (an export's ``checkpoints.jsonl``). ``source`` names it in errors."""
    try:
        items: list[Any] = [json.loads(text)]
    except ValueError:
        items = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError:
                    raise InvalidInput(f"{source}, line {number}: not JSON") from None
    if not items:
        raise InvalidInput(f"{source}: no checkpoint in it")
    heads = []
    for item in items:
        try:
            heads.append(
                SignedHead(
                    id=int(item["id"]),
                    size=int(item["size"]),
                    root=bytes.fromhex(item["root"]),
                    at_us=int(item["at_us"]),
                    signature=bytes.fromhex(item["signature"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            raise InvalidInput(
                f"{source}: not a checkpoint (it needs id, size, root, at_us and signature, "
                "as `vigie audit checkpoint --json` prints)"
            ) from None
    return heads
