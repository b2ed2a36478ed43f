"""E-mail through SMTP (standard library), used when LIVECART_SMTP_HOST is set.

`Mailer.send` says per mail whether the server took it, refused it for good (a 5xx reply:
no such mailbox, policy) or could not be asked now (no connection, a 4xx reply, a dropped
connection): the outbox (`marketing.delivery`) keeps the result and tries the last kind again.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from enum import StrEnum

from livecart.settings import Settings

log = logging.getLogger(__name__)

# SMTP's own line limit (RFC 5322: 998), so that the unsubscribe link, one long word, is not
# folded into an encoded word that mail clients would not read as a link.
LONG_LINES = policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    body: str
    # The recipient's one-click unsubscribe link (RFC 8058 `List-Unsubscribe` headers).
    unsubscribe: str | None = None


class Verdict(StrEnum):
    sent = "sent"  # the server accepted it
    refused = "refused"  # a permanent refusal: trying again would not help
    retry = "retry"  # not asked, or a temporary refusal: try again later


@dataclass(frozen=True)
class MailResult:
    verdict: Verdict
    error: str | None = None


def _refusal(code: int, detail: object) -> MailResult:
    text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    verdict = Verdict.refused if code >= 500 else Verdict.retry
    return MailResult(verdict, f"{code} {text}"[:300])


@dataclass(frozen=True)
class Mailer:
    """Where and how to send: one SMTP connection per batch."""

    host: str
    port: int = 25
    sender: str = "livecart@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    def _send(self, mails: list[OutgoingMail]) -> list[MailResult]:
        results: list[MailResult] = []
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                for mail in mails:
                    results.append(self._send_one(smtp, mail))
        except (OSError, smtplib.SMTPException) as exc:
            # No connection, or it broke: the mails without a result were not sent.
            error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("SMTP %s:%d: %s", self.host, self.port, error)
            results += [MailResult(Verdict.retry, error)] * (len(mails) - len(results))
        return results

    def _send_one(self, smtp: smtplib.SMTP, mail: OutgoingMail) -> MailResult:
        message = EmailMessage(policy=LONG_LINES)
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        if mail.unsubscribe:
            message["List-Unsubscribe"] = f"<{mail.unsubscribe}>"
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(mail.body)
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, detail = next(iter(exc.recipients.values()))
            return _refusal(code, detail)
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            return _refusal(exc.smtp_code, exc.smtp_error)
        return MailResult(Verdict.sent)

    async def send(self, mails: list[OutgoingMail]) -> list[MailResult]:
        """Send the mails in a thread (blocking SMTP off the event loop): a result per mail."""
        if not mails:
            return []
        return await asyncio.to_thread(self._send, mails)


def mailer_from(settings: Settings) -> Mailer | None:
    """The mailer the SMTP settings describe, or None when no host is set."""
    if not settings.smtp_host:
        return None
    return Mailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
    )
