#!/usr/bin/env python3
"""The client billing portal at scale: one client with 2,000 invoices and 5,000 payments.

    python3 bench/portal_scale.py [--invoices 2000] [--payments 5000] [--runs 15]

Starts a throwaway PostgreSQL cluster (or uses PGHOST), installs legal_trust and
legal_payments with demo data, creates one client (a portal user) with ``--invoices`` posted
invoices and ``--payments`` posted payments spread over two years (copied by SQL from an
invoice and a payment posted by Odoo) and a few trust movements, starts a real Odoo HTTP
server and prints, as the median of ``--runs`` requests over loopback, the server time of:

  (a) ``/my/billing`` (target: under 400 ms);
  (b) ``/my/billing/history``, its first page and a filtered last page (target: under 400 ms);
  (c) the statement PDF of a month and of a year (``/my/billing/statement``, wkhtmltopdf;
      target: under 3 s).

The time is the HTTP response time measured by the client on 127.0.0.1 (the server's time
plus a loopback round trip). Nothing is asserted: the figures go into the README.
"""

import argparse
import http.cookiejar
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))

import stack  # noqa: E402

LOGIN = "bench_portal_client"
PASSWORD = "bench-portal-pass-1234"
MODULES = ["legal_trust", "legal_payments"]


# --------------------------------------------------------------------------- data
def _columns(cr, table):
    cr.execute(
        """
        SELECT column_name FROM information_schema.columns
         WHERE table_name = %s AND column_name <> 'id'
           AND is_generated = 'NEVER' ORDER BY ordinal_position
        """,
        (table,),
    )
    return [r[0] for r in cr.fetchall()]


def _copy_move(cr, template_id, count, prefix, days, amount_expr):
    """Copy the posted move ``template_id`` ``count`` times by SQL, dated over ``days`` days
    before today, each line's amounts scaled to ``amount_expr`` (an SQL expression of g)."""
    move_cols = _columns(cr, "account_move")
    line_cols = _columns(cr, "account_move_line")
    date = f"(CURRENT_DATE - 1 - (g %% {days}))"
    overrides_move = {
        "name": f"'{prefix}' || g",
        "ref": f"'{prefix}' || g",
        "date": date,
        "invoice_date": f"CASE WHEN t.invoice_date IS NULL THEN NULL ELSE {date} END",
        "invoice_date_due": f"CASE WHEN t.invoice_date_due IS NULL THEN NULL ELSE {date} END",
        "sequence_prefix": f"'{prefix}'",
        "sequence_number": "g",
        "payment_reference": f"'{prefix}' || g",
        "amount_untaxed": f"{amount_expr}",
        "amount_total": f"{amount_expr}",
        "amount_residual": f"{amount_expr}",
        "amount_untaxed_signed": f"{amount_expr}",
        "amount_total_signed": f"{amount_expr}",
        "amount_total_in_currency_signed": f"{amount_expr}",
        "amount_residual_signed": f"{amount_expr}",
    }
    select_move = ", ".join(
        overrides_move[col] if col in overrides_move else f"t.{col}" for col in move_cols
    )
    cr.execute(
        f"""
        INSERT INTO account_move ({", ".join(move_cols)})
        SELECT {select_move}
          FROM account_move t, generate_series(1, %(count)s) g
         WHERE t.id = %(template)s
        """,
        {"count": count, "template": template_id},
    )
    # Every line keeps its sign; amounts become the move's amount.
    sign = "SIGN(t.balance)"
    amount = amount_expr.replace("g", "m.sequence_number")
    overrides_line = {
        "move_id": "m.id",
        "move_name": "m.name",
        "date": "m.date",
        "invoice_date": "m.invoice_date",
        "date_maturity": "m.date",
        "ref": "m.ref",
        "debit": f"GREATEST({sign} * {amount}, 0)",
        "credit": f"GREATEST(-{sign} * {amount}, 0)",
        "balance": f"{sign} * {amount}",
        "amount_currency": f"{sign} * {amount}",
        "price_unit": f"{amount}",
        "price_subtotal": f"{amount}",
        "price_total": f"{amount}",
        "amount_residual": f"CASE WHEN t.amount_residual = 0 THEN 0 ELSE {sign} * {amount} END",
        "amount_residual_currency": (
            f"CASE WHEN t.amount_residual_currency = 0 THEN 0 ELSE {sign} * {amount} END"
        ),
    }
    select_line = ", ".join(
        overrides_line[col] if col in overrides_line else f"t.{col}" for col in line_cols
    )
    cr.execute(
        f"""
        INSERT INTO account_move_line ({", ".join(line_cols)})
        SELECT {select_line}
          FROM account_move m
          JOIN account_move_line t ON t.move_id = %(template)s
         WHERE m.sequence_prefix = %(prefix)s
        """,
        {"template": template_id, "prefix": prefix},
    )


