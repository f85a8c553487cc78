"""Hand a rendered email to something that delivers it.

Every backend has one blocking method, `send(email) -> message id | None`,
and raises `SendError` (a `DeliveryError`) when the hand-over failed. The
error says whether a later retry may help, the HTTP status if there was one,
how long the backend asked us to wait, and whether the message may have been
accepted anyway (`ambiguous`: the request went out but no answer came back).
The outbox decides what to do with that; backends never retry on their own.

`send` blocks (disk or network I/O); an asyncio caller runs it in a thread.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import tempfile
import time
import urllib.error
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol

import python_http_client.exceptions
from pydantic import SecretStr
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Category, CustomArg, From, Header, Mail, To
from sendgrid.helpers.mail.exceptions import ApiKeyIncludedException

from newswatch.alerts.render import OutgoingEmail
from newswatch.errors import DeliveryError

log = logging.getLogger(__name__)

ALERT_ID_HEADER = "X-Newswatch-Alert-Id"


class SendError(DeliveryError):
    """A failed hand-over, with what the outbox needs to schedule the next try.

    retry_after: seconds the backend asked us to wait (429), else None.
    ambiguous: the request was sent but no answer arrived (read timeout,
        connection dropped), so the message may have been accepted. Retrying
        is still right for at-least-once delivery, at the risk of a duplicate.
    """

    def __init__(
        self,
        message: str,
        *,
        retry: bool,
        status: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(message, retry=retry, status=status)
        self.retry_after = retry_after
        self.ambiguous = ambiguous


class EmailBackend(Protocol):
    def send(self, email: OutgoingEmail) -> str | None:
        """Deliver one email; return the backend's message id. Raises SendError."""
        ...


# --- file backend ---------------------------------------------------------------------


def eml_name(alert_id: int) -> str:
    """One file per alert, so sending the same alert again overwrites it."""
    return f"alert-{alert_id:06d}.eml"


def build_mime(email: OutgoingEmail, *, now: datetime | None = None) -> EmailMessage:
    """The RFC 5322 message: multipart/alternative, text first (clients show the last part
    they understand, so HTML must come last)."""
    msg = EmailMessage()
    sender = _address(email.from_addr)
    msg["From"] = sender
    msg["To"] = Address(display_name=email.to_name or "", addr_spec=email.to)
    msg["Subject"] = email.subject
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(
        idstring=f"alert-{email.alert_id}", domain=sender.domain or "newswatch.invalid"
    )
    msg[ALERT_ID_HEADER] = str(email.alert_id)
    for name, value in email.headers.items():
        msg[name] = value
    msg.set_content(email.text, subtype="plain", charset="utf-8")
    msg.add_alternative(email.html, subtype="html", charset="utf-8")
    return msg


def _address(value: str) -> Address:
    name, addr = parseaddr(value)
    if "@" not in addr:
        raise ValueError(f"{value!r} is not an email address like 'newswatch <nw@example.org>'")
    return Address(display_name=name, addr_spec=addr)


class FileBackend:
    """Writes each email as an .eml file: for tests, demos and sites without SendGrid."""

    def __init__(self, outbox_dir: Path) -> None:
        self.outbox_dir = Path(outbox_dir)

    def send(self, email: OutgoingEmail) -> str | None:
        try:
            msg = build_mime(email)
            # SMTP policy: CRLF line ends and RFC 2047-encoded headers, as RFC 5322 wants.
            data = msg.as_bytes(policy=SMTP)
        except (ValueError, TypeError) as exc:
            # A header the email package refuses (e.g. a bad address): retrying won't fix it.
            raise SendError(
                f"alert {email.alert_id}: cannot build the email: {exc}", retry=False
            ) from exc
        path = self.outbox_dir / eml_name(email.alert_id)
        try:
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
            _write_atomic(path, data)
        except OSError as exc:
            # Permissions, a full disk or a file where the folder should be: the operator can
            # fix all of these, so the alert stays queued.
            raise SendError(
                f"cannot write to outbox folder {self.outbox_dir}: {exc.strerror or exc}",
                retry=True,
            ) from exc
        return str(msg["Message-ID"])


