"""relionbench.results.alerts against a local HTTP server and a local SMTP server (aiosmtpd)."""

import email
import email.policy
import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from relionbench.results import alerts
from relionbench.results.alerts import Outcome

SECRET = 'SECRET123'
USER, PASSWORD = 'bench', 'Pa55-w0rd!'


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """urllib honours proxy variables; the local servers must be reached directly."""
    for name in ('http_proxy', 'https_proxy', 'all_proxy'):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def logs(caplog):
    """The alert module's log lines, all levels."""
    caplog.set_level(logging.DEBUG, logger='relionbench.results.alerts')
    return lambda: '\n'.join(r.getMessage() for r in caplog.records
                             if r.name.startswith('relionbench'))


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Hook:
    """A webhook on 127.0.0.1 answering POSTs with ``statuses`` in turn, then 200."""

    def __init__(self, statuses=()):
        self.requests = []
        replies, requests = list(statuses), self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                requests.append((self.path, self.headers, body))
                status = replies.pop(0) if replies else 200
                reply = b'ok' if status < 300 else f'no hook at {self.path}'.encode()
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header('Location', '/elsewhere')
                self.send_header('Content-Length', str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.server.server_address[1]}/hooks/{SECRET}?t=abc'
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    hooks = []

    def start(*statuses):
        hooks.append(Hook(statuses))
        return hooks[-1]

    yield start
    for h in hooks:
        h.close()


class Inbox:
    """An aiosmtpd handler keeping (mail_from, rcpt_tos, message) for each delivery."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, msg))
        return '250 OK'


class PortZeroController(Controller):
    """aiosmtpd's Controller bound to port 0: learn the port before it connects to itself."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (auth_data.login, auth_data.password) == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)      # handled=False: aiosmtpd answers 535


@pytest.fixture
def smtp():
    """Start a local SMTP server; returns (inbox, env) with the RELIONBENCH_SMTP_* settings."""
    controllers = []

    def start(**kwargs):
        inbox = Inbox()
        controller = PortZeroController(inbox, hostname='127.0.0.1', port=0,
                                        server_hostname='localhost', **kwargs)
        controller.start()
        controllers.append(controller)
        return inbox, {'RELIONBENCH_SMTP_HOST': '127.0.0.1',
                       'RELIONBENCH_SMTP_PORT': str(controller.port),
                       'RELIONBENCH_SMTP_TO': 'a@example.org, b@example.org',
                       'RELIONBENCH_SMTP_FROM': 'bench@example.org'}

    yield start
    for controller in controllers:
        controller.stop()


def fast(**kwargs):
    return {'attempts': 3, 'timeout': 2.0, 'backoff': 0.01, **kwargs}


# -- configuration --------------------------------------------------------------------------

def test_nothing_configured():
    assert alerts.channels({}) == []
    assert alerts.send('subject', 'text', environ={}) == []
    assert alerts.channels({'RELIONBENCH_WEBHOOK_URL': ' ', 'RELIONBENCH_SMTP_HOST': ''}) == []


def test_channels():
    env = {'RELIONBENCH_WEBHOOK_URL': 'https://example.org/x', 'RELIONBENCH_SMTP_HOST': 'mx'}
    assert alerts.channels(env) == ['webhook', 'email']


def test_redact():
    assert alerts._redact('user bob pw hunter2 bobby', ['bob', 'bobby', '', None]) == \
        'user *** pw hunter2 ***'


# -- webhook --------------------------------------------------------------------------------

def test_webhook_posts_json(hook):
    h = hook()
    out = alerts.send('Regression: class3d', 'slower by 20%',
                      environ={'RELIONBENCH_WEBHOOK_URL': h.url}, **fast())
    assert out == [Outcome('webhook', True, 'delivered (HTTP 200)')]
    [(path, headers, body)] = h.requests
    assert path == f'/hooks/{SECRET}?t=abc'
    assert headers['Content-Type'] == 'application/json'
    assert json.loads(body) == {'text': 'Regression: class3d\n\nslower by 20%'}


def test_webhook_retries_5xx(hook):
    h = hook(500, 503)
    [out] = alerts.send('s', 't', environ={'RELIONBENCH_WEBHOOK_URL': h.url}, **fast())
    assert out == Outcome('webhook', True, 'delivered (HTTP 200) on attempt 3')
    assert len(h.requests) == 3


@pytest.mark.parametrize('status', [404, 302])
def test_webhook_4xx_and_redirects_not_retried(hook, logs, status):
    h = hook(status)
    [out] = alerts.send('s', 't', environ={'RELIONBENCH_WEBHOOK_URL': h.url}, **fast())
    assert not out.ok
    assert out.detail.startswith(f'HTTP {status} ') and out.detail.endswith('(not retried)')
    assert 'no hook at ***' in out.detail            # the body echoed the path: redacted
    assert len(h.requests) == 1
    assert SECRET not in out.detail + logs()