def prepare(env, invoices, payments):
    """Create the client, its portal user, the two templates and their copies (trust
    movements after the demo's done reconciliation, 30 days ago)."""
    from odoo import fields
    from odoo.fields import Command

    company = env.ref("base.main_company")
    client = env["res.partner"].create(
        {"name": "Bench Client", "email": "bench.client@example.com", "is_company": True}
    )
    env["res.users"].create(
        {
            "name": "Bench Client",
            "login": LOGIN,
            "password": PASSWORD,
            "partner_id": client.id,
            "company_id": company.id,
            "company_ids": [Command.set(company.ids)],
            "groups_id": [Command.set(env.ref("base.group_portal").ids)],
        }
    )
    matter = env["legal.matter"].create({"title": "Bench matter", "partner_id": client.id})
    journal = env.ref("legal_trust.journal_trust_bank")
    today = fields.Date.context_today(client)
    for days, amount in ((25, 20000.0), (20, 5000.0), (15, 2500.0)):
        matter.trust_deposit(amount, journal.id, fields.Date.subtract(today, days=days))
    matter.trust_disburse(
        1500.0, client.id, journal.id, fields.Date.subtract(today, days=10), "Filing fees"
    )
    invoice = env["account.move"].create(
        {
            "move_type": "out_invoice",
            "partner_id": client.id,
            "matter_id": matter.id,
            "invoice_date": fields.Date.subtract(today, days=1),
            "invoice_line_ids": [
                Command.create(
                    {
                        "name": "Legal services",
                        "quantity": 1,
                        "price_unit": 500.0,
                        "tax_ids": [Command.clear()],
                    }
                )
            ],
        }
    )
    invoice.action_post()
    bank = env["account.journal"].search(
        [("company_id", "=", company.id), ("type", "=", "bank"), ("is_trust_account", "=", False)],
        limit=1,
    )
    payment = env["account.payment"].create(
        {
            "payment_type": "inbound",
            "partner_type": "customer",
            "partner_id": client.id,
            "amount": 150.0,
            "journal_id": bank.id,
        }
    )
    payment.action_post()
    env.flush_all()
    start = time.monotonic()
    _copy_move(env.cr, invoice.id, invoices - 1, "BENCH/INV/", 730, "(400 + g %% 200)::numeric")
    _copy_move(
        env.cr, payment.move_id.id, payments - 1, "BENCH/PAY/", 730, "(100 + g %% 100)::numeric"
    )
    env.cr.execute(
        "UPDATE ir_config_parameter SET value = %s WHERE key = 'web.base.url'",
        (os.environ["BENCH_BASE_URL"],),
    )
    env.cr.commit()
    env.cr.execute(
        """
        SELECT COUNT(*) FILTER (WHERE move_type = 'out_invoice'),
               COUNT(*) FILTER (WHERE move_type = 'entry')
          FROM account_move WHERE partner_id = %s AND state = 'posted'
        """,
        (client.id,),
    )
    counts = env.cr.fetchone()
    print(
        f"loaded {counts[0]} invoices and {counts[1]} payments and trust entries of one client "
        f"in {time.monotonic() - start:.1f} s",
        flush=True,
    )
    return matter.id


