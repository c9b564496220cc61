"""Regenerate the initial Alembic migration from the models (pre-release only).

Until Vigie's first release the schema lives in one migration, ``0001_initial``; run
``make migration`` after changing a model. After the first release, add new revisions
with ``alembic revision --autogenerate`` instead.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command

from vigie.store.engine import make_engine
from vigie.store.migrate import MIGRATIONS, alembic_config


def main() -> None:
    for old in (MIGRATIONS / "versions").glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
        with engine.begin() as conn:
            command.revision(
                alembic_config(conn), message="initial schema", autogenerate=True, rev_id="0001"
            )
    for new in (MIGRATIONS / "versions").glob("0001_*.py"):
        new.rename(MIGRATIONS / "versions" / "0001_initial.py")
    target = str(MIGRATIONS / "versions" / "0001_initial.py")
    # Generated code is held to the same lint as the rest.
    subprocess.run([sys.executable, "-m", "ruff", "check", "--fix", "-q", target], check=False)
    subprocess.run([sys.executable, "-m", "ruff", "format", "-q", target], check=True)


if __name__ == "__main__":
    main()
