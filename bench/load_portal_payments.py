#!/usr/bin/env python3
"""Load: concurrent portal clients paying by card, plus webhook bursts, on loopback.

    python3 bench/load_portal_payments.py [--duration 120] [--clients 50] [--workers 2]
        [--invoices-per-client 12] [--burst-every 5] [--burst-size 40] [--keep]

Starts its own throwaway PostgreSQL cluster (or uses PGHOST), installs the four addons with
demo data, the Stripe emulator and a real Odoo server in multi-process mode (``--workers``
HTTP workers and a cron worker, which processes the webhook inbox), the firm configuring it
over JSON-RPC as the end-to-end suite does. Each client has a matter and unpaid invoices.

For ``--duration`` seconds, ``--clients`` clients pay at the same time, each one payment
after the other, through the real portal and payment routes and Stripe (the emulator): the
invoice's page (or the matter's "Deposit to trust" once its invoices are paid), the payment
form's transaction route, Stripe.js confirming the card, the return from Stripe, the status
page polling until the payment is processed, the landing page. Meanwhile Stripe delivers
each event once by itself, and every ``--burst-every`` seconds a burst of ``--burst-size``
deliveries of events already sent (duplicates) arrives at once.

Then the inbox is drained and everything is counted from the database and from Stripe:

* payments/s: checkouts completed per second of the run;
* latency p50/p95/p99: a client's whole checkout (first page to landing page), and each
  request to Odoo on its own;
* errors: checkouts that ended on an error the client saw, requests that answered an error
  (the ``retry`` answers the status page repeats by itself are counted apart), webhook
  deliveries not acknowledged;
* duplicates (must be 0): payments or trust deposits beyond one per PaymentIntent, and
  invoices paid more than their total;
* lost (must be 0): PaymentIntents that succeeded at Stripe without exactly one processed
  transaction and one posted payment or deposit, and events sent by Stripe that the inbox
  did not process.

Exit status: non-zero when duplicates or lost are not 0 (or the run could not be made).
Everything is stopped and removed at the end (``--keep`` keeps the work directory: logs).
"""

import argparse
import collections
import concurrent.futures
import contextlib
import http.client
import os
import random
import re
import statistics
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import odoorpc  # noqa: E402 - the firm's JSON-RPC client (requirements-test.txt)
import stack  # noqa: E402

ADMIN = ("admin", "admin")


def _percentile(samples, share):
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def _pcts(samples, scale, fmt, unit):
    return "  ".join(
        f"p{int(share * 100)} {format(_percentile(samples, share) * scale, fmt)} {unit}"
        for share in (0.5, 0.95, 0.99)
    )


def _start_emulator(work):
    import subprocess  # noqa: PLC0415

    log = open(os.path.join(work, "emulator.log"), "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "stripe_emulator.py"), "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != "LISTENING":
        proc.kill()
        raise stack.StackError("the Stripe emulator (tests/stripe_emulator.py) did not start")
    return proc, f"http://127.0.0.1:{line[1]}"


# --------------------------------------------------------------------------- the firm
def configure(harness, firm, server, stripe_url):
    """What the e2e suite's fixtures do: the emulator as Stripe, its webhook secret."""
    params = firm.env["ir.config_parameter"]
    params.set_param(harness.STRIPE_API_BASE_PARAM, stripe_url)
    params.set_param("web.base.url", server.url)
    providers = firm.env["payment.provider"].search([("code", "=", "stripe")])
    firm.env["payment.provider"].write(
        providers, {"stripe_webhook_secret": harness.WEBHOOK_SECRET, "state": "test"}
    )
    harness.register_webhook(stripe_url, server.url, "load")
    card = firm.env["payment.method"].search([("code", "=", "card")], limit=1)[0]
    rows = firm.env["payment.provider"].search_read(
        [("code", "=", "stripe"), ("state", "!=", "disabled")], ["legal_is_trust"]
    )
    operating = next(p["id"] for p in rows if not p["legal_is_trust"])
    trust = next(p["id"] for p in rows if p["legal_is_trust"])
    return card, operating, trust


def prepare_clients(harness, firm, count, invoices_per_client):
    """``count`` clients, each with a matter and ``invoices_per_client`` posted invoices."""
    partners = firm.env["res.partner"].create(
        [{"name": f"Load Client {i}", "email": f"load-{i}@example.com"} for i in range(count)]
    )
    matters = firm.env["legal.matter"].create(
        [{"title": f"Load matter {i}", "partner_id": p} for i, p in enumerate(partners)]
    )
    clients = []
    for i, (partner, matter) in enumerate(zip(partners, matters, strict=True)):
        invoices = firm.env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partner,
                    "matter_id": matter,
                    "invoice_line_ids": [
                        (
                            0,
                            0,
                            {
                                "name": "Legal services",
                                "quantity": 1,
                                "price_unit": 100.0 + (i * invoices_per_client + k) % 400,
                                "tax_ids": [(6, 0, [])],
                            },
                        )
                    ],
                }
                for k in range(invoices_per_client)
            ]
        )
        harness.call(firm, "account.move", "action_post", invoices)
        urls = [harness.call(firm, "account.move", "get_portal_url", [inv]) for inv in invoices]
        amounts = {
            r["id"]: r["amount_residual"]
            for r in firm.env["account.move"].read(invoices, ["amount_residual"])
        }
        clients.append(
            {
                "matter": matter,
                "matter_url": harness.call(firm, "legal.matter", "get_portal_url", [matter]),
                "invoices": [
                    (inv, url, amounts[inv]) for inv, url in zip(invoices, urls, strict=True)
                ],
            }
        )
    return clients


