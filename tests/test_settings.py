"""Settings: defaults, environment, and refusal of placeholders in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vigie.settings import Settings


def test_default_database_is_sqlite_under_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'vigie.db'}"
    assert s.resolved_secrets_dir == tmp_path / "secrets"


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_GATEWAY_MAX_PAGE_SIZE", "50")
    assert Settings().gateway_max_page_size == 50


@pytest.mark.parametrize(
    "overrides",
    [
        {"smtp_password": "changeme", "data_dir": Path("/srv/v")},
        {"database_url": "postgresql+psycopg://v:password@db/v"},
        {"data_dir": Path("relative")},
    ],
)
def test_production_refuses_placeholders(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(environment="production", **overrides)  # type: ignore[arg-type]


def test_production_accepts_real_values() -> None:
    s = Settings(environment="production", data_dir=Path("/srv/vigie"), smtp_password="s3cr3t-Xq")
    assert s.smtp_password is not None
    assert "s3cr3t" not in repr(s)


def test_derived_keys_are_kept_and_equal_a_fresh_derivation(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    from vigie.secrets import ensure_secrets, load_secrets

    ensure_secrets(tmp_path)
    secrets = load_secrets(tmp_path)
    first = secrets.derive("notice-code-tag")
    fresh = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"notice-code-tag")
    assert first == fresh.derive(secrets.master.reveal())
    assert secrets.derive("notice-code-tag") is first  # derived once
    assert secrets.derive("notice-code-tag", 16) == first[:16]  # HKDF: a shorter key, a prefix
    assert secrets.derive("another purpose") != first
    assert "notice-code-tag" not in repr(secrets) and repr(first) not in repr(secrets)
