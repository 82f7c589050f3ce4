"""Deliver regression alerts to a chat webhook and/or by email (stdlib only).

Configuration comes from the environment only, never from files, so secrets stay out of the
checkout:

- ``RELIONBENCH_WEBHOOK_URL``: POST ``{"text": ...}`` as JSON (Slack, Mattermost and Teams
  incoming webhooks all accept it).
- ``RELIONBENCH_SMTP_HOST`` enables email; ``RELIONBENCH_SMTP_TO`` (comma-separated) is then
  required. Optional: ``RELIONBENCH_SMTP_PORT`` (25, or 465 with SSL), ``RELIONBENCH_SMTP_FROM``
  (``relionbench@<hostname>``), ``RELIONBENCH_SMTP_USER`` / ``RELIONBENCH_SMTP_PASSWORD``
  (login), ``RELIONBENCH_SMTP_STARTTLS=1`` or ``RELIONBENCH_SMTP_SSL=1``.

:func:`send` retries transient failures, never raises for delivery problems and keeps the URL,
user and password out of every detail and log line.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import json
import logging
import os
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

log = logging.getLogger(__name__)

WEBHOOK_URL = 'RELIONBENCH_WEBHOOK_URL'
SMTP = 'RELIONBENCH_SMTP_'          # prefix of the email variables
RETRY_HTTP = (408, 425, 429)        # 4xx that may get better; every 5xx is retried too
USER_AGENT = 'relionbench-alerts/1'
DELIVERY_ERRORS = (OSError, smtplib.SMTPException, http.client.HTTPException, ValueError)
"""What a delivery attempt may raise (URLError, timeouts and SSL errors are OSErrors)."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one channel; ``detail`` never holds the URL, user or password."""

    channel: str    # 'webhook' or 'email'
    ok: bool
    detail: str


def channels(environ=None) -> list[str]:
    """Configured channels, from the environment only (None means os.environ)."""
    env = os.environ if environ is None else environ
    found = []
    if env.get(WEBHOOK_URL, '').strip():
        found.append('webhook')
    if env.get(SMTP + 'HOST', '').strip():
        found.append('email')
    return found


def send(subject: str, text: str, environ=None, attempts=3, timeout=5.0,
         backoff=0.5) -> list[Outcome]:
    """Post to every configured channel; never raises for delivery problems."""
    env = os.environ if environ is None else environ
    senders = {'webhook': _send_webhook, 'email': _send_email}
    outcomes = []
    for channel in channels(env):
        outcome = senders[channel](subject, text, env, max(1, attempts), timeout, backoff)
        (log.info if outcome.ok else log.warning)('%s alert: %s', channel, outcome.detail)
        outcomes.append(outcome)
    return outcomes


def _redact(text, secrets):
    """``text`` with every non-empty secret replaced by ``***`` (longest first)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, '***')
    return text


def _flag(env, name):
    return env.get(name, '').strip().lower() in ('1', 'true', 'yes', 'on')


def _retry(channel, attempt, attempts, backoff, secrets):
    """Run ``attempt()`` (returns a success detail) until it succeeds or fails for good."""
    for i in range(attempts):
        try:
            detail = attempt()
        except DELIVERY_ERRORS as exc:
            reason = _redact(_reason(exc), secrets)
            if _permanent(exc):
                return Outcome(channel, False, f'{reason} (not retried)')
            log.debug('%s alert attempt %d/%d failed: %s', channel, i + 1, attempts, reason)
            if i + 1 < attempts:
                time.sleep(backoff * 2 ** i)
        else:
            suffix = f' on attempt {i + 1}' if i else ''
            return Outcome(channel, True, _redact(detail, secrets) + suffix)
    tries = f'{attempts} attempts' if attempts > 1 else '1 attempt'
    return Outcome(channel, False, f'gave up after {tries}: {reason}')


def _reason(exc):
    """A one-line description of a delivery error."""
    if isinstance(exc, urllib.error.HTTPError):
        try:
            body = exc.read(200).decode('utf-8', 'replace')
        except DELIVERY_ERRORS:
            body = ''
        finally:
            exc.close()
        text = f'HTTP {exc.code} {exc.reason}' + (f': {body}' if body.strip() else '')
    elif isinstance(exc, urllib.error.URLError):
        inner = exc.reason
        text = f'{type(inner).__name__}: {inner}' if isinstance(inner, Exception) else str(inner)
    elif isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = 'recipients refused: ' + ', '.join(
            f'{rcpt} ({code} {_text(msg)})' for rcpt, (code, msg) in exc.recipients.items())
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f'SMTP {exc.smtp_code} {_text(exc.smtp_error)}'
    else:
        text = f'{type(exc).__name__}: {exc}'
    return ' '.join(text.split())


def _text(msg):
    return msg.decode('utf-8', 'replace') if isinstance(msg, bytes) else str(msg)


def _permanent(exc):
    """True for a failure that retrying will not fix (a 4xx, a refusal, a bad setting)."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code < 500 and exc.code not in RETRY_HTTP
    if isinstance(exc, (smtplib.SMTPNotSupportedError, smtplib.SMTPRecipientsRefused)):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, ValueError)


