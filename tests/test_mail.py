"""Sending the issue through a real SMTP server (aiosmtpd on localhost)."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from click.testing import CliRunner
from helpers import Inbox, free_port, spoil_store

from publisher.cli import main
from publisher.cli.digest import EXIT_SEND_FAILED
from publisher.config import SmtpConfig
from publisher.errors import SendError
from publisher.mail import send_message
from publisher.state import DB_NAME, open_store

ROOT = Path(__file__).resolve().parents[1]


def accept_only(user: str, password: str) -> Any:
    def authenticate(
        server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        # handled=False: aiosmtpd then answers a refusal with 535 (it stays silent otherwise).
        return AuthResult(success=ok, handled=False)

    return authenticate


@pytest.fixture
def auth_server() -> Iterator[tuple[int, Inbox]]:
    """An SMTP server that accepts only user "editor" with password "right"."""
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=accept_only("editor", "right"),
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


def write_config(folder: Path, port: int, user: str = "") -> Path:
    """The repository's config, writing into ``folder``, sending to localhost:``port``."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    text = text.replace('content = "content/_news"', f"content = {str(ROOT / 'content/_news')!r}")
    text = text.replace(
        'templates = "templates/email"', f"templates = {str(ROOT / 'templates/email')!r}"
    )
    text = text.split("[digest.smtp]")[0] + (
        f'[digest.smtp]\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\nuser = "{user}"\n'
        'password_env = "TEST_PUBLISHER_SMTP_PASSWORD"\ntimeout = 5\n'
    )
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def digest(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["digest", "--week", "2026-W47", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_send_message_delivers_the_exact_bytes(smtp_server: tuple[int, Inbox]) -> None:
    """The server receives the message unchanged, from the sender, to the recipients."""
    port, inbox = smtp_server
    message = b"Subject: hi\r\nFrom: a@test.example\r\n\r\nline one\r\n.line with a dot\r\n"
    smtp = SmtpConfig(host="127.0.0.1", port=port, tls="none", timeout=5)
    send_message(smtp, message, sender="a@test.example", recipients=["b@test.example"])
    expected = [("a@test.example", ["b@test.example"], message)]
    assert expected == inbox.messages


def test_send_delivers_the_eml(tmp_path: Path, smtp_server: tuple[int, Inbox]) -> None:
    """digest --send --to: the message received equals the .eml written."""
    port, inbox = smtp_server
    config = write_config(tmp_path, port)
    code, out, err = digest("--config", str(config), "--send", "--to", "editor@test.example")
    eml = (tmp_path / "newsletters" / "2026-W47.eml").read_bytes()
    expected = (0, "", [("news@news.example.org", ["editor@test.example"], eml)])
    assert expected == (code, err, inbox.messages)
    assert out.rstrip().endswith("; sent to editor@test.example")


def test_send_goes_to_the_list_by_default(tmp_path: Path, smtp_server: tuple[int, Inbox]) -> None:
    """Without --to, the envelope recipient is digest.list_address."""
    port, inbox = smtp_server
    code, _, _ = digest("--config", str(write_config(tmp_path, port)), "--send")
    expected = (0, [["readers@news.example.org"]])
    assert expected == (code, [recipients for _, recipients, _ in inbox.messages])


def test_no_send_without_the_flag(tmp_path: Path, smtp_server: tuple[int, Inbox]) -> None:
    """Sending is off by default."""
    port, inbox = smtp_server
    code, _, _ = digest("--config", str(write_config(tmp_path, port)))
    expected = (0, [])
    assert expected == (code, inbox.messages)


def test_login_with_password_from_environment(
    tmp_path: Path, auth_server: tuple[int, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """digest.smtp.user logs in with the password from the named environment variable."""
    port, inbox = auth_server
    monkeypatch.setenv("TEST_PUBLISHER_SMTP_PASSWORD", "right")
    code, _, err = digest("--config", str(write_config(tmp_path, port, user="editor")), "--send")
    expected = (0, "", 1)
    assert expected == (code, err, len(inbox.messages))


def test_refused_login_is_one_line_and_keeps_the_files(
    tmp_path: Path, auth_server: tuple[int, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong password: one line naming the failure, exit 6, the files are written."""
    port, inbox = auth_server
    monkeypatch.setenv("TEST_PUBLISHER_SMTP_PASSWORD", "wrong")
    code, _, err = digest("--config", str(write_config(tmp_path, port, user="editor")), "--send")
    expected = (EXIT_SEND_FAILED, 1, [], True)
    assert expected == (
        code,
        len(err.splitlines()),
        inbox.messages,
        (tmp_path / "newsletters" / "2026-W47.eml").is_file(),
    )
    assert err.startswith(f"publisher: error: not sent: 127.0.0.1:{port}: login refused")


def test_unreachable_server_is_one_line_and_keeps_the_files(tmp_path: Path) -> None:
    """Nothing listening: one line, exit 6, the files are written."""
    port = free_port()
    code, _, err = digest("--config", str(write_config(tmp_path, port)), "--send")
    expected = (EXIT_SEND_FAILED, 1, True)
    assert expected == (
        code,
        len(err.splitlines()),
        (tmp_path / "newsletters" / "2026-W47.html").is_file(),
    )
    assert err.startswith(f"publisher: error: not sent: 127.0.0.1:{port}: cannot connect: ")


def test_missing_password_variable_is_a_send_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user with no password in the environment fails before connecting, naming the variable."""
    smtp = SmtpConfig(host="127.0.0.1", port=free_port(), user="editor", password_env="NOPE_PW")
    with pytest.raises(SendError, match="NOPE_PW is not set"):
        send_message(smtp, b"x", sender="a@test.example", recipients=["b@test.example"])


def test_starttls_refused_by_a_plain_server(smtp_server: tuple[int, Inbox]) -> None:
    """tls = starttls never falls back to plain text when the server cannot upgrade."""
    port, inbox = smtp_server
    smtp = SmtpConfig(host="127.0.0.1", port=port, tls="starttls", timeout=5)
    with pytest.raises(SendError, match="STARTTLS"):
        send_message(smtp, b"x", sender="a@test.example", recipients=["b@test.example"])
    nothing: list[object] = []
    assert nothing == inbox.messages


def test_a_week_is_sent_to_the_list_once(tmp_path: Path, smtp_server: tuple[int, Inbox]) -> None:
    """Rerunning the weekly job does not mail subscribers again; --resend and --to still send."""
    port, inbox = smtp_server
    config = str(write_config(tmp_path, port))
    assert 0 == digest("--config", config, "--send")[0]
    code, out, _ = digest("--config", config, "--send")
    assert (0, 1) == (code, len(inbox.messages))
    assert "already sent to the list; not sent again" in out
    assert 0 == digest("--config", config, "--send", "--to", "editor@test.example")[0]
    assert 0 == digest("--config", config, "--send", "--resend")[0]
    expected = [["readers@news.example.org"], ["editor@test.example"], ["readers@news.example.org"]]
    assert expected == [recipients for _, recipients, _ in inbox.messages]
    store, _ = open_store(tmp_path / ".publisher-cache")
    record = store.send_record("readers@news.example.org", "2026-W47")
    store.close()
    assert record is not None
    assert ("sent", True) == (record.state, record.message_id.startswith("<digest-2026-w47."))


@pytest.mark.parametrize(
    ("to", "reason"),
    [
        ("", "must not be empty"),
        ("   ", "'   ' is not an email address like name@example.org"),
        ("editor", "'editor' is not an email address like name@example.org"),
        ("a@test.example, b@test.example", "is not an email address like name@example.org"),
        ("Editor <editor@test.example>", "is not an email address like name@example.org"),
        ("éditeur@test.example", "is not an ASCII address (SMTPUTF8 is not supported)"),
    ],
)
def test_bad_to_address_is_refused_before_anything_happens(
    tmp_path: Path, smtp_server: tuple[int, Inbox], to: str, reason: str
) -> None:
    """--to "" would send RCPT TO:<> and report success: every malformed --to is exit 2 with
    one line, and nothing is written or sent."""
    port, inbox = smtp_server
    config = write_config(tmp_path, port)
    code, _, err = digest(
        "--config", str(config), "--send", "--to", "editor@test.example", "--to", to
    )
    assert (2, 1, [], False) == (
        code,
        len(err.splitlines()),
        inbox.messages,
        (tmp_path / "newsletters").exists(),
    )
    assert err.startswith("publisher: error: --to: ")
    assert reason in err


@pytest.mark.parametrize(
    ("kind", "code", "said"),
    [
        ("a newer schema", 0, "already sent to the list; not sent again"),
        ("truncated", 2, "publisher: error: "),
        ("random bytes", 2, "publisher: error: "),
    ],
)
def test_a_store_set_aside_does_not_mail_the_list_again(
    tmp_path: Path, smtp_server: tuple[int, Inbox], kind: str, code: int, said: str
) -> None:
    """A store found newer or damaged after a send is set aside: the record of sends is
    carried over from it when it can be read (exit 0, not sent again), else --send refuses in
    one line naming --resend (exit 2); either way the list gets the issue once."""
    port, inbox = smtp_server
    config = str(write_config(tmp_path, port))
    assert 0 == digest("--config", config, "--send")[0]
    spoil_store(kind, tmp_path / ".publisher-cache" / DB_NAME)
    again, out, err = digest("--config", config, "--send")
    expected = (code, 1)
    assert expected == (again, inbox.to_list()), err
    assert said in (out if code == 0 else err.splitlines()[-1])
    if code:
        assert "--resend" in err.splitlines()[-1]
    assert (code, 1) == (digest("--config", config, "--send")[0], inbox.to_list())


def test_resend_after_a_lost_record_sends_and_records_again(
    tmp_path: Path, smtp_server: tuple[int, Inbox]
) -> None:
    """With the record unreadable, --resend sends the week; from then on it is recorded as
    before, so the next --send does not mail the list again."""
    port, inbox = smtp_server
    config = str(write_config(tmp_path, port))
    assert 0 == digest("--config", config, "--send")[0]
    spoil_store("random bytes", tmp_path / ".publisher-cache" / DB_NAME)
    assert 0 == digest("--config", config, "--send", "--resend")[0]
    code, out, _ = digest("--config", config, "--send")
    assert (0, 2) == (code, inbox.to_list())
    assert "already sent to the list; not sent again" in out


def test_a_changed_week_start_makes_a_new_issue_that_is_sent(
    tmp_path: Path, smtp_server: tuple[int, Inbox]
) -> None:
    """2026-W47 sent with Monday weeks, then digest.week_starts = "wednesday": the Wednesday
    issue of 2026-W47 is another issue, with its own files and Message-ID, and it is sent
    (once); the Monday issue stays recorded as sent."""
    port, inbox = smtp_server
    config = write_config(tmp_path, port)
    assert 0 == digest("--config", str(config), "--send")[0]
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[digest]\n", '[digest]\nweek_starts = "wednesday"\n'))
    code, out, err = digest("--config", str(config), "--send")
    again = digest("--config", str(config), "--send")
    ids = [message_from_bytes(data)["Message-ID"] for _, _, data in inbox.messages]
    expected = (0, 2, 2, 0)
    assert expected == (code, inbox.to_list(), len(set(ids)), again[0]), err
    assert "sent to readers@news.example.org" in out
    assert "already sent to the list; not sent again" in again[1]
    names = sorted(path.name for path in (tmp_path / "newsletters").glob("2026-W47*.eml"))
    assert ["2026-W47-wed.eml", "2026-W47.eml"] == names


def test_a_send_recorded_without_its_day_counts_with_a_warning(
    tmp_path: Path, smtp_server: tuple[int, Inbox]
) -> None:
    """A Wednesday issue sent by a release that did not record the day (under "2026-W47",
    day unknown) is not sent again; a warning says --resend sends it if it was another issue."""
    port, inbox = smtp_server
    config = write_config(tmp_path, port)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[digest]\n", '[digest]\nweek_starts = "wednesday"\n'))
    assert 0 == digest("--config", str(config), "--send")[0]
    store, _ = open_store(tmp_path / ".publisher-cache")
    try:
        store.connection.execute("UPDATE sends SET week = '2026-W47', week_starts = NULL")
    finally:
        store.close()
    code, _, err = digest("--config", str(config), "--send", "-q")
    assert (0, 1) == (code, inbox.to_list())
    assert err.startswith("warning: 2026-W47 was sent to the list before publisher recorded")
    assert "--resend" in err
