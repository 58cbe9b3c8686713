"""The issue as an email and as an archive page: MIME headers and bytes, Jekyll front matter."""

from __future__ import annotations

import hashlib
import json
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr

from slugify import slugify

from publisher.digest.issue import Digest


class _MailPolicy(EmailPolicy):
    """SMTP's policy, with each header folded within :attr:`max_line_length` unless one of its
    words cannot fit a line: then it is folded only past RFC 5322's hard limit (998), since
    folding a long List-Unsubscribe URL makes it an encoded word, and one-click unsubscribe
    stops working."""

    def fold(self, name: str, value: str) -> str:
        return str(EmailPolicy.fold(self._for(name, value), name, value))

    def fold_binary(self, name: str, value: str) -> bytes:
        return EmailPolicy.fold_binary(self._for(name, value), name, value)

    def _for(self, name: str, value: str) -> EmailPolicy:
        longest = max((len(word) for word in f"{name}: {value}".split()), default=0)
        if longest < (self.max_line_length or 998) - 1:
            return self
        return self.clone(max_line_length=998)


MAIL_POLICY = _MailPolicy(linesep="\r\n", max_line_length=76)
"""Lines within RFC 2045's 76 characters (section 6.7), quoted-printable bodies included:
longer ones are scored as spam (SpamAssassin's ``MIME_QP_LONG_LINE``)."""


def build_message(digest: Digest, html: str, text: str) -> bytes:
    """The whole email, ``multipart/alternative`` with the text part first, CRLF line ends."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = digest.subject
    message["From"] = digest.sender
    message["To"] = digest.list_address
    message["Date"] = format_datetime(digest.sent_at)
    message["Message-ID"] = message_id(digest)
    message["List-Id"] = f"{_phrase(digest.site_title)} <{digest.list_id}>"
    unsubscribe = []
    if digest.unsubscribe_url:
        unsubscribe.append(f"<{digest.unsubscribe_url}>")
    if digest.unsubscribe_mailto:
        unsubscribe.append(f"<{digest.unsubscribe_mailto_link}>")
    message["List-Unsubscribe"] = ", ".join(unsubscribe)
    if digest.unsubscribe_url:
        # RFC 8058 one-click: only meaningful with an https URI to POST to.
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Precedence"] = "bulk"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # The default boundary is random; one derived from the content keeps reruns identical.
    fingerprint = hashlib.sha256(f"{text}\0{html}".encode()).hexdigest()[:32]
    message.set_boundary(f"=_publisher_{fingerprint}")
    return message.as_bytes()


def message_id(digest: Digest) -> str:
    """``<digest-2026-w47.list@example.org>``: one id per issue (see
    :attr:`~publisher.digest.issue.IssueWeek.key`) and list, stable across reruns."""
    domain = Address(addr_spec=parseaddr(digest.sender)[1]).domain
    return f"<digest-{digest.week.key.lower()}.{slugify(digest.list_id)}@{domain}>"


def archive_page(digest: Digest, html: str) -> bytes:
    """A Jekyll page for the site's newsletter archive: front matter, then the email's HTML."""
    front_matter = [
        "---",
        f"title: {quoted(inert(digest.archive_title))}",
        f"date: {digest.sent_at.strftime('%Y-%m-%d %H:%M:%S %z')}",
        f"excerpt: {quoted(inert(' / '.join(digest.top_titles)))}",
        f"week: {quoted(digest.week.label)}",
        # Article titles may contain "{{"; Jekyll must not read the issue as Liquid.
        "render_with_liquid: false",
        "---",
        "",
    ]
    return ("\n".join(front_matter) + html).encode("utf-8")


def inert(text: str) -> str:
    """Text a layout may print unescaped (``{{ page.excerpt }}``) without it becoming markup:
    ``<`` and ``>`` are written as the look-alike single angle quotation marks (U+2039,
    U+203A), which read the same and need no escaping whether the layout escapes or not."""
    return text.replace("<", "\N{SINGLE LEFT-POINTING ANGLE QUOTATION MARK}").replace(
        ">", "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}"
    )


def quoted(value: str) -> str:
    """A YAML double-quoted scalar: JSON's string escapes are a subset of YAML's."""
    return json.dumps(value, ensure_ascii=False)


def _phrase(text: str) -> str:
    """A display name safe in a header: quoted when it holds specials."""
    if re.fullmatch(r"[\w !#$%&'*+\-/=?^`{|}~]+", text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
