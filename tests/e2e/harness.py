"""End-to-end harness: a real Odoo server in multi-process mode, the firm as a third-party
JSON-RPC client, the client as plain HTTP (what its browser and Stripe.js send), and Stripe
as the emulator (or as this process, signing events itself to play Stripe's retries).

Nothing here imports Odoo: the server is a subprocess (``scripts/stack.py``'s launcher, as
``odoo-bin``) on the test database created by ``scripts/test``, and everything goes over
loopback HTTP.
"""

import contextlib
import hashlib
import hmac
import http.client
import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import odoorpc

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import stack  # noqa: E402

#: Webhook signing secret of the emulated Stripe account. The emulator is one Stripe
#: account: both providers (trust and operating) get this secret, so that an event signed
#: for the account speaks for the transactions of both (see legal_payments'
#: ``_legal_link_transaction``).
WEBHOOK_SECRET = "whsec_legal_e2e"
WEBHOOK_PATH = "/payment/stripe/webhook"
STRIPE_API_BASE_PARAM = "legal_payments.stripe_api_base"
CARD_OK = "4242424242424242"
ADMIN = ("admin", "admin")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout, interval=0.25, message="condition"):
    """Call ``predicate`` until it returns a truthy value; return it, or fail after
    ``timeout`` seconds with ``message``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


# --------------------------------------------------------------------------- the server
class OdooServer:
    """Odoo (``stack.odoo_cmd``) with ``--workers`` on a free loopback port, in its own process
    group, logging to ``log_path``; stopped with nothing left behind."""

    def __init__(self, config, db_name, log_path, workers=2, cron_threads=1, extra_args=()):
        self.config = config
        self.extra_args = list(extra_args)
        self.db_name = db_name
        self.log_path = Path(log_path)
        self.workers = workers
        self.cron_threads = cron_threads
        self.process = None
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=120):
        self.port = free_port()
        # The shared launcher (as odoo-bin): ``python3 -m odoo`` cannot start the gevent
        # process of --workers (see stack.LAUNCHER).
        args = stack.odoo_cmd(
            self.config,
            "-d",
            self.db_name,
            "--http-interface=127.0.0.1",
            f"--http-port={self.port}",
            f"--gevent-port={free_port()}",
            f"--workers={self.workers}",
            f"--max-cron-threads={self.cron_threads}",
            "--limit-time-real=120",
            "--limit-time-real-cron=120",
            "--log-level=warn",
            "--log-handler=odoo.addons.legal_payments:INFO",
            "--log-handler=odoo.service.server:INFO",
            # the requests retried after a serialization failure (odoo.service.model.retrying)
            "--log-handler=odoo.service.model:INFO",
            *self.extra_args,
        )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped as a whole
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(
                    f"the Odoo server exited with {self.process.returncode}: {self.log_tail()}"
                )
            if self._healthy():
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the Odoo server did not answer within {timeout}s: {self.log_tail()}")

    def _healthy(self):
        try:
            with urllib.request.urlopen(f"{self.url}/web/health", timeout=5) as response:  # noqa: S310
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def log_tail(self, lines=5):
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) + f" (log: {self.log_path})"

    def stop(self, timeout=30):
        """SIGTERM to the master (graceful), then SIGKILL to the whole process group."""
        if self.process is None:
            return
        pgid = self.process.pid
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        # Workers, the gevent process and anything they started: nothing survives the server.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        wait_for(lambda: not self.group_pids(pgid), 10, message="the server's processes to exit")
        self.process = None

    # ------------------------------------------------------------------ process tree
    @staticmethod
    def _stat(pid):
        """``(ppid, pgrp, nice)`` of a process, or None when it is gone."""
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = raw[raw.rindex(")") + 2 :].split()
        # fields[0] is the state (field 3): ppid is field 4, pgrp 5, nice 19
        return int(fields[1]), int(fields[2]), int(fields[16])

    @classmethod
    def group_pids(cls, pgid):
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = cls._stat(int(entry))
                if stat and stat[1] == pgid:
                    state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
                    if state != "Z":
                        pids.append(int(entry))
        return pids

    def children(self):
        """``{pid: nice}`` of the master's live children (workers and the gevent process)."""
        out = {}
        for pid in self.group_pids(self.process.pid):
            stat = self._stat(pid)
            if stat and stat[0] == self.process.pid:
                out[pid] = stat[2]
        return out

    def _is_gevent(self, pid):
        try:
            # the gevent process is started with a "gevent" argument (not --gevent-port)
            return b"gevent" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return True

    def cron_worker_pid(self, timeout=60):
        """The cron worker: the master's child that Odoo ``nice``d to 10."""
        return wait_for(
            lambda: next(
                (p for p, nice in self.children().items() if nice > 0 and not self._is_gevent(p)),
                None,
            ),
            timeout,
            message="the cron worker",
        )

    def http_worker_pids(self):
        return sorted(
            p for p, nice in self.children().items() if nice == 0 and not self._is_gevent(p)
        )


