"""`newswatch alerts preview` and `newswatch status` through the real CLI."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest
from conftest import COOPERATION, newswatch, write_config
from outbox_helpers import DIGEST_READER, READER, add_alerts

from newswatch.models import AlertStatus
from newswatch.storage import open_database


@pytest.mark.slow
def test_preview_writes_eml_and_html_and_status_reports_the_outbox(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'nw.db'}"
    config = write_config(
        tmp_path / "config",
        db_url=db_url,
        sources=[],
        subscribers=[
            {"email": READER, "name": "Anna de Vries", "topics": [COOPERATION]},
            {"email": DIGEST_READER, "topics": [COOPERATION], "delivery": "weekly@mon 07:30"},
        ],
    )
    db = open_database(db_url)
    [alert_id] = add_alerts(db, 1)
    add_alerts(db, 2, subscriber=DIGEST_READER, status=AlertStatus.held, delivery="digest")
    db.dispose()
    out = tmp_path / "preview"

    result = newswatch("--config", str(config), "alerts", "preview", "--out", str(out))
    assert result.returncode == 0, result.stderr
    what, eml, html = result.stdout.splitlines()
    assert what == f"next due alert {alert_id} for {READER}"
    message = email.message_from_bytes(Path(eml).read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "[newswatch] Samenwerking nummer 1 rond"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Afmelden" in Path(html).read_text()

    result = newswatch(
        "--config", str(config), "alerts", "preview", "--digest",
        "--subscriber", DIGEST_READER, "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"next digest for {DIGEST_READER} (2 held alert(s))")
    assert "Samenwerking nummer 2 rond" in Path(result.stdout.splitlines()[2]).read_text()

    result = newswatch("--config", str(config), "status", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["outbox"]["alerts"] == {"held": 2, "pending": 1}  # preview sent nothing


def test_preview_sample_names_the_topic_by_its_title(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[],
        subscribers=[{"email": READER, "topics": [COOPERATION]}],
    )
    out = tmp_path / "preview"
    result = newswatch("--config", str(config), "alerts", "preview", "--out", str(out))
    assert result.returncode == 0, result.stderr
    what, _eml, html = result.stdout.splitlines()
    assert what.startswith("sample alert")
    page = Path(html).read_text()
    assert "Intergemeentelijke samenwerking" in page  # the title in topics.yaml
    assert COOPERATION not in page  # not its id