# -- webhook ------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect as an error: following it would turn the POST into a GET."""

    def redirect_request(self, *args, **kwargs):
        return None


def _url_secrets(url):
    """The URL and its pieces (netloc, path, query, path segments, query values...)."""
    try:
        parts = urllib.parse.urlsplit(url)
        pieces = [parts.netloc, parts.path, parts.query, parts.fragment, parts.username,
                  parts.password]
        pieces += [p for p in parts.path.split('/') + parts.query.split('&') if len(p) >= 8]
        pieces += [v for _, v in urllib.parse.parse_qsl(parts.query) if len(v) >= 8]
    except ValueError:
        pieces = []
    pieces = [p for p in pieces if p and p != '/']
    return [url, *pieces, *(urllib.parse.unquote(p) for p in pieces)]


def _valid_url(url):
    try:
        parts = urllib.parse.urlsplit(url)
        return parts.scheme in ('http', 'https') and bool(parts.hostname) and (
            parts.port is None or parts.port > 0)   # .port raises ValueError out of range
    except ValueError:
        return False


def _send_webhook(subject, text, env, attempts, timeout, backoff):
    url = env[WEBHOOK_URL].strip()
    if not _valid_url(url):
        return Outcome('webhook', False, f'{WEBHOOK_URL} is not an http(s) URL')
    body = json.dumps({'text': f'{subject}\n\n{text}'}).encode()
    opener = urllib.request.build_opener(_NoRedirect)

    def attempt():
        request = urllib.request.Request(
            url, data=body, method='POST',
            headers={'Content-Type': 'application/json', 'User-Agent': USER_AGENT})
        with opener.open(request, timeout=timeout) as response:
            return f'delivered (HTTP {response.status})'

    return _retry('webhook', attempt, attempts, backoff, _url_secrets(url))


# -- email --------------------------------------------------------------------------------------

def _send_email(subject, text, env, attempts, timeout, backoff):
    host = env[SMTP + 'HOST'].strip()
    to = [a.strip() for a in env.get(SMTP + 'TO', '').split(',') if a.strip()]
    use_ssl, starttls = _flag(env, SMTP + 'SSL'), _flag(env, SMTP + 'STARTTLS')
    user, password = env.get(SMTP + 'USER', ''), env.get(SMTP + 'PASSWORD', '')
    secrets = [user, password, *(base64.b64encode(s.encode()).decode()   # AUTH PLAIN/LOGIN
                                 for s in (user, password, f'\0{user}\0{password}'))]
    if not to:
        return Outcome('email', False, f'{SMTP}TO is not set (recipients for {SMTP}HOST)')
    if use_ssl and starttls:
        return Outcome('email', False, f'set only one of {SMTP}SSL and {SMTP}STARTTLS')
    try:
        port = int(env.get(SMTP + 'PORT', '').strip() or (465 if use_ssl else 25))
        if not 0 < port < 65536:
            raise ValueError(port)
    except ValueError:
        return Outcome('email', False, f'{SMTP}PORT is not a port number')

    sender = env.get(SMTP + 'FROM', '').strip() or f'relionbench@{socket.gethostname()}'

    def attempt():
        context = ssl.create_default_context()
        if use_ssl:
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if starttls:
                smtp.starttls(context=context)
            if user:
                smtp.login(user, password)
            refused = smtp.send_message(_message(subject, text, sender, to), to_addrs=to)
        if refused:      # some recipients got it: report, but do not send it to them twice
            raise smtplib.SMTPRecipientsRefused(refused)
        return f'delivered to {len(to)} recipient{"s" if len(to) > 1 else ""}'

    return _retry('email', attempt, attempts, backoff, secrets)


def _message(subject, text, sender, to):
    """A plain text email (a bad header value raises ValueError: permanent, not retried)."""
    msg = EmailMessage()
    msg['Subject'] = ' '.join(subject.split())
    msg['From'] = sender
    msg['To'] = ', '.join(to)
    msg['Date'] = email.utils.formatdate(localtime=True)
    msg.set_content(text)
    return msg