def _write_atomic(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one.

    The temp file lives in the same folder (os.replace is only atomic within one file
    system) and does not end in .eml, so nothing globbing the outbox picks it up.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; the outbox is meant to be read
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, hence best effort.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- SendGrid backend -----------------------------------------------------------------

_BEARER = re.compile(r"(Bearer\s+)[^\s'\",}]+", re.IGNORECASE)
_SENDGRID_KEY = re.compile(r"SG\.[\w-]+\.[\w-]+")

# What each refusal means for the operator; these are never retried.
_PERMANENT_HINTS = {
    400: "SendGrid rejected the request (check the from address is a verified sender)",
    401: "SendGrid did not accept the API key (check SENDGRID_API_KEY)",
    403: "the API key may not send mail, or the from address is not allowed",
    413: "the message is too large for SendGrid",
}


def redact(text: str) -> str:
    """Remove anything that looks like a credential from text bound for logs or errors."""
    return _SENDGRID_KEY.sub("SG.[redacted]", _BEARER.sub(r"\1[redacted]", text))


class _RedactFilter(logging.Filter):
    """python_http_client logs every request's headers at DEBUG, Authorization included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _install_redaction() -> None:
    client_log = logging.getLogger("python_http_client.client")
    if not any(isinstance(f, _RedactFilter) for f in client_log.filters):
        client_log.addFilter(_RedactFilter())


_install_redaction()


class SendGridBackend:
    """Sends through SendGrid's v3 Mail Send API with the official client."""

    def __init__(self, api_key: SecretStr, host: str, timeout: float) -> None:
        secret = api_key.get_secret_value()
        if not secret:
            # The client would silently fall back to os.environ; be explicit instead.
            raise ValueError("the SendGrid API key is empty")
        self._secret = secret
        # pydantic's AnyHttpUrl adds a trailing slash, which would make //v3/mail/send.
        self.host = str(host).rstrip("/")
        self.timeout = float(timeout)
        self._client = SendGridAPIClient(api_key=secret, host=self.host)
        # python_http_client waits forever by default; a hung connection would pin a worker.
        self._client.client.timeout = self.timeout

    def __repr__(self) -> str:
        return f"SendGridBackend(host={self.host!r}, timeout={self.timeout})"

    def send(self, email: OutgoingEmail) -> str | None:
        body = self._request_body(email)
        try:
            response = self._client.send(body)
        except python_http_client.exceptions.HTTPError as exc:
            # The client wraps codes it knows (400, 401, 429, 500, ...) in its own classes
            # and the rest (502, ...) in their base class; either way, branch on the code.
            raise self._http_error(email, exc.status_code, exc.headers, exc.body) from None
        except urllib.error.HTTPError as exc:
            raise self._http_error(email, exc.code, exc.headers, _read(exc)) from None
        except urllib.error.URLError as exc:
            # Raised while connecting or sending: SendGrid cannot have accepted anything.
            raise SendError(
                f"alert {email.alert_id}: cannot reach SendGrid at {self.host}: "
                f"{self._clean(str(exc.reason))}",
                retry=True,
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            # Raised while waiting for the answer (read timeout, dropped connection): the
            # request went out, so SendGrid may have accepted it.
            raise SendError(
                f"alert {email.alert_id}: no answer from SendGrid at {self.host} within "
                f"{self.timeout:g}s ({type(exc).__name__}: {self._clean(str(exc))}); "
                "the message may have been sent",
                retry=True,
                ambiguous=True,
            ) from None
        if not 200 <= response.status_code < 300:
            raise self._http_error(email, response.status_code, response.headers, response.body)
        message_id = response.headers.get("X-Message-Id")
        return str(message_id) if message_id else None

    def _request_body(self, email: OutgoingEmail) -> dict[str, Any]:
        sender = _address(email.from_addr)
        mail = Mail(
            from_email=From(sender.addr_spec, sender.display_name or None),
            to_emails=To(email.to, email.to_name or None),
            subject=email.subject,
            plain_text_content=email.text,
            html_content=email.html,
        )
        # custom_args come back in every Event Webhook post: that is how events find the alert.
        mail.custom_arg = CustomArg("alert_id", str(email.alert_id))
        # The helper inserts each category at the front; add them backwards to keep our order.
        for category in reversed(email.categories):
            mail.add_category(Category(category))
        for name, value in email.headers.items():
            mail.add_header(Header(name, value))
        try:
            return dict(mail.get())
        except ApiKeyIncludedException:
            # The helper refuses bodies that look like they contain a SendGrid key.
            raise SendError(
                f"alert {email.alert_id}: the body looks like it contains an API key",
                retry=False,
            ) from None

    def _http_error(
        self, email: OutgoingEmail, status: int, headers: Any, body: bytes | str | None
    ) -> SendError:
        detail = self._clean(_error_detail(body))
        where = f"alert {email.alert_id}: SendGrid answered {status}"
        if status == 429:
            wait = retry_after_seconds(headers)
            hint = f"rate limited, retry in {wait:.0f}s" if wait is not None else "rate limited"
            return SendError(f"{where}: {hint}", retry=True, status=status, retry_after=wait)
        if status >= 500 or status == 408:
            return SendError(f"{where}: server error{detail}", retry=True, status=status)
        hint = _PERMANENT_HINTS.get(status, "request refused")
        return SendError(f"{where}: {hint}{detail}", retry=False, status=status)

    def _clean(self, text: str) -> str:
        # Belt and braces: nothing we build should ever contain the key, but an
        # exception text from deep inside urllib is not ours to vouch for.
        return redact(text.replace(self._secret, "[redacted]"))


def retry_after_seconds(headers: Any, *, now: float | None = None) -> float | None:
    """Seconds to wait, from X-RateLimit-Reset (SendGrid: Unix time) or Retry-After."""
    if headers is None:
        return None
    now = time.time() if now is None else now
    reset = headers.get("X-RateLimit-Reset")
    if reset is not None:
        with contextlib.suppress(ValueError):
            value = float(reset)
            # A small number is a delay, a large one a timestamp; accept both.
            return max(0.0, value - now if value > 1e9 else value)
    retry_after = headers.get("Retry-After")
    if retry_after is not None:
        with contextlib.suppress(ValueError):
            return max(0.0, float(retry_after))
        with contextlib.suppress(TypeError, ValueError):
            return max(0.0, parsedate_to_datetime(retry_after).timestamp() - now)
    return None


def _read(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read()
    except OSError:
        return b""


def _error_detail(body: bytes | str | None) -> str:
    """SendGrid explains refusals as {"errors": [{"message": ...}]}; keep the first lines."""
    if not body:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        errors = json.loads(text).get("errors") or []
        messages = [str(e.get("message")) for e in errors if isinstance(e, dict)]
    except (ValueError, AttributeError):
        messages = [text]
    joined = "; ".join(m for m in messages if m)[:300]
    return f" ({' '.join(joined.split())})" if joined else ""