# --------------------------------------------------------------------------- a client
class Client(threading.Thread):
    """One client paying, one payment after the other, until ``stop`` is set."""

    def __init__(self, harness, server_url, stripe_url, data, providers, stop, n):
        super().__init__(name=f"client-{n}", daemon=True)
        self.harness = harness
        self.portal = harness.PortalClient(server_url, stripe_url)
        self.data = data
        self.card, self.operating, self.trust = providers
        self.stop = stop
        self.rng = random.Random(n)
        self.done = []  # (checkout dict, Checkout)
        self.errors = []  # (what, message, answers)
        self.answers = []

    def _invoice_checkout(self, invoice_id, url, amount):
        token = dict(urllib.parse.parse_qsl(url.split("?", 1)[1]))["access_token"]
        return {
            "invoice_id": invoice_id,
            "page": url,
            "route": f"/invoice/transaction/{invoice_id}",
            "params": self._params(token, amount, self.operating, url),
        }

    def _deposit_checkout(self):
        matter, url = self.data["matter"], self.data["matter_url"]
        token = dict(urllib.parse.parse_qsl(url.split("?", 1)[1]))["access_token"]
        amount = float(self.rng.randrange(50, 500))
        status, headers, body = self.portal.get(
            f"/my/matters/{matter}/deposit?"
            + urllib.parse.urlencode({"access_token": token, "amount": amount})
        )
        if status not in (302, 303):
            raise RuntimeError(f"deposit page: {status} {body[:200]!r}")
        page = urllib.parse.urlsplit(headers["Location"])
        query = dict(urllib.parse.parse_qsl(page.query))
        return {
            "matter_id": matter,
            "page": f"{page.path}?{page.query}",
            "route": f"/legal/trust/transaction/{matter}",
            "params": self._params(query["access_token"], float(query["amount"]), self.trust, url),
        }

    def _params(self, token, amount, provider, landing):
        return {
            "access_token": token,
            "amount": amount,
            "provider_id": provider,
            "payment_method_id": self.card,
            "token_id": None,
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": landing,
        }

    def run(self):
        invoices = list(self.data["invoices"])
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                if invoices:
                    checkout = self._invoice_checkout(*invoices.pop(0))
                else:
                    checkout = self._deposit_checkout()
                seen = self.portal.checkout(checkout)
            except self.harness.CheckoutError as exc:
                self.errors.append(("checkout", str(exc)[:300], exc.checkout.answers))
                self.answers += exc.checkout.answers
                continue
            except Exception as exc:  # noqa: BLE001 - counted and shown, the run goes on
                self.errors.append(("checkout", f"{type(exc).__name__}: {exc}"[:300], []))
                continue
            self.answers += seen.answers
            self.done.append((checkout, seen, time.monotonic() - started))


