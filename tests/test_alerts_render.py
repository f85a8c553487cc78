"""Rendering an alert: escaping, Dutch dates across DST, the why-section, safe headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from newswatch.alerts.render import (
    MAX_SUBJECT,
    AlertContent,
    MatchInfo,
    format_dutch_datetime,
    header_safe,
    highlight,
    render_alert,
)

FROM = "newswatch <nw@example.org>"
TOPIC = "intergemeentelijke-samenwerking"


def content(**changes: object) -> AlertContent:
    values: dict[str, object] = {
        "alert_id": 42,
        "to": "lezer@example.nl",
        "to_name": "Anna de Vries",
        "title": "Súdwest-Fryslân en De Fryske Marren gaan samenwerken bij de belastingen",
        "url": "https://www.omropfryslan.nl/nl/nieuws/123/samenwerking",
        "source": "Omrop Fryslân",
        "published": datetime(2026, 11, 24, 8, 15, tzinfo=UTC),
        "matches": [
            MatchInfo(
                topic=TOPIC,
                score=3.5,
                terms=["gaan samenwerken", "gemeenten"],
                snippet="De «gemeenten» Súdwest-Fryslân en De Fryske Marren «gaan samenwerken».",
            )
        ],
    }
    values.update(changes)
    return AlertContent(**values)  # type: ignore[arg-type]


def test_renders_title_source_date_link_topic_and_why() -> None:
    email = render_alert(content(), from_addr=FROM)

    for body in (email.text, email.html):
        assert "Súdwest-Fryslân en De Fryske Marren gaan samenwerken" in body
        assert "Omrop Fryslân" in body
        assert "24 november 2026, 09:15" in body  # 08:15 UTC is 09:15 in Amsterdam (CET)
        assert "https://www.omropfryslan.nl/nl/nieuws/123/samenwerking" in body
        assert TOPIC in body
        assert "Waarom je dit krijgt" in body
        assert "gaan samenwerken, gemeenten" in body
        assert "Anna de Vries" in body
    assert 'href="https://www.omropfryslan.nl/nl/nieuws/123/samenwerking"' in email.html
    assert email.subject.startswith("[newswatch] Súdwest-Fryslân")
    assert email.categories == ["newswatch", "alert", TOPIC]
    assert email.headers == {}
    assert (email.alert_id, email.to, email.from_addr) == (42, "lezer@example.nl", FROM)


def test_topic_shown_by_its_title_when_it_has_one() -> None:
    match = MatchInfo(TOPIC, 3.5, ["samen"], "samen", title="Intergemeentelijke samenwerking")
    email = render_alert(content(matches=[match]), from_addr=FROM)
    for body in (email.text, email.html):
        assert "Intergemeentelijke samenwerking" in body
        assert TOPIC not in body
    assert email.categories == ["newswatch", "alert", TOPIC]  # SendGrid stats keep the id


def test_snippet_terms_become_strong_in_html_and_stay_marked_in_text() -> None:
    email = render_alert(content(), from_addr=FROM)
    assert "De <strong>gemeenten</strong> Súdwest-Fryslân" in email.html
    assert "<strong>gaan samenwerken</strong>." in email.html
    assert "De «gemeenten» Súdwest-Fryslân" in email.text


def test_markup_from_the_article_is_escaped_in_html() -> None:
    email = render_alert(
        content(
            title='<script>alert("x")</script> Raad & college <img src=https://evil.example/p.gif>',
            source="<b>Omroep</b>",
            matches=[
                MatchInfo(
                    TOPIC, 1.0, ["<i>term</i>"], 'Tekst <script>x</script> met «<a href="y">»'
                )
            ],
        ),
        from_addr=FROM,
    )
    html = email.html.lower()
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>" not in html
    assert "<i>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; raad &amp; college" in html
    # A term marker around markup gives <strong> around the escaped markup, nothing more.
    assert "<strong>&lt;a href=&#34;y&#34;&gt;</strong>" in html
    # The text part is not HTML: no entities for the reader to stumble over.
    assert '<script>alert("x")</script> Raad & college' in email.text


def test_html_is_mail_client_safe() -> None:
    html = render_alert(content(), from_addr=FROM).html
    assert "<table" in html
    assert "<style" not in html  # inline CSS only: many clients strip <style>
    assert "<script" not in html
    assert re.search(r"\bsrc\s*=", html) is None  # no remote images or anything else loaded
    assert "<link" not in html


def test_non_http_links_are_not_clickable() -> None:
    email = render_alert(content(url="javascript:alert(1)"), from_addr=FROM)
    assert "href=" not in email.html.replace('href="https', "")
    assert "javascript:alert(1)" in email.text  # still shown, as text


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        # Winter time, CET = UTC+1.
        (datetime(2026, 1, 5, 23, 30, tzinfo=UTC), "6 januari 2026, 00:30"),
        # Summer time, CEST = UTC+2.
        (datetime(2026, 7, 1, 10, 0, tzinfo=UTC), "1 juli 2026, 12:00"),
        # Last Sunday of March 2026: clocks jump from 02:00 to 03:00 at 01:00 UTC.
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "29 maart 2026, 01:59"),
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "29 maart 2026, 03:00"),
        # Last Sunday of October 2026: 03:00 CEST becomes 02:00 CET at 01:00 UTC.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "25 oktober 2026, 02:30"),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "25 oktober 2026, 02:30"),
        (datetime(2026, 10, 25, 2, 0, tzinfo=UTC), "25 oktober 2026, 03:00"),
    ],
)
def test_dutch_date_in_amsterdam_across_dst(utc: datetime, expected: str) -> None:
    email = render_alert(content(published=utc), from_addr=FROM)
    assert expected in email.html
    assert expected in email.text


def test_all_dutch_month_names() -> None:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Europe/Amsterdam")
    names = [
        format_dutch_datetime(datetime(2026, m, 15, 12, tzinfo=UTC), zone) for m in range(1, 13)
    ]
    months = [n.split()[1] for n in names]
    assert months == [
        "januari", "februari", "maart", "april", "mei", "juni",
        "juli", "augustus", "september", "oktober", "november", "december",
    ]  # fmt: skip


def test_other_timezone_and_missing_date() -> None:
    email = render_alert(content(), from_addr=FROM, timezone="America/New_York")
    assert "24 november 2026, 03:15" in email.text
    undated = render_alert(content(published=None), from_addr=FROM)
    assert "Omrop Fryslân" in undated.text
    assert "2026" not in undated.text


def test_naive_published_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        render_alert(content(published=datetime(2026, 11, 24, 9, 15)), from_addr=FROM)


@pytest.mark.parametrize(
    "title",
    [
        "Fusie\r\nBcc: x@y",
        "Fusie\nBcc: x@y",
        "Fusie\rBcc: x@y",
        "Fusie\u2028Bcc: x@y",
        "Fusie\x00\x1b[31m\x85Bcc: x@y",
    ],
)
def test_header_injection_in_title_cannot_add_headers(title: str) -> None:
    email = render_alert(content(title=title, to_name="Anna\r\nBcc: z@y"), from_addr=FROM)
    for value in (email.subject, email.to_name or ""):
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", value)
    assert email.subject.startswith("[newswatch] Fusie ")
    assert email.subject.endswith("Bcc: x@y")
    assert email.to_name == "Anna Bcc: z@y"


def test_subject_is_capped_and_invisible_characters_dropped() -> None:
    email = render_alert(content(title="Gemeenten " * 100), from_addr=FROM)
    assert len(email.subject) == MAX_SUBJECT
    assert email.subject.endswith("…")
    # A right-to-left override would make the subject read differently from what it is.
    assert header_safe("abc\u202edef\u200b") == "abcdef"


def test_highlight_escapes_before_marking() -> None:
    assert (
        str(highlight("a «<b>» & «c»")) == "a <strong>&lt;b&gt;</strong> &amp; <strong>c</strong>"
    )


def test_categories_are_unique_and_capped() -> None:
    matches = [MatchInfo(f"topic-{i % 12}", 1.0, ["x"], "x") for i in range(30)]
    email = render_alert(content(matches=matches), from_addr=FROM)
    assert email.categories[:3] == ["newswatch", "alert", "topic-0"]
    assert len(email.categories) == 10
    assert len(set(email.categories)) == 10


def test_several_topics_each_say_why() -> None:
    matches = [
        MatchInfo(TOPIC, 2.0, ["samenwerking"], "de «samenwerking» stopt"),
        MatchInfo("herindeling", 1.0, ["herindeling"], "een «herindeling» volgt"),
    ]
    email = render_alert(content(matches=matches), from_addr=FROM)
    assert email.html.count("Waarom je dit krijgt") == 2
    assert email.text.count("Waarom je dit krijgt") == 2
    assert "<strong>herindeling</strong>" in email.html
    assert email.categories == ["newswatch", "alert", TOPIC, "herindeling"]


def test_operator_template_overrides_package_template(tmp_path: Path) -> None:
    (tmp_path / "alert.txt.j2").write_text("Eigen sjabloon: {{ title }} <{{ url }}>\n")
    email = render_alert(content(title="A & B"), from_addr=FROM, template_dir=tmp_path)
    assert (
        email.text
        == "Eigen sjabloon: A & B <https://www.omropfryslan.nl/nl/nieuws/123/samenwerking>\n"
    )
    assert "Waarom je dit krijgt" in email.html  # not overridden: the package's


def test_operator_html_override_is_still_autoescaped(tmp_path: Path) -> None:
    (tmp_path / "alert.html.j2").write_text("<p>{{ title }}</p>")
    email = render_alert(content(title="<script>x</script>"), from_addr=FROM, template_dir=tmp_path)
    assert email.html == "<p>&lt;script&gt;x&lt;/script&gt;</p>"


def test_undefined_variables_fail_loudly(tmp_path: Path) -> None:
    (tmp_path / "alert.txt.j2").write_text("{{ titel }}")  # typo for title
    with pytest.raises(UndefinedError, match="titel"):
        render_alert(content(), from_addr=FROM, template_dir=tmp_path)


def test_missing_override_folder_falls_back_to_package(tmp_path: Path) -> None:
    # The outbox always passes config/templates/, which most installs do not have.
    email = render_alert(content(), from_addr=FROM, template_dir=tmp_path / "templates")
    assert "Waarom je dit krijgt" in email.text
