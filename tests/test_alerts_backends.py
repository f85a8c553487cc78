"""The file and SendGrid backends; SendGrid against a local fake over real sockets."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest
from pydantic import AnyHttpUrl, SecretStr
from sendgrid_fake import Reply, SendGridFake

from newswatch.alerts.backends import (
    ALERT_ID_HEADER,
    FileBackend,
    SendError,
    SendGridBackend,
    eml_name,
    redact,
    retry_after_seconds,
)
from newswatch.alerts.render import OutgoingEmail, render_alert
from newswatch.errors import DeliveryError

from test_alerts_render import FROM, TOPIC, content  # isort: skip


def outgoing(alert_id: int = 42, **changes: object) -> OutgoingEmail:
    return render_alert(content(alert_id=alert_id, **changes), from_addr=FROM)


@pytest.fixture
def fake() -> Iterator[SendGridFake]:
    with SendGridFake() as running:
        yield running


def backend_for(
    fake: SendGridFake, *, key: str | None = None, timeout: float = 5.0
) -> SendGridBackend:
    return SendGridBackend(SecretStr(key or fake.api_key), fake.url, timeout)


# --- file backend ---------------------------------------------------------------------


def read_eml(path: Path) -> EmailMessage:
    message = BytesParser(policy=default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def test_file_backend_writes_a_parseable_rfc5322_message(tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "outbox"  # created on first send
    message_id = FileBackend(outbox).send(outgoing())

    path = outbox / "alert-000042.eml"
    assert [p.name for p in outbox.iterdir()] == [path.name]
    raw = path.read_bytes()
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    raw_headers = raw.split(b"\r\n\r\n")[0]
    assert raw_headers.isascii()  # non-ASCII subjects and names are RFC 2047-encoded

    msg = read_eml(path)
    assert msg["Subject"] == (
        "[newswatch] Súdwest-Fryslân en De Fryske Marren gaan samenwerken bij de belastingen"
    )
    assert msg["From"].addresses[0].addr_spec == "nw@example.org"
    assert msg["From"].addresses[0].display_name == "newswatch"
    assert msg["To"].addresses[0].addr_spec == "lezer@example.nl"
    assert msg["To"].addresses[0].display_name == "Anna de Vries"
    assert msg["Message-ID"] == message_id
    assert message_id
    assert message_id.startswith("<")
    assert message_id.endswith("@example.org>")
    assert msg["Date"].datetime.tzinfo is not None
    assert msg[ALERT_ID_HEADER] == "42"
    assert msg.get_content_type() == "multipart/alternative"

    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text, html = (p.get_content() for p in parts)
    assert "Waarom je dit krijgt" in text
    assert "Súdwest-Fryslân" in text
    assert "<strong>gemeenten</strong>" in html
    assert msg.defects == []
    assert all(p.defects == [] for p in parts)


def test_file_backend_header_injection_adds_no_header(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    backend.send(outgoing(title="Fusie\r\nBcc: spion@example.com", to_name="X\r\nCc: a@b.c"))
    msg = read_eml(tmp_path / eml_name(42))
    assert msg["Bcc"] is None
    assert msg["Cc"] is None
    assert msg["Subject"] == "[newswatch] Fusie Bcc: spion@example.com"
    assert len(msg["To"].addresses) == 1


def test_file_backend_extra_headers(tmp_path: Path) -> None:
    email = outgoing()
    email.headers["List-Unsubscribe"] = "<https://nw.example.org/u/abc>"
    FileBackend(tmp_path).send(email)
    assert read_eml(tmp_path / eml_name(42))["List-Unsubscribe"] == "<https://nw.example.org/u/abc>"


def test_file_backend_resend_overwrites_atomically(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    first = backend.send(outgoing(title="Eerste versie"))
    path = tmp_path / eml_name(42)
    old_inode = path.stat().st_ino
    second = backend.send(outgoing(title="Tweede versie"))

    assert sorted(os.listdir(tmp_path)) == [path.name]  # no duplicate, no temp file left
    assert path.stat().st_ino != old_inode  # replaced by rename, not rewritten in place
    assert read_eml(path)["Subject"] == "[newswatch] Tweede versie"
    assert first != second
    backend.send(outgoing(alert_id=7))
    assert sorted(os.listdir(tmp_path)) == ["alert-000007.eml", path.name]


def test_file_backend_readers_never_see_half_a_file(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)
    path = tmp_path / eml_name(42)
    backend.send(outgoing())
    stop = threading.Event()
    seen: list[bool] = []

    def reader() -> None:
        while not stop.is_set():
            data = path.read_bytes()
            seen.append(data.rstrip().endswith(b"--") and b"text/html" in data)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(30):
            backend.send(outgoing(title=f"Versie {i} " + "x" * 5000))
    finally:
        stop.set()
        thread.join()
    assert seen
    assert all(seen)


def test_file_backend_folder_that_is_a_file_is_retryable(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("not a folder")
    with pytest.raises(SendError) as caught:
        FileBackend(blocker).send(outgoing())
    assert caught.value.retry is True
    assert caught.value.status is None
    assert str(blocker) in str(caught.value)
    assert isinstance(caught.value, DeliveryError)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_file_backend_read_only_folder_is_retryable(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    outbox.chmod(0o555)
    try:
        with pytest.raises(SendError, match=str(outbox)) as caught:
            FileBackend(outbox).send(outgoing())
        assert caught.value.retry is True
    finally:
        outbox.chmod(0o755)


def test_file_backend_bad_from_address_is_not_retryable(tmp_path: Path) -> None:
    email = render_alert(content(), from_addr="newswatch")
    with pytest.raises(SendError) as caught:
        FileBackend(tmp_path).send(email)
    assert caught.value.retry is False


# --- SendGrid backend -----------------------------------------------------------------


def test_sendgrid_202_returns_message_id_and_sends_the_right_json(fake: SendGridFake) -> None:
    fake.script([Reply.accepted("msg-abc-123")])
    message_id = backend_for(fake).send(outgoing())

    assert message_id == "msg-abc-123"
    [request] = fake.requests
    assert request.path == "/v3/mail/send"
    assert request.headers["Authorization"] == f"Bearer {fake.api_key}"
    body = request.json
    assert body["from"] == {"email": "nw@example.org", "name": "newswatch"}
    assert body["personalizations"][0]["to"] == [
        {"email": "lezer@example.nl", "name": "Anna de Vries"}
    ]
    assert body["subject"].startswith("[newswatch] Súdwest-Fryslân")
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    text, html = (c["value"] for c in body["content"])
    assert "Waarom je dit krijgt" in text
    assert "<strong>gemeenten</strong>" in html
    assert body["custom_args"] == {"alert_id": "42"}
    assert body["categories"] == ["newswatch", "alert", TOPIC]
    assert "headers" not in body  # none yet


def test_sendgrid_sends_extra_headers_and_handles_no_name(fake: SendGridFake) -> None:
    email = render_alert(content(to_name=None), from_addr="nw@example.org")
    email.headers["List-Unsubscribe"] = "<https://nw.example.org/u/abc>"
    assert backend_for(fake).send(email) == "fake-1"
    body = fake.requests[0].json
    assert body["headers"] == {"List-Unsubscribe": "<https://nw.example.org/u/abc>"}
    assert body["personalizations"][0]["to"] == [{"email": "lezer@example.nl"}]
    assert body["from"] == {"email": "nw@example.org"}


def test_sendgrid_host_with_trailing_slash(fake: SendGridFake) -> None:
    # Settings hold an AnyHttpUrl, whose str() ends in "/".
    host = str(AnyHttpUrl(fake.url))
    assert host.endswith("/")
    SendGridBackend(SecretStr(fake.api_key), host, 5).send(outgoing())
    assert fake.requests[0].path == "/v3/mail/send"


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply.rate_limited(reset_in=30), 429),
        (Reply.error(500), 500),
        (Reply.error(502), 502),  # the client has no class for 502: base HTTPError
        (Reply.error(503), 503),
        (Reply.error(504), 504),
    ],
)
def test_sendgrid_retryable_statuses(fake: SendGridFake, reply: Reply, status: int) -> None:
    fake.script([reply])
    with pytest.raises(SendError) as caught:
        backend_for(fake).send(outgoing())
    assert (caught.value.retry, caught.value.status) == (True, status)
    assert caught.value.ambiguous is False
    assert str(status) in str(caught.value)


def test_sendgrid_429_says_when_to_retry(fake: SendGridFake) -> None:
    fake.script([Reply.rate_limited(reset_in=120)])
    with pytest.raises(SendError) as caught:
        backend_for(fake).send(outgoing())
    assert caught.value.retry_after is not None
    assert 115 <= caught.value.retry_after <= 121
    # The next attempt goes through once the script is used up.
    assert backend_for(fake).send(outgoing()) == "fake-1"


def test_retry_after_header_forms() -> None:
    now = 1_800_000_000.0
    assert retry_after_seconds({"X-RateLimit-Reset": str(int(now) + 30)}, now=now) == 30
    assert retry_after_seconds({"X-RateLimit-Reset": str(int(now) - 5)}, now=now) == 0
    assert retry_after_seconds({"Retry-After": "12"}, now=now) == 12
    assert (
        retry_after_seconds({"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}, now=1_800_000_000)
        == 30
    )
    assert retry_after_seconds({"Retry-After": "soon"}, now=now) is None
    assert retry_after_seconds({}, now=now) is None


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_sendgrid_permanent_statuses(fake: SendGridFake, status: int) -> None:
    fake.script([Reply.error(status, "The from address does not match a verified Sender Identity")])
    with pytest.raises(SendError) as caught:
        backend_for(fake).send(outgoing())
    assert (caught.value.retry, caught.value.status) == (False, status)
    assert "verified Sender Identity" in str(caught.value)  # SendGrid's reason is kept


def test_sendgrid_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = SendGridBackend(SecretStr("SG.abc.def"), f"http://127.0.0.1:{port}", 2)
    with pytest.raises(SendError) as caught:
        backend.send(outgoing())
    assert (caught.value.retry, caught.value.status) == (True, None)
    assert caught.value.ambiguous is False  # nothing reached SendGrid
    assert f"127.0.0.1:{port}" in str(caught.value)


def test_sendgrid_slow_reply_times_out_and_is_retryable(fake: SendGridFake) -> None:
    fake.script([Reply.slow(5)])
    started = time.monotonic()
    with pytest.raises(SendError) as caught:
        backend_for(fake, timeout=0.5).send(outgoing())
    assert time.monotonic() - started < 3  # the timeout, not the server, ended the wait
    assert (caught.value.retry, caught.value.status) == (True, None)
    # The request reached the server before the client gave up: it may have been sent.
    assert caught.value.ambiguous is True
    assert len(fake.requests) == 1


def test_sendgrid_api_key_never_leaks(fake: SendGridFake, caplog: pytest.LogCaptureFixture) -> None:
    wrong_key = "SG.sUpErSeCrEt-key_0123456789.ZZZZyyyyXXXXwwww-9876"
    caplog.set_level(logging.DEBUG)
    backend = backend_for(fake, key=wrong_key)  # the fake answers 401 to a key it doesn't know
    with pytest.raises(SendError) as caught:
        backend.send(outgoing())
    exc = caught.value
    assert (exc.retry, exc.status) == (False, 401)
    assert "SENDGRID_API_KEY" in str(exc)
    for text in (str(exc), repr(exc), repr(backend), caplog.text, *exc.args):
        assert wrong_key not in text
        assert "sUpErSeCrEt" not in text
    for record in caplog.records:
        assert "sUpErSeCrEt" not in record.getMessage()
    # The client did log its request headers; the Authorization value was redacted.
    assert any("[redacted]" in r.getMessage() for r in caplog.records)
    assert exc.__cause__ is None
    assert exc.__suppress_context__


def test_redact() -> None:
    assert redact("{'Authorization': 'Bearer SG.a.b', 'X': 1}") == (
        "{'Authorization': 'Bearer [redacted]', 'X': 1}"
    )
    assert redact("key SG.abc-1.def_2 used") == "key SG.[redacted] used"


def test_sendgrid_backend_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="empty"):
        SendGridBackend(SecretStr(""), "https://api.sendgrid.com", 5)


def test_sendgrid_concurrent_sends_from_threads(fake: SendGridFake) -> None:
    # The outbox runs send() in worker threads; one backend must serve several at once.
    backend = backend_for(fake)
    results: dict[int, str | None] = {}

    def send(alert_id: int) -> None:
        results[alert_id] = backend.send(outgoing(alert_id=alert_id))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results.values())) == 8
    assert sorted(int(r.json["custom_args"]["alert_id"]) for r in fake.requests) == list(
        range(1, 9)
    )


def test_fake_rejects_wrong_path_and_records_everything(fake: SendGridFake) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{fake.url}/v3/other", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    caught.value.close()
    assert caught.value.code == 404
    assert fake.requests[0].path == "/v3/other"
    fake.script([500, 202])
    assert fake.pending == 2


def test_eml_is_also_readable_by_the_compat_parser(tmp_path: Path) -> None:
    # Some tools still use the legacy API; the file must not depend on policy=default.
    FileBackend(tmp_path).send(outgoing())
    legacy = message_from_bytes((tmp_path / eml_name(42)).read_bytes())
    assert legacy.is_multipart()
    assert legacy["X-Newswatch-Alert-Id"] == "42"
