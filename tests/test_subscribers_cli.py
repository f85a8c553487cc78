"""`newswatch subscribers list|add|remove|resubscribe`: the operator's comments survive,
bad input is refused with a clear message, and `list` shows what the database knows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import COOPERATION, newswatch, write_config

from newswatch.alerts.subscriptions import set_state, state_of
from newswatch.models import SubscriberState
from newswatch.settings import load_config
from newswatch.storage import open_database
from newswatch.subscriberfile import (
    SubscriberEditError,
    add_subscriber,
    new_entry,
    remove_subscriber,
)

KNOWN = {COOPERATION, "gemeentelijke-herindeling"}

HAND_WRITTEN = f"""\
# Abonnees van de redactie. Niet zomaar weghalen: vraag het eerst aan Anouk.
subscribers:
  # De hoofdredactie wil alles direct.
  - email: hoofdredactie@voorbeeld.nl
    name: "Hoofdredactie"
    topics: [{COOPERATION}]   # alleen samenwerking
    delivery: instant

  # Sanne volgt de regio Zeeland.
  - email: Sanne@Voorbeeld.nl
    topics:
      - {COOPERATION}
# Einde van de lijst.
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    directory = write_config(
        tmp_path / "config", db_url=f"sqlite:///{tmp_path / 'nw.db'}", sources=[]
    )
    (directory / "subscribers.yaml").write_text(HAND_WRITTEN, encoding="utf-8")
    return directory


def run(config: Path, *args: str) -> tuple[int, str, str]:
    result = newswatch("--config", str(config), "subscribers", *args, timeout=60)
    return result.returncode, result.stdout, result.stderr


def comment_lines(text: str) -> list[str]:
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


def test_add_keeps_every_comment_and_the_file_loads(config: Path) -> None:
    code, out, err = run(
        config, "add", "nieuw@voorbeeld.nl", "-t", COOPERATION, "--name", "Nieuwe Lezer"
    )
    assert code == 0, err
    assert "added nieuw@voorbeeld.nl" in out
    text = (config / "subscribers.yaml").read_text(encoding="utf-8")
    assert text.startswith(HAND_WRITTEN.split("# Einde")[0])  # untouched up to the end comment
    assert comment_lines(text) == comment_lines(HAND_WRITTEN)
    listed = load_config(config, env={}).subscribers
    assert [s.email for s in listed] == [
        "hoofdredactie@voorbeeld.nl",
        "Sanne@Voorbeeld.nl",
        "nieuw@voorbeeld.nl",
    ]
    assert listed[2].name == "Nieuwe Lezer"
    assert listed[2].topics == [COOPERATION]


def test_remove_keeps_the_comments_of_the_others(config: Path) -> None:
    code, out, err = run(config, "remove", "HOOFDREDACTIE@voorbeeld.nl")
    assert code == 0, err
    assert "removed hoofdredactie@voorbeeld.nl" in out
    text = (config / "subscribers.yaml").read_text(encoding="utf-8")
    assert "hoofdredactie@" not in text
    assert "alleen samenwerking" not in text  # the entry's own inline comment goes with it
    for kept in ("Niet zomaar weghalen", "Sanne volgt de regio Zeeland", "Einde van de lijst"):
        assert kept in text
    assert [s.email for s in load_config(config, env={}).subscribers] == ["Sanne@Voorbeeld.nl"]


def test_bad_address_and_unknown_topic_are_refused_clearly(config: Path) -> None:
    cases = {
        ("add", "geen-adres", "-t", COOPERATION): "'geen-adres' is not a valid email address",
        ("add", "a@voorbeeld.nl", "-t", "sport"): "unknown topic 'sport' (topics.yaml defines:",
    }
    with ThreadPoolExecutor() as pool:  # two processes at once: each mostly waits on imports
        results = dict(zip(cases, pool.map(lambda args: run(config, *args), cases), strict=True))
    for args, message in cases.items():
        code, _, err = results[args]
        assert code == 2, args
        assert message in err
    assert (config / "subscribers.yaml").read_text(encoding="utf-8") == HAND_WRITTEN


@pytest.mark.parametrize(
    ("email", "extra", "message"),
    [
        ("sanne@voorbeeld.nl", {}, "Sanne@Voorbeeld.nl is already listed"),
        ("b@voorbeeld.nl", {"name": "X\nBcc: iedereen"}, "must not contain line breaks"),
        ("c@voorbeeld.nl", {"delivery": "elk uur"}, "delivery: "),
    ],
)
def test_more_refusals_name_the_problem(
    config: Path, email: str, extra: dict[str, str], message: str
) -> None:
    # The same code path as the command, without a process per case.
    path = config / "subscribers.yaml"
    name = extra.pop("name", None)
    with pytest.raises(SubscriberEditError) as refused:
        _add(path, email, name, extra)
    assert message in str(refused.value)
    with pytest.raises(SubscriberEditError, match=r"onbekend@voorbeeld\.nl is not listed"):
        remove_subscriber(path, "onbekend@voorbeeld.nl", KNOWN)
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN


def _add(path: Path, email: str, name: str | None, extra: dict[str, str]) -> None:
    entry = new_entry(email, [COOPERATION], known_topics=KNOWN, name=name, extra=extra)
    add_subscriber(path, entry, KNOWN)


def test_list_shows_states_and_resubscribe(config: Path, tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    with db.transaction() as session:
        set_state(session, "sanne@voorbeeld.nl", SubscriberState.unsubscribed, by="link")
        set_state(session, "vroeger@voorbeeld.nl", SubscriberState.spam, by="webhook")
    db.dispose()

    code, out, err = run(config, "list")
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["hoofdredactie@voorbeeld.nl"][1:4] == ["active", "instant", COOPERATION]
    assert rows["Sanne@Voorbeeld.nl"][1:4] == ["unsubscribed", "instant", COOPERATION]
    assert "link" in rows["Sanne@Voorbeeld.nl"]
    assert rows["vroeger@voorbeeld.nl"][1] == "spam"  # no longer listed, still suppressed
    assert "not in subscribers.yaml" in out

    # Adding an address that is suppressed says so: the add alone does not re-subscribe.
    code, out, _ = run(config, "add", "vroeger@voorbeeld.nl", "-t", COOPERATION)
    assert code == 0
    assert "vroeger@voorbeeld.nl is spam" in out

    code, out, err = run(config, "resubscribe", "Sanne@Voorbeeld.nl")
    assert code == 0, err
    assert "active again (was unsubscribed)" in out
    db = open_database(f"sqlite:///{tmp_path / 'nw.db'}")
    with db.session() as session:
        assert state_of(session, "sanne@voorbeeld.nl") == SubscriberState.active
    db.dispose()


def test_removing_everyone_leaves_an_empty_list_that_loads(config: Path) -> None:
    path = config / "subscribers.yaml"
    remove_subscriber(path, "sanne@voorbeeld.nl", KNOWN)
    remove_subscriber(path, "hoofdredactie@voorbeeld.nl", KNOWN)
    text = path.read_text(encoding="utf-8")
    assert "subscribers: []" in text
    assert "Niet zomaar weghalen" in text
    assert load_config(config, env={}).subscribers == []
    add_subscriber(path, new_entry("terug@voorbeeld.nl", [COOPERATION], known_topics=KNOWN), KNOWN)
    assert [s.email for s in load_config(config, env={}).subscribers] == ["terug@voorbeeld.nl"]