# --------------------------------------------------------------------------- bursts
class Bursts(threading.Thread):
    """Stripe's side: every ``every`` seconds, ``size`` deliveries of events sent already, at
    once (duplicates), and Stripe's retries of the deliveries that failed (the emulator
    delivers each event once and never retries: here an event sent more than 10 s ago that
    the inbox has not stored was not acknowledged, and is delivered again)."""

    def __init__(self, harness, server, db_name, stripe_url, every, size, stop):
        super().__init__(name="bursts", daemon=True)
        self.harness = harness
        self.server = server
        self.db_name = db_name
        self.stripe_url = stripe_url
        self.every = every
        self.size = size
        self.stop = stop
        self.statuses = []  # per burst delivery: the status of each attempt
        self.latencies = []
        self.retried = []  # per Stripe retry: the status of each attempt
        self.round_errors = []  # rounds of retries the overloaded server could not answer
        self.rng = random.Random(8)

    def _deliver(self, event):
        """One delivery, repeated as Stripe repeats a failed one (growing pauses) until it is
        acknowledged or a minute has passed; the statuses of every attempt."""
        started = time.monotonic()
        statuses = self.harness.redeliver(self.server.url, event, patience=60)
        self.latencies.append(time.monotonic() - started)
        return statuses

    def run(self):
        firm = None  # odoorpc: one session per thread, opened once the server answers it
        with concurrent.futures.ThreadPoolExecutor(self.size) as pool:
            while not self.stop.wait(self.every):
                events = self.harness.stripe_events(self.stripe_url, "payment_intent.succeeded")
                if not events:
                    continue
                burst = [self.rng.choice(events[-200:]) for _i in range(self.size)]
                self.statuses += list(pool.map(self._deliver, burst))
                try:
                    firm = firm or self.harness.firm_client(self.server, self.db_name)
                    self.retried += retry_unacknowledged(self.harness, firm, self.server, events)
                except (OSError, http.client.HTTPException, odoorpc.error.Error) as exc:
                    # An overloaded server: Stripe retries at its next round (and at the end).
                    self.round_errors.append(f"{type(exc).__name__}: {exc}"[:200])


def retry_unacknowledged(harness, firm, server, events, older_than=10):
    """Deliver again, as Stripe retries, the events the inbox has not stored."""
    stored = {
        r["stripe_event_id"]
        for r in firm.env["legal.stripe.event"].search_read(
            [("stripe_event_id", "in", [e["id"] for e in events])], ["stripe_event_id"]
        )
    }
    now = time.time()
    missing = [e for e in events if e["id"] not in stored and e["created"] < now - older_than]
    return [harness.redeliver(server.url, e, patience=60) for e in missing]


# --------------------------------------------------------------------------- counting
def count(harness, firm, server, db_name, stripe_url, clients, timeout=300):
    """Stripe's last retries, drain the inbox, then count duplicates and lost payments and
    events."""
    events = harness.stripe_events(stripe_url, "payment_intent.succeeded")
    retried = retry_unacknowledged(harness, firm, server, events, older_than=0)
    intents = {e["data"]["object"]["id"] for e in events}
    listed = []
    page = {"has_more": True, "data": []}
    while page.get("has_more"):
        params = {"limit": 100}
        if page["data"]:
            params["starting_after"] = page["data"][-1]["id"]
        page = harness.PortalClient("", stripe_url).stripe("GET", "payment_intents", params)
        listed += page["data"]
    succeeded = {pi["id"] for pi in listed if pi["status"] == "succeeded"}
    event_ids = [e["id"] for e in events]

    def drained():
        harness.wake_cron_worker(db_name)
        return not firm.env["legal.stripe.event"].search_count([("state", "=", "pending")])

    with contextlib.suppress(AssertionError):
        harness.wait_for(drained, timeout, interval=2, message="the inbox to drain")
    inbox = firm.env["legal.stripe.event"].search_read(
        [("stripe_event_id", "in", event_ids)], ["stripe_event_id", "state"]
    )
    processed = {r["stripe_event_id"] for r in inbox if r["state"] == "done"}
    lost_events = [e for e in event_ids if e not in processed]

    txs = firm.env["payment.transaction"].search_read(
        [("provider_reference", "in", list(succeeded))],
        ["provider_reference", "state", "is_post_processed", "legal_trust_move_id"],
    )
    by_intent = {}
    for tx in txs:
        by_intent.setdefault(tx["provider_reference"], []).append(tx)
    payments = firm.env["account.payment"].search_read(
        [("payment_transaction_id", "in", [t["id"] for t in txs])],
        ["payment_transaction_id", "state"],
    )
    payments_by_tx = {}
    for p in payments:
        payments_by_tx.setdefault(p["payment_transaction_id"][0], []).append(p)
    duplicates, lost = 0, []
    for intent in succeeded:
        done = [t for t in by_intent.get(intent, []) if t["state"] == "done"]
        duplicates += max(0, len(done) - 1)
        money = sum(
            len(payments_by_tx.get(t["id"], [])) + bool(t["legal_trust_move_id"]) for t in done
        )
        duplicates += max(0, money - 1)
        if not done or money == 0 or not all(t["is_post_processed"] for t in done):
            lost.append(intent)
    invoices = [inv for c in clients for inv, _url, _amount in c["invoices"]]
    overpaid = [
        r
        for r in firm.env["account.move"].read(invoices, ["amount_residual", "amount_total"])
        if r["amount_residual"] < -0.005
    ]
    duplicates += len(overpaid)
    # Stripe is the reference: a PaymentIntent the clients did not see succeed is counted too.
    return {
        "succeeded": len(succeeded),
        "events": len(event_ids),
        "events_without_intent": len(intents - succeeded),
        "duplicates": duplicates,
        "lost_payments": lost,
        "lost_events": lost_events,
        "reconciliation": harness.trust_snapshot(firm)["reconciliations"],
        "retried_at_the_end": retried,
    }


