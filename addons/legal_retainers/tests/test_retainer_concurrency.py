"""Concurrent outflows and cron runs never open two top-ups, and concurrent payments of one
request are all counted: real, separate transactions on committed fixtures, removed with SQL
afterwards."""

import threading

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.service.model import retrying
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import SQL


@tagged("post_install", "-at_install")
class TestRetainerConcurrency(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        with cls.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env.ref("base.main_company")
            journal = company._legal_default_trust_journal()
            client, payee = env["res.partner"].create(
                [{"name": "Concurrent retainer client"}, {"name": "Concurrent payee"}]
            )
            matter = env["legal.matter"].create(
                {
                    "title": "Race for a top-up",
                    "partner_id": client.id,
                    "company_id": company.id,
                    "retainer_enabled": True,
                    "retainer_minimum_balance": 500.0,
                    "retainer_topup_trigger": 300.0,
                }
            )
            matter.trust_deposit(1000.0, journal.id)
            matter.retainer_auto_topup = True
            # A second matter, paid by two payments completing at once.
            paid_matter = env["legal.matter"].create(
                {
                    "title": "Two payments at once",
                    "partner_id": client.id,
                    "company_id": company.id,
                    "retainer_enabled": True,
                    "retainer_initial_amount": 1000.0,
                }
            )
            demo = env.ref("payment.payment_provider_demo")
            provider = demo.copy(
                {
                    "name": "Concurrent trust (demo)",
                    "company_id": company.id,
                    "journal_id": journal.id,
                    "state": "test",
                }
            )
            request = paid_matter.action_request_retainer()
            txs = env["payment.transaction"].create(
                [
                    {
                        "provider_id": provider.id,
                        "payment_method_id": env.ref("payment_demo.payment_method_demo").id,
                        "amount": 500.0,
                        "currency_id": request.currency_id.id,
                        "partner_id": client.id,
                        "reference": f"{request.name}-concurrent-{n}",
                        "operation": "online_direct",
                        "legal_matter_id": paid_matter.id,
                        "legal_retainer_request_id": request.id,
                    }
                    for n in range(2)
                ]
            )
            # A third matter below its trigger with automatic top-ups off, turned on by two
            # users while the cron runs.
            toggled = env["legal.matter"].create(
                {
                    "title": "Top-ups turned on twice",
                    "partner_id": client.id,
                    "company_id": company.id,
                    "retainer_enabled": True,
                    "retainer_minimum_balance": 500.0,
                    "retainer_topup_trigger": 300.0,
                }
            )
            toggled.trust_deposit(100.0, journal.id)
            cls.ids = {
                "toggled": toggled.id,
                "matter": matter.id,
                "paid_matter": paid_matter.id,
                "request": request.id,
                "txs": txs.ids,
                "provider": provider.id,
                "partners": [client.id, payee.id],
            }
            cr.commit()  # pylint: disable=invalid-commit

    @classmethod
    def tearDownClass(cls):
        with cls.registry.cursor() as cr:
            matters = [cls.ids["matter"], cls.ids["paid_matter"], cls.ids["toggled"]]
            cr.execute(SQL("DELETE FROM payment_transaction WHERE id = ANY(%s)", cls.ids["txs"]))
            cr.execute(
                SQL(
                    "DELETE FROM account_payment_method_line WHERE payment_provider_id = %s",
                    cls.ids["provider"],
                )
            )
            cr.execute(SQL("DELETE FROM payment_provider WHERE id = %s", cls.ids["provider"]))
            cr.execute(SQL("DELETE FROM legal_retainer_request WHERE matter_id = ANY(%s)", matters))
            cr.execute(
                SQL(
                    "SELECT move_id FROM account_move_line WHERE matter_id = ANY(%s)"
                    " UNION SELECT id FROM account_move WHERE matter_id = ANY(%s)",
                    matters,
                    matters,
                )
            )
            moves = [r[0] for r in cr.fetchall()]
            cr.execute(SQL("DELETE FROM account_move_line WHERE move_id = ANY(%s)", moves))
            cr.execute(SQL("DELETE FROM account_move WHERE id = ANY(%s)", moves))
            cr.execute(
                SQL(
                    "DELETE FROM mail_followers WHERE res_model IN "
                    "('legal.matter', 'legal.retainer.request')"
                    " AND res_id NOT IN (SELECT id FROM legal_matter)"
                    " AND res_model = 'legal.matter'"
                )
            )
            cr.execute(SQL("DELETE FROM legal_matter WHERE id = ANY(%s)", matters))
            cr.execute(SQL("DELETE FROM res_partner WHERE id = ANY(%s)", cls.ids["partners"]))
        super().tearDownClass()

    def _concurrently(self, job, count):
        barrier = threading.Barrier(count)
        errors = []

        def worker():
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                barrier.wait()
                try:
                    retrying(lambda: job(env), env)
                    cr.commit()  # pylint: disable=invalid-commit
                except Exception as exc:  # noqa: BLE001 - reported by the assertion
                    errors.append(repr(exc))

        threads = [threading.Thread(target=worker) for _ in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        return errors

    def _open_topups(self, matter_key="matter"):
        with self.registry.cursor() as cr:
            cr.execute(
                SQL(
                    "SELECT COUNT(*) FROM legal_retainer_request WHERE matter_id = %s "
                    "AND kind = 'topup' AND state IN ('draft', 'sent', 'partial')",
                    self.ids[matter_key],
                )
            )
            return cr.fetchone()[0]

    def test_concurrent_disbursements_and_cron_open_one_topup(self):
        errors = self._concurrently(
            lambda env: env["legal.matter"]
            .browse(self.ids["matter"])
            .trust_disburse(200.0, self.ids["partners"][1]),
            4,
        )
        self.assertEqual(errors, [])
        self.assertEqual(self._open_topups(), 1)
        # Two daily cron runs at once add nothing.
        errors = self._concurrently(lambda env: env["legal.matter"]._cron_retainer_topups(), 2)
        self.assertEqual(errors, [])
        self.assertEqual(self._open_topups(), 1)

    def test_two_payments_of_one_request_completing_at_once_are_both_counted(self):
        txs = iter(self.ids["txs"])
        lock = threading.Lock()

        def pay(env, tx_id):
            tx = env["payment.transaction"].browse(tx_id)
            tx._set_done()
            tx._post_process()

        def job(env):
            # Each worker completes its own payment (taken once, retried on the same one).
            if not hasattr(threading.current_thread(), "legal_tx"):
                with lock:
                    threading.current_thread().legal_tx = next(txs)
            pay(env, threading.current_thread().legal_tx)

        errors = self._concurrently(job, 2)
        self.assertEqual(errors, [])
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            request = env["legal.retainer.request"].browse(self.ids["request"])
            matter = env["legal.matter"].browse(self.ids["paid_matter"])
            self.assertEqual(
                (request.state, request.amount_paid, request.amount_due), ("paid", 1000.0, 0.0)
            )
            self.assertEqual(matter.trust_balance, 1000.0)
            self.assertEqual(len(request.transaction_ids.mapped("legal_trust_move_id")), 2)

    def test_topups_turned_on_twice_while_the_cron_runs_open_one_topup(self):
        calls = iter(["turn on", "turn on", "cron"])
        lock = threading.Lock()

        def job(env):
            thread = threading.current_thread()
            if not hasattr(thread, "legal_call"):
                with lock:
                    thread.legal_call = next(calls)
            if thread.legal_call == "cron":
                env["legal.matter"]._cron_retainer_topups()
            else:
                env["legal.matter"].browse(self.ids["toggled"]).write({"retainer_auto_topup": True})

        errors = self._concurrently(job, 3)
        self.assertEqual(errors, [])
        self.assertEqual(self._open_topups("toggled"), 1)
