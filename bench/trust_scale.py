#!/usr/bin/env python3
"""Trust ledger at scale: the gate's cost and the reports' speed over a million items.

    python3 bench/trust_scale.py [--matters 20000] [--items 1000000] [--runs 30]

Starts a throwaway PostgreSQL cluster (or uses PGHOST), installs legal_trust with demo data,
bulk-loads ``--matters`` matters and ``--items`` posted trust journal items (deposits and
disbursements, two items per entry, copied by SQL from an entry posted through the gate),
then prints the median time of:

  (a) one disbursement posted through the trust API and its gate, beside the same
      two-line entry created and posted by Odoo where no gate applies: the operating bank
      journal, an ordinary liability account instead of the trust liability (the gate
      cannot be switched off by anyone, this bench included), target: 1.1 x;
  (b) every matter's trust balance as of a date (target: under 1 s);
  (c) a three-way reconciliation (target: under 1 s).

Nothing is asserted: the figures go into the README's performance section.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))

import stack  # noqa: E402


def _median_ms(samples):
    return statistics.median(samples) * 1000.0


def bulk_load(env, matters_count, items_count):
    """Create the matters and the trust entries with set-based SQL."""
    from odoo.tools import SQL

    cr = env.cr
    company = env.ref("base.main_company")
    journal = env.ref("legal_trust.journal_trust_bank")
    client = env["res.partner"].create({"name": "Bench Client"})
    payee = env["res.partner"].create({"name": "Bench Payee"})
    matters = env["legal.matter"].create(
        [{"title": f"Bench matter {i}", "partner_id": client.id} for i in range(matters_count)]
    )
    template_matter = matters[0]
    template = env["account.move"].browse(
        template_matter.trust_deposit(100.0, journal.id, memo="bench template")
    )
    env.flush_all()
    moves_count = items_count // 2
    # Date everything before the demo's done reconciliation (or yesterday).
    cr.execute(
        SQL(
            "SELECT COALESCE(MAX(date), CURRENT_DATE - 1) FROM legal_trust_reconciliation "
            "WHERE state = 'done'"
        )
    )
    lock_date = cr.fetchone()[0]
    matter_ids = matters.ids
    move_cols = _columns(cr, "account_move")
    line_cols = _columns(cr, "account_move_line")
    overrides_move = {
        "name": "'BENCH/' || g",
        "ref": "g::text",
        "date": f"DATE '{lock_date}' - ((g %% 700) + 1)",
        "matter_id": f"(%(matters)s::int[])[(g %% {len(matter_ids)}) + 1]",
        "sequence_prefix": "'BENCH/'",
        "sequence_number": "g",
    }
    select_move = ", ".join(overrides_move.get(col, f"t.{col}") for col in move_cols)
    start = time.monotonic()
    chunk = 50000
    for offset in range(0, moves_count, chunk):
        upper = min(offset + chunk, moves_count)
        cr.execute(
            f"""
            INSERT INTO account_move ({", ".join(move_cols)})
            SELECT {select_move}
              FROM account_move t, generate_series(%(lo)s, %(hi)s) g
             WHERE t.id = %(template)s
            """,
            {"matters": matter_ids, "lo": offset + 1, "hi": upper, "template": template.id},
        )
    # Lines: every 5th entry is a disbursement of 20, the others deposits of 100 + g % 50.
    amount = "(CASE WHEN m.ref::int %% 5 = 0 THEN -20.0 ELSE 100.0 + m.ref::int %% 50 END)"
    sign = "(CASE WHEN t.account_id = %(tl)s THEN -1 ELSE 1 END)"
    overrides_line = {
        "move_id": "m.id",
        "move_name": "m.name",
        "date": "m.date",
        "ref": "m.ref",
        "matter_id": "CASE WHEN t.matter_id IS NULL THEN NULL ELSE m.matter_id END",
        "debit": f"GREATEST({sign} * {amount}, 0)",
        "credit": f"GREATEST(-{sign} * {amount}, 0)",
        "balance": f"{sign} * {amount}",
        "amount_currency": f"{sign} * {amount}",
        "amount_residual": "0",
        "amount_residual_currency": "0",
    }
    select_line = ", ".join(
        overrides_line[col] if col in overrides_line else f"t.{col}" for col in line_cols
    )
    tl = company.trust_liability_account_id.id
    for offset in range(0, moves_count, chunk):
        upper = min(offset + chunk, moves_count)
        cr.execute(
            f"""
            INSERT INTO account_move_line ({", ".join(line_cols)})
            SELECT {select_line}
              FROM account_move m
              JOIN account_move_line t ON t.move_id = %(template)s
             WHERE m.name LIKE 'BENCH/%%' AND m.sequence_number BETWEEN %(lo)s AND %(hi)s
            """,
            {"template": template.id, "tl": tl, "lo": offset + 1, "hi": upper},
        )
    env.cr.commit()
    env.invalidate_all()
    elapsed = time.monotonic() - start
    cr.execute(SQL("SELECT COUNT(*) FROM account_move_line WHERE journal_id = %s", journal.id))
    items = cr.fetchone()[0]
    print(
        f"loaded {len(matter_ids)} matters and {items} trust journal items in {elapsed:.0f} s",
        flush=True,
    )
    return journal, matters, payee


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


def measure(registry, matter_id, payee_id, journal_id, runs):
    from odoo import SUPERUSER_ID, api, fields
    from odoo.fields import Command

    gate, plain, balances, reconciliations = [], [], [], []
    for _ in range(runs):
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            matter = env["legal.matter"].browse(matter_id)
            matter.company_id  # noqa: B018 - warm the record
            start = time.perf_counter()
            matter.trust_disburse(1.0, payee_id, journal_id, memo="bench")
            env.flush_all()
            gate.append(time.perf_counter() - start)
            cr.rollback()
        with registry.cursor() as cr:
            # The same two-line entry, created and posted by Odoo where no gate applies:
            # the operating bank and an ordinary liability account, no matter.
            env = api.Environment(cr, SUPERUSER_ID, {})
            matter = env["legal.matter"].browse(matter_id)
            company = matter.company_id
            account = env["account.account"].search(
                [
                    ("company_ids", "in", company.id),
                    ("account_type", "=", "liability_current"),
                    ("id", "!=", company.trust_liability_account_id.id),
                ],
                limit=1,
            )
            journal = env["account.journal"].search(
                [
                    ("company_id", "=", company.id),
                    ("type", "=", "bank"),
                    ("is_trust_account", "=", False),
                ],
                limit=1,
            )
            start = time.perf_counter()
            move = env["account.move"].create(
                {
                    "move_type": "entry",
                    "journal_id": journal.id,
                    "date": fields.Date.today(),
                    "ref": "bench",
                    "partner_id": matter.commercial_partner_id.id,
                    "line_ids": [
                        Command.create(
                            {
                                "name": "bench",
                                "account_id": account.id,
                                "partner_id": matter.commercial_partner_id.id,
                                "debit": 1.0,
                            }
                        ),
                        Command.create(
                            {
                                "name": "bench",
                                "account_id": journal.default_account_id.id,
                                "partner_id": payee_id,
                                "credit": 1.0,
                            }
                        ),
                    ],
                }
            )
            move._post(soft=False)
            env.flush_all()
            plain.append(time.perf_counter() - start)
            cr.rollback()
    for _ in range(5):
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            start = time.perf_counter()
            rows = env["legal.matter"]._trust_balances_as_of(fields.Date.today())
            balances.append(time.perf_counter() - start)
            start = time.perf_counter()
            rec = env["legal.trust.reconciliation"].create(
                {"journal_id": journal_id, "date": fields.Date.today(), "statement_balance": 0.0}
            )
            reconciliations.append(time.perf_counter() - start)
            cr.rollback()
    return gate, plain, balances, reconciliations, len(rows), rec


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matters", type=int, default=20000)
    parser.add_argument("--items", type=int, default=1000000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    try:
        odoo_dir = stack.check_odoo()
    except stack.StackError as exc:
        stack.die(exc)
    cluster = stack.Cluster()
    db_name = f"legal_bench_{os.getpid()}"
    with stack.workspace("legal-bench-") as work:
        try:
            cluster.start(work)
            config = stack.write_config(
                os.path.join(work, "odoo.conf"),
                cluster,
                odoo_dir,
                db_name,
                http_port=stack.free_port(),
                data_dir=os.path.join(work, "filestore"),
            )
            print("installing legal_trust with demo data...", flush=True)
            stack.install_addons(
                config, db_name, os.path.join(work, "install.log"), modules=["legal_trust"]
            )
            import odoo
            from odoo import SUPERUSER_ID, api
            from odoo.modules.registry import Registry

            odoo.tools.config.parse_config(["-c", config, "--log-level=warn"])
            registry = Registry(db_name)
            with registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                journal, matters, payee = bulk_load(env, args.matters, args.items)
                matter_id, payee_id, journal_id = matters[1].id, payee.id, journal.id
            subprocess.run(
                ["psql", "-q", "-d", db_name, "-c", "VACUUM ANALYZE"], env=cluster.env(), check=True
            )
            gate, plain, balances, recs, matter_rows, _rec = measure(
                registry, matter_id, payee_id, journal_id, args.runs
            )
            ratio = statistics.median(gate) / statistics.median(plain)
            print()
            print(
                f"(a) disbursement through the gate : {_median_ms(gate):8.2f} ms "
                f"(median of {len(gate)})"
            )
            print(
                f"    same entry, no gate (operating): {_median_ms(plain):8.2f} ms "
                f"-> ratio {ratio:.2f} (target <= 1.10)"
            )
            print(
                f"(b) balances of every matter     : {_median_ms(balances):8.2f} ms "
                f"({matter_rows} matters; target < 1000 ms)"
            )
            print(
                f"(c) three-way reconciliation     : {_median_ms(recs):8.2f} ms (target < 1000 ms)"
            )
            return 0
        except stack.StackError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