# --------------------------------------------------------------------------- the firm
def firm_client(server, db_name, login=ADMIN):
    """An ``odoorpc`` JSON-RPC session on the server, logged in as the firm."""
    odoo = odoorpc.ODOO("127.0.0.1", protocol="jsonrpc", port=server.port, timeout=120)
    odoo.login(db_name, *login)
    return odoo


def call(odoo, model, method, *args, **kwargs):
    """``model.method(*args, **kwargs)`` over JSON-RPC (``args[0]`` is the ids)."""
    return odoo.execute_kw(model, method, list(args), kwargs)


def trust_snapshot(odoo):
    """The three-way reconciliation of every trust journal of the firm's company today,
    with the bank statement balance taken as the journal's own balance (the bank agrees
    with the books), and every matter's trust figures.

    :return: dict with ``reconciliations`` (list of dicts) and ``matters``
    """
    company_id = odoo.env.user.company_id.id
    journals = odoo.env["account.journal"].search_read(
        [("is_trust_account", "=", True), ("company_id", "=", company_id)],
        ["id", "code", "default_account_id"],
    )
    reconciliations = []
    for journal in journals:
        groups = odoo.env["account.move.line"].read_group(
            [
                ("account_id", "=", journal["default_account_id"][0]),
                ("parent_state", "=", "posted"),
                ("statement_line_id", "=", False),
            ],
            ["balance:sum"],
            [],
        )
        statement_balance = (groups[0].get("balance") if groups else 0.0) or 0.0
        rec_id = odoo.env["legal.trust.reconciliation"].create(
            {"journal_id": journal["id"], "statement_balance": statement_balance}
        )
        (figures,) = odoo.env["legal.trust.reconciliation"].read(
            [rec_id],
            [
                "is_balanced",
                "difference",
                "ledger_difference",
                "negative_matter_count",
                "book_balance",
                "ledger_total",
                "adjusted_bank_balance",
            ],
        )
        figures["journal"] = journal["code"]
        reconciliations.append(figures)
        odoo.env["legal.trust.reconciliation"].unlink([rec_id])
    matters = odoo.env["legal.matter"].search_read(
        [("company_id", "=", company_id)],
        ["name", "trust_balance", "trust_available", "trust_uncleared"],
    )
    return {"reconciliations": reconciliations, "matters": matters}


def assert_trust_invariants(odoo, step):
    """Three-way reconciliation balanced and no matter below zero, or AssertionError."""
    snapshot = trust_snapshot(odoo)
    for rec in snapshot["reconciliations"]:
        assert rec["is_balanced"], f"after {step}: three-way reconciliation unbalanced: {rec}"
    below = [
        m
        for m in snapshot["matters"]
        if m["trust_available"] < -0.005 or m["trust_balance"] < -0.005
    ]
    assert not below, f"after {step}: matters below zero: {below}"
    return snapshot


