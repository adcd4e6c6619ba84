#!/usr/bin/env python3
"""Webhook throughput: signed Stripe ``payment_intent.succeeded`` events, end to end.

    python3 bench/webhook_throughput.py [--invoices 2000] [--duplicates 0.1] [--senders 16]

For each product, in the same run and on the same throwaway PostgreSQL cluster:

* **stock**: a database with Odoo 18's ``account_payment`` + ``payment_stripe`` alone;
* **legal**: a database with the four addons of this repository (``legal_payments``...).

Each database gets N posted invoices and N draft Stripe transactions. A real Odoo HTTP server
with 2 workers then receives one signed ``payment_intent.succeeded`` event per transaction, plus
a share of duplicate deliveries (same event, re-sent), from concurrent senders. Then the
post-processing runs as Odoo runs it: stock's ``payment`` post-processing cron (one cron job
runs in one worker at a time); for legal, the inbox cron in two workers (its events are locked
with ``SKIP LOCKED``; the fee is asked from the Stripe emulator, which has no balance
transactions, so each payment makes that round trip and books no fee).

Printed for each product: deliveries accepted per second, payments created per second in the
post-processing, events per second end to end (unique events / (acceptance + processing)), and
the count of duplicated payments (more than one payment for a transaction). Everything created
is removed at the end.
"""

import argparse
import concurrent.futures
import contextlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402

SECRET = "whsec_bench_secret"
PRODUCTS = {
    "stock": ["account_payment", "payment_stripe"],
    "legal": stack.ADDONS,
}


# --------------------------------------------------------------------------- in-database work
def _env(config, db_name):
    """Open an Odoo registry on ``db_name`` (in this process) and return it."""
    import odoo  # noqa: PLC0415

    odoo.tools.config.parse_config(["-c", config, "-d", db_name, "--log-level=warn"])
    odoo.netsvc.init_logger()
    for name in ("stripe", "odoo.addons.legal_payments", "odoo.sql_db"):
        logging.getLogger(name).setLevel(logging.ERROR)  # Expected retries and missing fees.
    return odoo.modules.registry.Registry(db_name)