def test_webhook_unreachable(logs, capsys):
    url = f'http://127.0.0.1:{closed_port()}/hooks/{SECRET}'
    start = time.monotonic()
    [out] = alerts.send('s', 't', environ={'RELIONBENCH_WEBHOOK_URL': url}, **fast())
    assert time.monotonic() - start < 2
    assert not out.ok
    assert out.detail.startswith('gave up after 3 attempts: ')
    assert 'Connection refused' in out.detail
    assert len(re.findall(r'attempt \d/3 failed', logs())) == 3
    captured = capsys.readouterr()
    for text in (out.detail, logs(), captured.out, captured.err):
        assert SECRET not in text and url not in text and '127.0.0.1' not in text


def test_webhook_timeout():
    with socket.socket() as silent:                  # accepts connections, never answers
        silent.bind(('127.0.0.1', 0))
        silent.listen()
        url = f'http://127.0.0.1:{silent.getsockname()[1]}/hooks/{SECRET}'
        start = time.monotonic()
        [out] = alerts.send('s', 't', environ={'RELIONBENCH_WEBHOOK_URL': url},
                            **fast(attempts=2, timeout=0.2))
    assert time.monotonic() - start < 2
    assert not out.ok
    assert out.detail.startswith('gave up after 2 attempts: ') and 'timed out' in out.detail


@pytest.mark.parametrize('url', ['not a url', 'ftp://example.org/x', 'http://', 'http://h:99999/',
                                 'http://[::1/x'])
def test_webhook_malformed_url(url):
    [out] = alerts.send('s', 't', environ={'RELIONBENCH_WEBHOOK_URL': url}, **fast())
    assert out == Outcome('webhook', False, 'RELIONBENCH_WEBHOOK_URL is not an http(s) URL')


# -- email ----------------------------------------------------------------------------------

def test_email_delivered(smtp):
    inbox, env = smtp()
    out = alerts.send('Regression: class3d', 'slower by 20%\nsee the report', environ=env,
                      **fast())
    assert out == [Outcome('email', True, 'delivered to 2 recipients')]
    [(sender, rcpts, msg)] = inbox.messages
    assert sender == 'bench@example.org'
    assert rcpts == ['a@example.org', 'b@example.org']
    assert msg['Subject'] == 'Regression: class3d'
    assert msg['To'] == 'a@example.org, b@example.org'
    assert msg.get_content_type() == 'text/plain'
    assert msg.get_content().splitlines() == ['slower by 20%', 'see the report']   # CRLF


def test_email_login(smtp, logs, capsys):
    inbox, env = smtp(authenticator=authenticator, auth_require_tls=False)
    env.update(RELIONBENCH_SMTP_USER=USER, RELIONBENCH_SMTP_PASSWORD=PASSWORD)
    assert alerts.send('s', 't', environ=env, **fast()) == \
        [Outcome('email', True, 'delivered to 2 recipients')]
    assert len(inbox.messages) == 1

    env['RELIONBENCH_SMTP_PASSWORD'] = 'wrong-' + PASSWORD
    [out] = alerts.send('s', 't', environ=env, **fast())
    assert not out.ok
    assert out.detail.startswith('SMTP 535 ') and out.detail.endswith('(not retried)')
    assert len(inbox.messages) == 1
    captured = capsys.readouterr()
    for text in (out.detail, logs(), captured.out, captured.err):
        assert PASSWORD not in text


def test_email_missing_recipients():
    [out] = alerts.send('s', 't', environ={'RELIONBENCH_SMTP_HOST': 'mx.example.org'}, **fast())
    assert not out.ok and 'RELIONBENCH_SMTP_TO' in out.detail


@pytest.mark.parametrize('extra, variable', [
    ({'RELIONBENCH_SMTP_PORT': 'smtp'}, 'RELIONBENCH_SMTP_PORT'),
    ({'RELIONBENCH_SMTP_SSL': '1', 'RELIONBENCH_SMTP_STARTTLS': '1'}, 'RELIONBENCH_SMTP_SSL'),
])
def test_email_bad_settings(extra, variable):
    env = {'RELIONBENCH_SMTP_HOST': 'mx', 'RELIONBENCH_SMTP_TO': 'a@example.org', **extra}
    [out] = alerts.send('s', 't', environ=env, **fast())
    assert not out.ok and variable in out.detail


def test_email_unreachable():
    env = {'RELIONBENCH_SMTP_HOST': '127.0.0.1', 'RELIONBENCH_SMTP_PORT': str(closed_port()),
           'RELIONBENCH_SMTP_TO': 'a@example.org', 'RELIONBENCH_SMTP_USER': USER,
           'RELIONBENCH_SMTP_PASSWORD': PASSWORD}
    [out] = alerts.send('s', 't', environ=env, **fast(attempts=2))
    assert not out.ok
    assert out.detail.startswith('gave up after 2 attempts: ') and 'refused' in out.detail


def test_both_channels(hook, smtp):
    h = hook()
    inbox, env = smtp()
    env['RELIONBENCH_WEBHOOK_URL'] = h.url
    out = alerts.send('s', 't', environ=env, **fast())
    assert [(o.channel, o.ok) for o in out] == [('webhook', True), ('email', True)]
    assert len(h.requests) == len(inbox.messages) == 1
