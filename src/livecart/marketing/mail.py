"""E-mail through SMTP (standard library), used when LIVECART_SMTP_HOST is set."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMail:
    to: str
    subject: str
    body: str


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

    def _send(self, mails: list[OutgoingMail]) -> int:
        sent = 0
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username and self.password:
                smtp.login(self.username, self.password)
            for mail in mails:
                message = EmailMessage()
                message["From"] = self.sender
                message["To"] = mail.to
                message["Subject"] = mail.subject
                message.set_content(mail.body)
                try:
                    smtp.send_message(message)
                    sent += 1
                except smtplib.SMTPException:
                    log.warning("e-mail to one recipient was refused", exc_info=True)
        return sent

    async def send_all(self, mails: list[OutgoingMail]) -> None:
        """Send the mails (after commit) in a thread; failures are logged."""
        if mails:
            sent = await asyncio.to_thread(self._send, mails)
            log.info("marketing e-mail: %d of %d sent", sent, len(mails))


def mailer_from(
    *,
    host: str | None,
    port: int,
    sender: str,
    username: str | None,
    password: str | None,
    starttls: bool,
) -> Mailer | None:
    """The mailer the SMTP settings describe, or None when no host is set."""
    if not host:
        return None
    return Mailer(
        host=host,
        port=port,
        sender=sender,
        username=username,
        password=password,
        starttls=starttls,
    )