# --------------------------------------------------------------------------- HTTP
def _wait_http(port, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/health", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    raise stack.StackError(f"Odoo did not answer on port {port} within {timeout}s")


def _opener(base, db_name):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"db": db_name, "login": LOGIN, "password": PASSWORD},
        }
    ).encode()
    request = urllib.request.Request(
        f"{base}/web/session/authenticate",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with opener.open(request, timeout=60) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise stack.StackError(f"portal login failed: {answer['error']}")
    return opener


def _time(opener, url, runs, check):
    samples = []
    for _i in range(runs + 1):
        start = time.perf_counter()
        with opener.open(url, timeout=300) as response:
            body = response.read()
            status = response.status
            ctype = response.headers.get("Content-Type", "")
        samples.append(time.perf_counter() - start)
        if status != 200 or not check(body, ctype):
            raise stack.StackError(f"unexpected answer from {url}: {status} {ctype}")
    return statistics.median(samples[1:]) * 1000.0, len(body)  # the first run warms up


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument("--payments", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    try:
        odoo_dir = stack.check_odoo()
    except stack.StackError as exc:
        stack.die(exc)
    cluster = stack.Cluster()
    db_name = f"legal_bench_portal_{os.getpid()}"
    with stack.workspace("legal-bench-") as work:
        server = None
        try:
            cluster.start(work)
            port = stack.free_port()
            config = stack.write_config(
                os.path.join(work, "odoo.conf"),
                cluster,
                odoo_dir,
                db_name,
                http_port=port,
                data_dir=os.path.join(work, "filestore"),
                extra={"log_level": "warn", "limit_time_real": 600, "limit_time_cpu": 600},
            )
            print(f"installing {', '.join(MODULES)} with demo data...", flush=True)
            stack.install_addons(config, db_name, os.path.join(work, "install.log"), MODULES)
            base = f"http://127.0.0.1:{port}"
            env_vars = dict(os.environ, BENCH_BASE_URL=base)
            subprocess.run(
                [sys.executable, __file__, "--prepare", config, db_name]
                + [str(args.invoices), str(args.payments)],
                env=env_vars,
                check=True,
            )
            subprocess.run(
                ["psql", "-q", "-d", db_name, "-c", "VACUUM ANALYZE"], env=cluster.env(), check=True
            )
            server = subprocess.Popen(
                stack.odoo_cmd(config, "-d", db_name, "--no-database-list"),
                stdout=subprocess.DEVNULL,
                stderr=open(os.path.join(work, "server.log"), "w"),  # noqa: SIM115
            )
            _wait_http(port)
            opener = _opener(base, db_name)
            is_html = lambda body, ctype: b"o_legal_billing" in body  # noqa: E731
            is_pdf = lambda body, ctype: body.startswith(b"%PDF")  # noqa: E731
            today = time.strftime("%Y-%m-%d")
            year_ago = time.strftime("%Y-%m-%d", time.localtime(time.time() - 365 * 86400))
            month_ago = time.strftime("%Y-%m-%d", time.localtime(time.time() - 31 * 86400))
            figures = [
                ("(a) /my/billing", "/my/billing", is_html, 400),
                ("(b) /my/billing/history (first page)", "/my/billing/history", is_html, 400),
                (
                    "    history, payments of a year, last page",
                    f"/my/billing/history/page/120?kind=payment&date_from={year_ago}"
                    f"&date_to={today}",
                    is_html,
                    400,
                ),
                (
                    "(c) statement PDF of the last month",
                    f"/my/billing/statement?date_from={month_ago}&date_to={today}",
                    is_pdf,
                    3000,
                ),
                (
                    "    statement PDF of the last year",
                    f"/my/billing/statement?date_from={year_ago}&date_to={today}",
                    is_pdf,
                    3000,
                ),
            ]
            print()
            for label, path, check, target in figures:
                runs = args.runs if check is is_html else max(3, args.runs // 3)
                median, size = _time(opener, base + path, runs, check)
                print(
                    f"{label:44} {median:9.1f} ms  (median of {runs}, {size / 1024:.0f} KiB; "
                    f"target < {target} ms)",
                    flush=True,
                )
            return 0
        except (stack.StackError, subprocess.CalledProcessError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            if server:
                server.terminate()
                server.wait(30)
            cluster.stop()


def prepare_main(argv):
    config, db_name, invoices, payments = argv
    import odoo
    from odoo import SUPERUSER_ID, api
    from odoo.modules.registry import Registry

    odoo.tools.config.parse_config(["-c", config, "--log-level=warn"])
    registry = Registry(db_name)
    with registry.cursor() as cr:
        prepare(api.Environment(cr, SUPERUSER_ID, {}), int(invoices), int(payments))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--prepare":
        prepare_main(sys.argv[2:])
        sys.exit(0)
    sys.exit(main())
