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