# --------------------------------------------------------------------------- the client
class PortalClient:
    """What a client's browser sends to the portal, with plain HTTP (no login: the
    access tokens of the e-mailed links), and what Stripe.js sends to Stripe."""

    def __init__(self, server_url, stripe_url):
        self.server_url = server_url
        self.stripe_url = stripe_url
        # One browser: the session cookie keeps the transaction the status page monitors.
        self.opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path_or_url):
        url = path_or_url if "://" in path_or_url else self.server_url + path_or_url
        try:
            with self.opener.open(url, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def redirect_query(self, path):
        """Follow one redirection of the portal and return the target's query parameters."""
        status, headers, _body = self.get(path)
        assert status in (301, 302, 303), f"{path}: {status} instead of a redirection"
        location = headers["Location"]
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))

    def json_route(self, path, params):
        """A ``type="json"`` route of the portal, as the payment form calls it."""
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        request = urllib.request.Request(
            self.server_url + path,
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        with self.opener.open(request, timeout=120) as response:
            answer = json.loads(response.read())
        if answer.get("error"):
            raise RuntimeError(f"{path}: {answer['error'].get('data', answer['error'])}")
        return answer["result"]

    def stripe(self, method, path, params=None, key="sk_test_e2e"):
        """Stripe's API at the emulator (localstripe wants a secret key where Stripe.js
        would send the publishable key and the intent's client secret)."""
        data = urllib.parse.urlencode(params or {}).encode() if method != "GET" else None
        url = f"{self.stripe_url}/v1/{path}"
        if method == "GET" and params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(
            url, data=data, method=method, headers={"Authorization": f"Bearer {key}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"Stripe {method} {path}: {exc.code} {exc.read()[:300]}") from exc

    def pay_with_card(self, processing_values, number=CARD_OK):
        """What Stripe.js does with the client secret: confirm the PaymentIntent with a card.

        :return: the confirmed PaymentIntent
        """
        client_secret = processing_values["client_secret"]
        pi_id = client_secret.split("_secret_")[0]
        card = self.stripe(
            "POST",
            "payment_methods",
            {
                "type": "card",
                "card[number]": number,
                "card[exp_month]": 12,
                "card[exp_year]": 2034,
                "card[cvc]": "123",
            },
        )
        self.stripe("POST", f"payment_intents/{pi_id}", {"payment_method": card["id"]})
        return self.stripe("POST", f"payment_intents/{pi_id}/confirm", {})

    # ------------------------------------------------------------------ a whole checkout
    def checkout(self, checkout, number=CARD_OK, poll_timeout=120, patience=0):
        """The client's whole payment in the portal, as the browser and Stripe.js do it:
        the invoice's page, the payment form's transaction route, Stripe.js confirming the
        card at Stripe, Stripe's redirection to ``/payment/stripe/return``, the status page
        polling ``/payment/status/poll`` until the payment is processed (repeating the poll
        on the ``retry`` answer, as the page's script does), then the landing page.

        :param dict checkout: from :func:`invoice_checkout`
        :param float patience: seconds during which a client reloads a page that answered a
            server error (5xx, connection refused, the 404 of a server without its database),
            counted in ``reloads``; 0: none
        :return: :class:`Checkout` (every answer the client saw, the PaymentIntent)
        :raise CheckoutError: on the first answer the client would see as an error
        """
        seen = Checkout()
        deadline = time.monotonic() + patience

        def step(what, expected, method, path, params=None):
            while True:
                if method == "POST":
                    status, headers, body, error = self._json(seen, path, params)
                else:
                    status, headers, body = self._timed(seen, "GET", path)
                    error = None if status in expected else f"{status} {body[:200]!r}"
                if error is None:
                    return headers, body
                if _outage(status, body) and time.monotonic() < deadline:
                    seen.reloads += 1
                    time.sleep(0.5)
                    continue
                raise CheckoutError(seen, f"{what}: {error}", retry=body == "retry")

        step("invoice page", (200,), "GET", checkout["page"])
        _headers, processing = step(
            "payment form", (), "POST", checkout["route"], checkout["params"]
        )
        seen.intent = self.pay_with_card(processing, number=number)
        back = urllib.parse.urlsplit(processing["return_url"])
        query = urllib.parse.urlencode(
            {
                "payment_intent": seen.intent["id"],
                "payment_intent_client_secret": processing["client_secret"],
                "redirect_status": seen.intent["status"],
            }
        )
        headers, _body = step(
            "return from Stripe", (302, 303), "GET", f"{back.path}?{back.query}&{query}"
        )
        if "/payment/status" not in headers.get("Location", ""):
            raise CheckoutError(
                seen, f"return from Stripe: redirected to {headers.get('Location')}"
            )
        step("status page", (200,), "GET", "/payment/status")
        poll_deadline = time.monotonic() + poll_timeout
        while True:
            try:
                _headers, result = step("status poll", (), "POST", "/payment/status/poll", {})
            except CheckoutError as exc:
                if exc.retry and time.monotonic() < poll_deadline:
                    seen.poll_retries += 1
                    time.sleep(0.5)  # the page's script waits, then polls again
                    continue
                raise
            if result.get("state") == "done" or time.monotonic() > poll_deadline:
                break
            time.sleep(0.5)
        if result.get("state") != "done":
            raise CheckoutError(seen, f"status page: payment {result.get('state')}")
        seen.landing = result["landing_route"]
        step("landing page", (200,), "GET", seen.landing)
        return seen

    def _timed(self, seen, method, path):
        started = time.monotonic()
        try:
            status, headers, body = self.get(path)
        except (OSError, http.client.HTTPException) as exc:
            status, headers, body = 0, {}, str(exc).encode()
        seen.answers.append((method, path.split("?")[0], status, time.monotonic() - started))
        return status, headers, body

    def _json(self, seen, path, params):
        """A JSON route: ``(status, headers, result or message, error or None)``."""
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": params})
        request = urllib.request.Request(
            self.server_url + path, data=body.encode(), headers={"Content-Type": "application/json"}
        )
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=120) as response:
                status, answer = response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, {"error": {"data": {"message": exc.read()[:300]}}}
        except (OSError, http.client.HTTPException, ValueError) as exc:
            status, answer = 0, {"error": {"data": {"message": str(exc)}}}
        seen.answers.append(("POST", path, status, time.monotonic() - started))
        if status == 200 and not answer.get("error"):
            return status, {}, answer["result"], None
        message = (answer.get("error") or {}).get("data", {}).get("message") or str(answer)
        if status == 200 and message != "retry":
            # An error the page shows the client; for the reload rule, a server error.
            status = 500
        return status, {}, message, f"{status} {message}"


#: While its database is unreachable, Odoo serves the request without a database ("Database
#: or registry unusable, trying without"): the portal's routes are then werkzeug's bare 404.
_NODB_404 = b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>"


def _outage(status, body):
    """An answer of a server that cannot work right now (a person reloads the page)."""
    return (
        status == 0
        or status >= 500
        or (status == 404 and isinstance(body, bytes) and body.startswith(_NODB_404))
    )


class Checkout:
    """What one client saw during a checkout: ``answers`` ``(method, path, status, seconds)``,
    the confirmed ``intent``, the ``poll_retries`` (``retry`` answers the page repeated), the
    ``reloads`` (server errors the client reloaded, see ``patience``)."""

    def __init__(self):
        self.answers = []
        self.intent = None
        self.poll_retries = 0
        self.reloads = 0
        self.landing = None

    @property
    def seconds(self):
        return sum(a[3] for a in self.answers)


class CheckoutError(Exception):
    """An answer the client would see as an error (``retry``: one the page repeats)."""

    def __init__(self, checkout, message, retry=False):
        super().__init__(message)
        self.checkout = checkout
        self.retry = retry


def invoice_checkout(firm, invoice_id, provider_id, payment_method_id, amount=None):
    """What the invoice's portal page gives its payment form (asked of the firm beforehand,
    so that a checkout is only the client's requests): the page, the transaction route and
    its parameters for ``amount`` (default: the residual)."""
    url = call(firm, "account.move", "get_portal_url", [invoice_id])
    token = dict(urllib.parse.parse_qsl(url.split("?", 1)[1]))["access_token"]
    if amount is None:
        (invoice,) = firm.env["account.move"].read([invoice_id], ["amount_residual"])
        amount = invoice["amount_residual"]
    return {
        "invoice_id": invoice_id,
        "page": url,
        "route": f"/invoice/transaction/{invoice_id}",
        "params": {
            "access_token": token,
            "amount": amount,
            "provider_id": provider_id,
            "payment_method_id": payment_method_id,
            "token_id": None,
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": url,
        },
    }


def retainer_checkout(firm, portal, request_id, provider_id, payment_method_id):
    """The same for a retainer request: the payment page its e-mailed link redirects to."""
    (request,) = firm.env["legal.retainer.request"].read([request_id], ["access_token"])
    status, headers, _body = portal.get(
        f"/my/retainers/{request_id}/pay?access_token={request['access_token']}"
    )
    assert status in (302, 303), f"retainer {request_id}: {status} instead of the payment page"
    page = urllib.parse.urlsplit(headers["Location"])
    query = dict(urllib.parse.parse_qsl(page.query))
    return {
        "request_id": request_id,
        "page": f"{page.path}?{page.query}",
        "route": f"/legal/retainer/transaction/{request_id}",
        "params": {
            "access_token": query["access_token"],
            "amount": float(query["amount"]),
            "provider_id": provider_id,
            "payment_method_id": payment_method_id,
            "token_id": None,
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": call(firm, "legal.retainer.request", "get_portal_url", [request_id]),
        },
    }


def deposit_checkout(firm, portal, matter_id, amount, provider_id, payment_method_id):
    """The same for a deposit into a matter's trust ("Deposit to trust" on the matter's page)."""
    url = call(firm, "legal.matter", "get_portal_url", [matter_id])
    token = dict(urllib.parse.parse_qsl(url.split("?", 1)[1]))["access_token"]
    status, headers, _body = portal.get(
        f"/my/matters/{matter_id}/deposit?"
        + urllib.parse.urlencode({"access_token": token, "amount": amount})
    )
    assert status in (302, 303), f"matter {matter_id}: {status} instead of the payment page"
    page = urllib.parse.urlsplit(headers["Location"])
    query = dict(urllib.parse.parse_qsl(page.query))
    return {
        "matter_id": matter_id,
        "page": f"{page.path}?{page.query}",
        "route": f"/legal/trust/transaction/{matter_id}",
        "params": {
            "access_token": query["access_token"],
            "amount": float(query["amount"]),
            "provider_id": provider_id,
            "payment_method_id": payment_method_id,
            "token_id": None,
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": url,
        },
    }


def stripe_events(stripe_url, event_type):
    """Every event of ``event_type`` the emulator (Stripe) has sent, oldest first."""
    client = PortalClient("", stripe_url)
    events, after = [], None
    while True:
        params = {"type": event_type, "limit": 100, **({"starting_after": after} if after else {})}
        page = client.stripe("GET", "events", params)
        events += page["data"]
        if not page.get("has_more") or not page["data"]:
            break
        after = page["data"][-1]["id"]
    return sorted(events, key=lambda e: (e["created"], e["id"]))


def redeliver(server_url, event, patience=120):
    """Stripe's retries of one event: delivered again until it is acknowledged (200), with
    a growing pause; return the statuses of every attempt."""
    statuses, pause = [], 0.5
    deadline = time.monotonic() + patience
    while True:
        try:
            statuses.append(deliver_event(server_url, event))
        except (OSError, http.client.HTTPException):
            statuses.append(0)
        if statuses[-1] == 200 or time.monotonic() > deadline:
            return statuses
        time.sleep(pause)
        pause = min(pause * 2, 5)


def wake_cron_worker(db_name):
    """NOTIFY the cron workers' channel, as any new trigger does: a freshly spawned cron
    worker otherwise sleeps up to 70 s before its first poll."""
    import psycopg2  # noqa: PLC0415 - Odoo's dependency, only needed by the fault tests

    with contextlib.closing(psycopg2.connect(dbname="postgres")) as conn:
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute("NOTIFY cron_trigger, %s", [db_name])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# --------------------------------------------------------------------------- Stripe's side
def register_webhook(stripe_url, server_url, webhook_id="e2e"):
    """Make the emulator deliver signed events to the server's webhook route."""
    data = urllib.parse.urlencode({"url": server_url + WEBHOOK_PATH, "secret": WEBHOOK_SECRET})
    request = urllib.request.Request(
        f"{stripe_url}/_config/webhooks/{webhook_id}", data=data.encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200


def deliver_event(server_url, event, secret=WEBHOOK_SECRET):
    """Deliver an event as Stripe does (signed ``Stripe-Signature``); return the status."""
    payload = json.dumps(event).encode()
    timestamp = int(time.time())
    signature = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
    ).hexdigest()
    request = urllib.request.Request(
        server_url + WEBHOOK_PATH,
        data=payload,
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": f"t={timestamp},v1={signature}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
