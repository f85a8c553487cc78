"""One-click unsubscribe (RFC 8058) and the link in every email.

    GET  /unsubscribe/<token>   a confirmation page whose button POSTs; changes nothing
    POST /unsubscribe/<token>   unsubscribes at once, no login (what mail clients send)

GET must not unsubscribe: mail scanners and link previewers fetch every link
in a message. POST accepts `List-Unsubscribe=One-Click`, an empty body or our
own form; the signed token is the only credential, so the body is not checked.
"""

from __future__ import annotations

import asyncio
import html
import logging

from aiohttp import web
from sqlalchemy.exc import IntegrityError

from newswatch.alerts.subscriptions import set_state
from newswatch.alerts.tokens import make_token, verify_token
from newswatch.models import SubscriberState
from newswatch.storage import Database
from newswatch.web import DEPS

log = logging.getLogger(__name__)

ONE_CLICK = "List-Unsubscribe=One-Click"


def unsubscribe_url(email: str, *, public_url: str, secret: bytes) -> str:
    """The link for `email`'s messages: `<public_url>/unsubscribe/<token>`."""
    return f"{str(public_url).rstrip('/')}/unsubscribe/{make_token(email, secret)}"


def list_unsubscribe_headers(url: str) -> dict[str, str]:
    """The RFC 8058 headers that let mail clients offer a one-click unsubscribe."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}


def unsubscribe(db: Database, email: str) -> int:
    """Unsubscribe `email` now; returns how many unsent alerts were suppressed."""
    try:
        return _unsubscribe(db, email)
    except IntegrityError:
        # A webhook event created the address's row at the same moment; now it exists.
        return _unsubscribe(db, email)


def _unsubscribe(db: Database, email: str) -> int:
    with db.transaction() as session:
        return set_state(
            session, email, SubscriberState.unsubscribed, by="link", reason="unsubscribe link"
        )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/unsubscribe/{token}", confirm_page)
    app.router.add_post("/unsubscribe/{token}", unsubscribe_now)


async def confirm_page(request: web.Request) -> web.Response:
    email = _email_from(request)
    if email is None:
        return _invalid_link()
    return _page(
        "Afmelden / Unsubscribe",
        f"<p>Wilt u <strong>{html.escape(email)}</strong> afmelden voor de berichten van "
        "newswatch?</p>"
        f"<p lang='en'>Unsubscribe <strong>{html.escape(email)}</strong> from newswatch "
        "emails?</p>"
        # No action attribute: the form posts back to this very URL, also
        # behind a proxy that adds a path prefix.
        '<form method="post">'
        f'<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Afmelden / Unsubscribe</button>'
        "</form>",
    )


async def unsubscribe_now(request: web.Request) -> web.Response:
    email = _email_from(request)
    if email is None:
        return _invalid_link()
    await request.read()  # drain the (ignored) body so the connection can be reused
    db = request.app[DEPS].db
    suppressed = await asyncio.to_thread(unsubscribe, db, email)
    log.info("unsubscribed %s by link (%d unsent alert(s) suppressed)", email, suppressed)
    return _page(
        "Afgemeld / Unsubscribed",
        f"<p><strong>{html.escape(email)}</strong> is afgemeld en krijgt geen berichten "
        "meer van newswatch.</p>"
        f"<p lang='en'><strong>{html.escape(email)}</strong> is unsubscribed and will get "
        "no more newswatch emails.</p>",
    )


def _email_from(request: web.Request) -> str | None:
    return verify_token(request.match_info["token"], request.app[DEPS].secret)


def _invalid_link() -> web.Response:
    # Forged and garbled tokens look the same: no hint which part was wrong.
    return _page(
        "Ongeldige link / Invalid link",
        "<p>Deze afmeldlink is ongeldig of onvolledig. Kopieer de hele link uit de e-mail.</p>"
        "<p lang='en'>This unsubscribe link is invalid or incomplete. "
        "Copy the whole link from the email.</p>",
        status=400,
    )


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    text = (
        '<!DOCTYPE html>\n<html lang="nl"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em}"
        "button{font-size:1.1em;padding:.5em 1.2em}</style>"
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )
    return web.Response(
        text=text,
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
