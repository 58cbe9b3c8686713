"""Deliver a rendered message over SMTP, exactly as written to the ``.eml`` file."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Sequence
from email.utils import parseaddr

from publisher.config import SmtpConfig
from publisher.errors import SendError


def envelope_address(header_value: str) -> str:
    """The bare address of a ``Name <address>`` header value."""
    return parseaddr(header_value)[1]


def send_message(
    smtp: SmtpConfig,
    message: bytes,
    *,
    sender: str,
    recipients: Sequence[str],
    password: str | None = None,
) -> None:
    """Send ``message`` unchanged to ``recipients``; every failure is one :class:`SendError`.

    ``smtp.tls`` is ``ssl`` (TLS from the first byte, usually port 465), ``starttls`` (upgrade,
    usually 587; refused when the server does not offer it) or ``none`` (local relays only).
    Logging in happens only when ``smtp.user`` is set, and then needs ``password``.
    """
    where = f"{smtp.host}:{smtp.port}"
    if smtp.user and password is None:
        raise SendError(
            f"{smtp.password_env} is not set (the password for {smtp.user!r})",
            path="digest.smtp.password_env",
        )
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if smtp.tls == "ssl":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        try:
            if smtp.tls == "starttls":
                client.starttls(context=context)
            if smtp.user:
                client.login(smtp.user, password or "")
            refused = _transmit(client, sender, recipients, message, where)
        except BaseException:
            client.close()
            raise
        # The server took the message (250 after DATA): it is sent, whatever QUIT brings.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
        client.close()
    except SendError:
        raise
    except smtplib.SMTPAuthenticationError as error:
        raise SendError(f"login refused for {smtp.user!r}: {_reply(error)}", path=where) from None
    except smtplib.SMTPNotSupportedError as error:
        raise SendError(f"server does not support {error}", path=where) from None
    except smtplib.SMTPRecipientsRefused as error:
        refused_all = ", ".join(sorted(error.recipients))
        raise SendError(f"every recipient refused: {refused_all}", path=where) from None
    except smtplib.SMTPResponseException as error:
        raise SendError(f"server said {_reply(error)}", path=where) from None
    except smtplib.SMTPException as error:
        raise SendError(f"SMTP error: {error}", path=where) from None
    except ssl.SSLError as error:
        raise SendError(f"TLS failed: {error.reason or error}", path=where) from None
    except OSError as error:
        raise SendError(f"cannot connect: {error.strerror or error}", path=where) from None
    if refused:
        raise SendError(f"recipients refused: {', '.join(sorted(refused))}", path=where)


def _transmit(
    client: smtplib.SMTP, sender: str, recipients: Sequence[str], message: bytes, where: str
) -> dict[str, tuple[int, bytes]]:
    """The envelope, then the message exactly as written; the recipients refused.

    Once the server has asked for the data, a lost connection or a timeout may come after it
    took the whole message: that is "possibly sent", never "not sent".
    """
    client.ehlo_or_helo_if_needed()
    code, reply = client.mail(sender)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for recipient in recipients:
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    try:
        code, reply = client.data(message)
    except (smtplib.SMTPServerDisconnected, OSError) as error:
        raise SendError(
            f"the connection failed during the message ({error}); it may have been delivered",
            path=where,
            possibly_sent=True,
        ) from None
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _reply(error: smtplib.SMTPResponseException) -> str:
    text = error.smtp_error
    detail = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{error.smtp_code} {' '.join(detail.split())}"