# --------------------------------------------------------------------------- main
def run(args, work, odoo_dir):
    import harness  # noqa: PLC0415 - tests/e2e/harness.py (odoorpc, the portal client)

    cluster = stack.Cluster()
    emulator = server = None
    try:
        cluster.start(work)
        # libpq's variables, for the NOTIFY that wakes the cron worker (harness.wake_cron_worker)
        os.environ.update({k: v for k, v in cluster.env().items() if k.startswith("PG")})
        db_name = f"load_{os.getpid()}"
        config = stack.write_config(
            os.path.join(work, "odoo.conf"),
            cluster,
            odoo_dir,
            db_name,
            http_port=stack.free_port(),
            data_dir=os.path.join(work, "filestore"),
            extra={"db_maxconn": 64},
        )
        print(f"[load] installing {', '.join(stack.ADDONS)} with demo data", flush=True)
        stack.install_addons(config, db_name, os.path.join(work, "install.log"))
        emulator, stripe_url = _start_emulator(work)
        server = harness.OdooServer(
            config,
            db_name,
            os.path.join(work, "odoo.log"),
            workers=args.workers,
            cron_threads=1,
        ).start()
        firm = harness.firm_client(server, db_name)
        providers = configure(harness, firm, server, stripe_url)
        print(
            f"[load] {args.clients} clients with {args.invoices_per_client} invoices each",
            flush=True,
        )
        clients_data = prepare_clients(harness, firm, args.clients, args.invoices_per_client)
        stop = threading.Event()
        clients = [
            Client(harness, server.url, stripe_url, data, providers, stop, n)
            for n, data in enumerate(clients_data)
        ]
        bursts = Bursts(
            harness, server, db_name, stripe_url, args.burst_every, args.burst_size, stop
        )
        print(f"[load] paying for {args.duration:.0f} s", flush=True)
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        for thread in [*clients, bursts]:
            thread.start()
        time.sleep(args.duration)
        load_during = os.getloadavg()[1]  # the 5-minute average, mostly this run
        stop.set()
        for thread in [*clients, bursts]:
            thread.join(300)
        elapsed = time.monotonic() - started
        print("[load] draining the inbox and counting", flush=True)
        figures = count(harness, firm, server, db_name, stripe_url, clients_data)
        checkouts = [d for c in clients for d in c.done]
        answers = [a for c in clients for a in c.answers]
        errors = [e for c in clients for e in c.errors]
        # Payments completed within the run's duration (the last ones finish after it).
        completed = len(checkouts)
        seconds = [d[2] for d in checkouts]
        request_seconds = [a[3] for a in answers]
        bad_answers = [a for a in answers if a[2] not in (200, 302, 303)]
        poll_retries = sum(d[1].poll_retries for d in checkouts)
        stripe_retries = bursts.retried + figures["retried_at_the_end"]
        bad_webhooks = [s[-1] for s in bursts.statuses + stripe_retries if s[-1] != 200]
        retried_webhooks = [s[0] for s in bursts.statuses if s[0] != 200]
        kinds = {
            "invoice": sum(1 for d in checkouts if "invoice_id" in d[0]),
            "deposit": sum(1 for d in checkouts if "matter_id" in d[0]),
        }
        print()
        print(
            f"clients {args.clients}, HTTP workers {args.workers} + 1 cron worker, "
            f"{elapsed:.0f} s (asked {args.duration:.0f} s), loopback; {os.cpu_count()} CPUs, "
            f"load average {load_before:.1f} before, {load_during:.1f} over the last 5 min"
        )
        print(
            f"payments          {completed} ({kinds['invoice']} invoices, "
            f"{kinds['deposit']} trust deposits): {completed / elapsed:.2f} payments/s"
        )
        print(f"checkout latency  {_pcts(seconds, 1, '.2f', 's')}  (first page to landing)")
        requests = f"({len(answers)} requests)"
        print(f"request latency   {_pcts(request_seconds, 1000, '.0f', 'ms')}  {requests}")
        print(
            f"webhook bursts    {len(bursts.statuses)} deliveries of events already sent, "
            f"{_pcts(bursts.latencies, 1000, '.0f', 'ms')} (until acknowledged)"
        )
        print(
            f"errors            {len(errors)} checkouts, {len(bad_answers)} requests, "
            f"{len(bad_webhooks)} webhook deliveries never acknowledged"
        )
        print(
            f"retried           {poll_retries} status polls answered 'retry' and repeated by "
            f"the page; {len(retried_webhooks)} burst deliveries refused at first "
            f"{dict(collections.Counter(retried_webhooks))}, then acknowledged when repeated; "
            f"{len(stripe_retries)} events whose first delivery failed delivered again "
            f"({len(figures['retried_at_the_end'])} at the end; {len(bursts.round_errors)} rounds "
            "of retries cut short by the overloaded server)"
        )
        for what, message, _answers in errors[:5]:
            print(f"                  {what}: {message}")
        lost = len(figures["lost_payments"]) + len(figures["lost_events"])
        print(
            f"stripe            {figures['succeeded']} PaymentIntents succeeded, "
            f"{figures['events']} payment_intent.succeeded events"
        )
        print(f"duplicates        {figures['duplicates']}")
        print(
            f"lost              {lost} ({len(figures['lost_payments'])} payments, "
            f"{len(figures['lost_events'])} events)"
        )
        balanced = all(r["is_balanced"] for r in figures["reconciliation"])
        print(
            f"trust             three-way reconciliation {'balanced' if balanced else 'UNBALANCED'}"
        )
        by_step = collections.defaultdict(list)
        for method, path, _status, spent in answers:
            step = re.sub(r"/\d+", "/<id>", path)
            by_step[f"{method} {step}"].append(spent)
        print(
            "per request       "
            + ", ".join(
                f"{step} {statistics.median(v) * 1000:.0f}" for step, v in sorted(by_step.items())
            )
            + " (median ms)"
        )
        mean_s = statistics.mean(seconds) if seconds else 0.0
        print(f"(mean checkout {mean_s:.2f} s; server log: {server.log_path})")
        return 0 if figures["duplicates"] == 0 and lost == 0 and balanced else 1
    finally:
        if server:
            server.stop()
        if emulator:
            emulator.stdin.close()
            emulator.terminate()
            emulator.wait(10)
        cluster.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=120.0, help="seconds (default 120)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--workers", type=int, default=2, help="Odoo HTTP workers (2)")
    parser.add_argument(
        "--invoices-per-client",
        type=int,
        default=12,
        help="unpaid invoices of each client; then it deposits into trust (12)",
    )
    parser.add_argument("--burst-every", type=float, default=5.0, help="seconds between bursts")
    parser.add_argument("--burst-size", type=int, default=40, help="deliveries per burst")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = parser.parse_args()
    try:
        odoo_dir = stack.check_odoo()
    except stack.StackError as exc:
        stack.die(exc)
    with stack.workspace("legal-load-", keep=args.keep) as work:
        try:
            return run(args, work, odoo_dir)
        except (stack.StackError, RuntimeError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130
        finally:
            if args.keep:
                print(f"[load] kept {work}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
