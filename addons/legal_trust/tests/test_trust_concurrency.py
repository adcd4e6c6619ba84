"""Concurrent trust postings on real, separate PostgreSQL transactions.

The fixtures are committed in their own cursor (other transactions cannot see the test's
uncommitted data) and removed afterwards with SQL: posted trust entries cannot be deleted
through the ORM, by design.
"""

import threading

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Command
from odoo.modules.registry import Registry
from odoo.service.model import retrying
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import SQL

from odoo.addons.legal_trust.utils import retry_serialization

WORKERS = 10


@tagged("post_install", "-at_install")
class TestTrustConcurrency(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = odoo_registry = Registry(get_db_name())
        with odoo_registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env.ref("base.main_company")
            journal = company._legal_trust_journals()[:1]
            cls.created_journal = not journal
            if not journal:
                journal = env["account.journal"].create(
                    {
                        "name": "Concurrency Trust",
                        "code": "CTRT",
                        "type": "bank",
                        "is_trust_account": True,
                        "company_id": company.id,
                    }
                )
            partners = env["res.partner"].create(
                [{"name": "Concurrent Client"}, {"name": "Concurrent Payee"}]
            )
            cls.journal_id = journal.id
            cls.company_id = company.id
            cls.partner_ids = partners.ids
            cls.all_matter_ids = []
            cls.admin_uid = env.ref("base.user_admin").id

    def setUp(self):
        super().setUp()
        # Fresh, committed matters for each test.
        self.matter_ids = self._in_new_transaction(
            lambda env: env["legal.matter"]
            .create(
                [
                    {
                        "title": "Race",
                        "partner_id": self.partner_ids[0],
                        "company_id": self.company_id,
                    },
                    {
                        "title": "Race 2",
                        "partner_id": self.partner_ids[0],
                        "company_id": self.company_id,
                    },
                ]
            )
            .ids
        )
        self.all_matter_ids.extend(self.matter_ids)

    @classmethod
    def tearDownClass(cls):
        with cls.registry.cursor() as cr:
            cr.execute(
                SQL(
                    "SELECT id FROM account_move WHERE matter_id = ANY(%s) OR partner_id = ANY(%s)",
                    cls.all_matter_ids,
                    cls.partner_ids,
                )
            )
            move_ids = [r[0] for r in cr.fetchall()]
            cr.execute(
                SQL(
                    "DELETE FROM account_payment_register WHERE partner_id = ANY(%s)",
                    cls.partner_ids,
                )
            )
            cr.execute(SQL("DELETE FROM account_payment WHERE move_id = ANY(%s)", move_ids))
            cr.execute(
                SQL(
                    "DELETE FROM account_partial_reconcile WHERE debit_move_id IN "
                    "(SELECT id FROM account_move_line WHERE move_id = ANY(%s)) "
                    "OR credit_move_id IN "
                    "(SELECT id FROM account_move_line WHERE move_id = ANY(%s))",
                    move_ids,
                    move_ids,
                )
            )
            cr.execute(
                SQL(
                    "UPDATE account_move_line SET full_reconcile_id = NULL WHERE move_id = ANY(%s)",
                    move_ids,
                )
            )
            cr.execute(SQL("DELETE FROM account_move_line WHERE move_id = ANY(%s)", move_ids))
            cr.execute(SQL("DELETE FROM account_move WHERE id = ANY(%s)", move_ids))
            cr.execute(
                SQL(
                    "DELETE FROM mail_message WHERE model = 'legal.matter' " "AND res_id = ANY(%s)",
                    cls.all_matter_ids,
                )
            )
            cr.execute(
                SQL(
                    "DELETE FROM mail_followers WHERE res_model = 'legal.matter' "
                    "AND res_id = ANY(%s)",
                    cls.all_matter_ids,
                )
            )
            cr.execute(SQL("DELETE FROM legal_matter WHERE id = ANY(%s)", cls.all_matter_ids))
            cr.execute(SQL("DELETE FROM res_partner WHERE id = ANY(%s)", cls.partner_ids))
            if cls.created_journal:
                cr.execute(SQL("DELETE FROM account_journal WHERE id = %s", cls.journal_id))
        super().tearDownClass()

    def _in_new_transaction(self, func, uid=SUPERUSER_ID):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, uid, {})
            result = func(env)
            # Committed fixtures: other transactions must see them.
            cr.commit()  # pylint: disable=invalid-commit
            return result

    def _matter(self, env, index=0):
        return env["legal.matter"].browse(self.matter_ids[index])

    def _run_concurrently(self, job):
        """Run ``job(env)`` in WORKERS threads, each in its own transaction, retried on
        serialization failures as Odoo's web/RPC layer does (``odoo.service.model.retrying``).
        """
        barrier = threading.Barrier(WORKERS)
        results = []
        lock = threading.Lock()

        def worker():
            with self.registry.cursor() as cr:
                env = api.Environment(cr, self.admin_uid, {})
                barrier.wait()
                try:
                    retrying(lambda: job(env), env)
                    cr.commit()  # pylint: disable=invalid-commit
                    outcome = ("ok", None)
                except ValidationError as exc:
                    outcome = ("refused", str(exc))
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    outcome = ("error", repr(exc))
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        return results

    def test_ten_concurrent_disbursements_never_overdraw(self):
        self._in_new_transaction(lambda env: self._matter(env).trust_deposit(100.0))
        results = self._run_concurrently(
            lambda env: self._matter(env).trust_disburse(20.0, self.partner_ids[1])
        )
        outcomes = sorted(r[0] for r in results)
        self.assertEqual(outcomes, ["ok"] * 5 + ["refused"] * 5, results)
        for kind, message in results:
            if kind == "refused":
                self.assertIn("overdraft refused", message)
        balance = self._in_new_transaction(lambda env: self._matter(env).trust_balance)
        self.assertEqual(balance, 0.0)

    def test_opposite_transfers_do_not_deadlock(self):
        self._in_new_transaction(
            lambda env: (
                self._matter(env, 0).trust_deposit(50.0),
                self._matter(env, 1).trust_deposit(50.0),
            )
        )
        counter = iter(range(WORKERS))
        lock = threading.Lock()

        def job(env):
            with lock:
                index = next(counter, 0)
            source, target = (0, 1) if index % 2 else (1, 0)
            self._matter(env, source).trust_transfer(self.matter_ids[target], 5.0)

        results = self._run_concurrently(job)
        self.assertEqual(sorted(r[0] for r in results), ["ok"] * WORKERS, results)
        balances = self._in_new_transaction(
            lambda env: (self._matter(env, 0).trust_balance, self._matter(env, 1).trust_balance)
        )
        self.assertEqual(sum(balances), 100.0)

    def test_retry_helper_for_crons_and_webhooks(self):
        """Two workers using legal_trust.utils.retry_serialization: both land."""
        self._in_new_transaction(lambda env: self._matter(env).trust_deposit(30.0))
        barrier = threading.Barrier(2)
        results = []

        def worker():
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                barrier.wait()
                results.append(
                    retry_serialization(
                        cr, lambda: self._matter(env).trust_disburse(10.0, self.partner_ids[1])
                    )
                )

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(len(results), 2)
        balance = self._in_new_transaction(lambda env: self._matter(env).trust_balance)
        self.assertEqual(balance, 10.0)

    def test_trust_and_a_card_payment_of_the_same_invoice_at_once_pay_it_once(self):
        """Trust applied to an invoice while an operating payment of it lands: the invoice
        is locked before its residual is read, so trust money never overpays it (it would
        become an operating credit of the client)."""

        def setup(env):
            matter = self._matter(env)
            matter.trust_deposit(1000.0)
            invoice = env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.partner_ids[0],
                    "matter_id": matter.id,
                    "invoice_line_ids": [
                        Command.create({"name": "Fees", "quantity": 1, "price_unit": 500.0})
                    ],
                }
            )
            invoice.action_post()
            return invoice.id

        invoice_id = self._in_new_transaction(setup)
        barrier = threading.Barrier(2)
        results = {}

        def pay_from_trust(env):
            return self._matter(env).trust_pay_invoice(invoice_id)

        def pay_by_card(env):
            invoice = env["account.move"].browse(invoice_id)
            return (
                env["account.payment.register"]
                .with_context(active_model="account.move", active_ids=invoice.ids)
                .create({})
                ._create_payments()
            )

        def worker(name, job):
            with self.registry.cursor() as cr:
                env = api.Environment(cr, self.admin_uid, {})
                barrier.wait()
                try:
                    retrying(lambda: job(env), env)
                    cr.commit()  # pylint: disable=invalid-commit
                    results[name] = "ok"
                except UserError as exc:
                    results[name] = str(exc)

        threads = [
            threading.Thread(target=worker, args=("trust", pay_from_trust)),
            threading.Thread(target=worker, args=("card", pay_by_card)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        # Exactly one pays the invoice; the other is told there is nothing left to pay.
        self.assertEqual(sorted(results), ["card", "trust"], results)
        self.assertEqual(list(results.values()).count("ok"), 1, results)

        def figures(env):
            applied = env["account.move"].search([("legal_trust_paid_invoice_id", "=", invoice_id)])
            open_trust_credit = sum(
                applied.line_ids.filtered(
                    lambda line: line.account_type == "asset_receivable"
                ).mapped("amount_residual")
            )
            return self._matter(env).trust_balance, open_trust_credit

        balance, open_trust_credit = self._in_new_transaction(figures)
        if results["trust"] == "ok":
            self.assertIn("nothing left to pay", results["card"])
            self.assertEqual(balance, 500.0)
        else:
            self.assertIn("nothing left to pay", results["trust"])
            self.assertEqual(balance, 1000.0)
        self.assertEqual(open_trust_credit, 0.0)
