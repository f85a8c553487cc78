"""`newswatch classify`, `rules test [--diff]` and `explain` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import COOPERATION, newswatch, positives, write_config

from newswatch.demo.site import SiteServer

POSITIVE = {
    "id": "a1",
    "title": "Schiedam en Vlaardingen beëindigen hun ICT-samenwerking",
    "text": (
        "SCHIEDAM/VLAARDINGEN – De gemeenten Schiedam en Vlaardingen zeggen de "
        "samenwerkingsovereenkomst voor hun gezamenlijke ICT-organisatie op. De colleges "
        "kozen eerder voor een gemeenschappelijke regeling, maar de ontvlechting begint nu."
    ),
}
NEGATIVE = {
    "id": "n1",
    "title": "Voetbalclubs VV Maasdijk en SV Honselersdijk gaan fuseren",
    "text": "De leden stemden dinsdagavond in met de fusie van de twee voetbalverenigingen.",
}


def test_classify_jsonl(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", db_url=f"sqlite:///{tmp_path / 'nw.db'}", sources=[])
    lines = [json.dumps(POSITIVE), json.dumps(NEGATIVE), "{kapot", json.dumps({"id": 3})]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    result = newswatch("--config", str(config), "classify", "--input", str(tmp_path / "in.jsonl"))
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a1", "n1"]
    (match,) = [m for m in out[0]["matches"] if m["topic"] == COOPERATION]
    assert match["score"] >= match["threshold"]
    assert match["terms"]
    assert out[1]["matches"] == []
    # Bad lines are reported by number, the good ones still classified.
    assert result.returncode == 1
    assert "in.jsonl, line 3: not valid JSON" in result.stderr
    assert "line 4: needs a 'title' or a 'text'" in result.stderr


def test_classify_unknown_topic_is_a_usage_error(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config", db_url=f"sqlite:///{tmp_path / 'nw.db'}", sources=[])
    (tmp_path / "in.jsonl").write_text(json.dumps(POSITIVE) + "\n")
    result = newswatch(
        "--config",
        str(config),
        "classify",
        "--input",
        str(tmp_path / "in.jsonl"),
        "--topic",
        "fietspaden",
    )
    assert result.returncode == 2
    assert "unknown topic 'fietspaden'" in result.stderr


def test_rules_test_diff_and_explain(tmp_path: Path, site: SiteServer) -> None:
    config = write_config(
        tmp_path / "config",
        db_url=f"sqlite:///{tmp_path / 'nw.db'}",
        sources=[{"name": "Maasstad Lokaal", "kind": "feed", "url": site.feed_url}],
    )
    assert newswatch("--config", str(config), "run", "--once").returncode == 0

    same = newswatch("--config", str(config), "rules", "test", COOPERATION, "--diff")
    assert same.returncode == 0, same.stderr
    assert f"{len(positives(site))} match(es)" in same.stdout
    assert "0 added, 0 removed" in same.stdout

    # An operator narrows the topic to one word: the diff shows what drops out.
    topics = yaml.safe_load((config / "topics.yaml").read_text())
    topic = next(t for t in topics["topics"] if t["id"] == COOPERATION)
    topic.update(
        threshold=1, rules=[{"term": "centrumregeling", "weight": 1}], exclude=[], examples=[]
    )
    topic.pop("require", None)
    (config / "topics.yaml").write_text(yaml.safe_dump(topics, allow_unicode=True))
    changed = newswatch("--config", str(config), "rules", "test", COOPERATION, "--diff")
    assert changed.returncode == 0, changed.stderr
    removed = [line for line in changed.stdout.splitlines() if line.startswith("-")]
    assert len(removed) == len(positives(site)) - 1  # only the centrumregeling story stays
    assert "1 match(es)" in changed.stdout

    explained = newswatch("--config", str(config), "explain", "1")
    assert explained.returncode == 0, explained.stderr
    assert "Matched when stored:" in explained.stdout
    missing = newswatch("--config", str(config), "explain", "https://nergens.example/x")
    assert missing.returncode == 2
    assert "no stored article" in missing.stderr