def prepare(config, db_name, count, api_base):
    """Create the invoices, the draft transactions and the Stripe provider configuration."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415
    from odoo.fields import Command  # noqa: PLC0415

    registry = _env(config, db_name)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
        company = env.ref("base.main_company")
        journal = env["account.journal"].create(
            {
                "name": "Stripe Bench",
                "code": "SBEN",
                "type": "bank",
                "company_id": company.id,
            }
        )
        provider = env.ref("payment.payment_provider_stripe")
        provider.write(
            {
                "state": "test",
                "is_published": True,
                "stripe_publishable_key": "pk_test_bench",
                "stripe_secret_key": "sk_test_bench",
                "stripe_webhook_secret": SECRET,
                "journal_id": journal.id,
                "company_id": company.id,
            }
        )
        # Only this provider may verify the bench's signatures.
        env["payment.provider"].search([("code", "=", "stripe"), ("id", "!=", provider.id)]).write(
            {"stripe_webhook_secret": False, "state": "disabled"}
        )
        if api_base:
            env["ir.config_parameter"].set_param("legal_payments.stripe_api_base", api_base)
        card = env.ref("payment.payment_method_card")
        card.active = True
        partner = env["res.partner"].create({"name": "Bench Client", "email": "c@example.com"})
        invoices = env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": f"Advice {i}",
                                "quantity": 1,
                                "price_unit": 100.0 + i % 50,
                                "tax_ids": [],
                            }
                        )
                    ],
                }
                for i in range(count)
            ]
        )
        invoices.action_post()
        env["payment.transaction"].create(
            [
                {
                    "provider_id": provider.id,
                    "payment_method_id": card.id,
                    "reference": f"BENCH-{i}",
                    "amount": invoice.amount_residual,
                    "currency_id": invoice.currency_id.id,
                    "partner_id": partner.id,
                    "operation": "online_direct",
                    "invoice_ids": [Command.set(invoice.ids)],
                }
                for i, invoice in enumerate(invoices)
            ]
        )
        cr.commit()
        cr.execute(
            "SELECT reference, amount, c.name FROM payment_transaction t "
            "JOIN res_currency c ON c.id = t.currency_id WHERE reference LIKE 'BENCH-%%'"
        )
        return [{"reference": r, "amount": a, "currency": c} for r, a, c in cr.fetchall()]


def process(config, db_name, product):
    """Run the post-processing as a cron worker would (called in a subprocess)."""
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    registry = _env(config, db_name)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        if product == "stock":
            env["payment.transaction"]._cron_post_process()
        else:
            Event = env["legal.stripe.event"]
            while Event._cron_process_stripe_events(limit=200):
                pass
        cr.commit()


def measure(config, db_name):
    from odoo import SUPERUSER_ID, api  # noqa: PLC0415

    registry = _env(config, db_name)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        cr.execute(
            "SELECT count(*), count(DISTINCT p.payment_transaction_id) FROM account_payment p "
            "JOIN payment_transaction t ON t.id = p.payment_transaction_id "
            "WHERE t.reference LIKE 'BENCH-%%'"
        )
        payments, distinct = cr.fetchone()
        cr.execute(
            "SELECT count(*) FROM account_move m JOIN res_partner p ON p.id = m.partner_id "
            "WHERE m.move_type = 'out_invoice' AND p.name = 'Bench Client' "
            "AND m.payment_state IN ('paid', 'in_payment')"
        )
        paid = cr.fetchone()[0]
        env.invalidate_all()
        return {"payments": payments, "duplicates": payments - distinct, "paid": paid}


# --------------------------------------------------------------------------- HTTP side
def _events(transactions, duplicates, seed=7):
    import stripe  # noqa: PLC0415

    rng = random.Random(seed)
    now = int(time.time())
    events = []
    for i, tx in enumerate(transactions):
        pi_id = f"pi_bench_{i}"
        event = {
            "id": f"evt_bench_{i}",
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": now,
            "livemode": False,
            "data": {
                "object": {
                    "id": pi_id,
                    "object": "payment_intent",
                    "description": tx["reference"],
                    "amount": round(tx["amount"] * 100),
                    "currency": tx["currency"].lower(),
                    "status": "succeeded",
                    "customer": "cus_bench",
                    "latest_charge": None,
                    "payment_method": {"id": "pm_bench", "type": "card", "card": {"brand": "visa"}},
                }
            },
        }
        events.append(json.dumps(event))
    unique = len(events)
    events += [rng.choice(events[:unique]) for _i in range(int(unique * duplicates))]
    rng.shuffle(events)
    signed = []
    for payload in events:
        header = stripe.WebhookSignature.generate_signature_header(payload, SECRET)
        signed.append((payload.encode(), header))
    return unique, signed


def _post(url, payload, header):
    request = urllib.request.Request(
        url,
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": header,
        },
    )
    for _attempt in range(5):
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    return 0


def _wait_http(port, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/health", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    raise stack.StackError(f"Odoo did not answer on port {port} within {timeout}s")


def _start_emulator(work):
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


# --------------------------------------------------------------------------- one product
def run_product(product, args, cluster, odoo_dir, work, api_base):
    db_name = f"bench_{product}_{os.getpid()}"
    config = stack.write_config(
        os.path.join(work, f"{product}.conf"),
        cluster,
        odoo_dir,
        db_name,
        http_port=stack.free_port(),
        data_dir=os.path.join(work, "filestore"),
        extra={
            "workers": 2,
            "max_cron_threads": 0,
            "limit_time_real": 600,
            "limit_time_cpu": 600,
            "log_level": "warn",
        },
    )
    print(f"[bench] {product}: installing {', '.join(PRODUCTS[product])}", flush=True)
    stack.install_addons(
        config, db_name, os.path.join(work, f"{product}-install.log"), modules=PRODUCTS[product]
    )
    transactions = _run_helper(
        "prepare", config, db_name, product, args.invoices, api_base if product == "legal" else ""
    )
    unique, signed = _events(transactions, args.duplicates)
    port = int(
        next(
            line.split("=")[1]
            for line in Path(config).read_text().splitlines()
            if line.startswith("http_port")
        )
    )
    server = subprocess.Popen(
        stack.odoo_cmd(config, "-d", db_name, "--no-database-list"),
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(work, f"{product}-server.log"), "w"),  # noqa: SIM115
        start_new_session=True,  # its workers and gevent process stopped with it
    )
    try:
        _wait_http(port)
        url = f"http://127.0.0.1:{port}/payment/stripe/webhook"
        print(f"[bench] {product}: sending {len(signed)} deliveries of {unique} events", flush=True)
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(args.senders) as pool:
            statuses = list(pool.map(lambda s: _post(url, *s), signed))
        accept_time = time.monotonic() - started
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(30)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
    workers = 1 if product == "stock" else 2
    started = time.monotonic()
    helpers = [
        subprocess.Popen(
            [sys.executable, __file__, "--helper", "process", config, db_name, product],
            stdout=subprocess.DEVNULL,
        )
        for _i in range(workers)
    ]
    for helper in helpers:
        helper.wait()
    process_time = time.monotonic() - started
    result = _run_helper("measure", config, db_name, product)
    result.update(
        {
            "product": product,
            "unique": unique,
            "deliveries": len(signed),
            "accepted": sum(1 for s in statuses if 200 <= s < 300),
            "accept_per_s": len(signed) / accept_time,
            "process_per_s": result["payments"] / process_time if process_time else 0.0,
            "end_to_end_per_s": unique / (accept_time + process_time),
            "workers": workers,
        }
    )
    subprocess.run(
        ["dropdb", "--if-exists", db_name], env=cluster.env(), capture_output=True, check=False
    )
    return result


def _run_helper(mode, config, db_name, product, *extra):
    proc = subprocess.run(
        [sys.executable, __file__, "--helper", mode, config, db_name, product, *map(str, extra)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise stack.StackError(f"bench helper {mode} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def helper(argv):
    mode, config, db_name, product, *extra = argv
    if mode == "prepare":
        result = prepare(config, db_name, int(extra[0]), extra[1] if len(extra) > 1 else "")
    elif mode == "process":
        process(config, db_name, product)
        result = {}
    else:
        result = measure(config, db_name)
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument(
        "--duplicates", type=float, default=0.1, help="share of duplicate deliveries (default 0.1)"
    )
    parser.add_argument("--senders", type=int, default=16, help="concurrent HTTP senders")
    parser.add_argument("--only", choices=sorted(PRODUCTS), help="run one product only")
    args = parser.parse_args()
    try:
        odoo_dir = stack.check_odoo()
    except stack.StackError as exc:
        stack.die(exc)
    cluster = stack.Cluster()
    results = []
    with stack.workspace("legal-bench-") as work:
        emulator = None
        try:
            cluster.start(work)
            emulator, api_base = _start_emulator(work)
            for product in [args.only] if args.only else ["stock", "legal"]:
                results.append(run_product(product, args, cluster, odoo_dir, work, api_base))
        except stack.StackError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            if emulator:
                emulator.stdin.close()
                emulator.terminate()
                emulator.wait(10)
            cluster.stop()
    print()
    print(
        f"{'product':8} {'events':>7} {'deliveries':>10} {'accepted/s':>10} "
        f"{'payments/s':>10} {'end-to-end/s':>12} {'paid':>6} {'duplicated':>10}"
    )
    for r in results:
        print(
            f"{r['product']:8} {r['unique']:7d} {r['deliveries']:10d} "
            f"{r['accept_per_s']:10.1f} {r['process_per_s']:10.1f} "
            f"{r['end_to_end_per_s']:12.1f} {r['paid']:6d} {r['duplicates']:10d}"
        )
    print("(post-processing workers: stock 1 cron job, legal 2 inbox workers)")
    return 0 if all(r["duplicates"] == 0 for r in results if r["product"] == "legal") else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--helper":
        helper(sys.argv[2:])
    else:
        sys.exit(main())
