# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Two users refunding the same credit at once, on real, separate PostgreSQL transactions.

The fixtures (client, posted credit note) are committed in their own cursor, so that the
other transactions see them, and removed afterwards with SQL: posted entries cannot be
deleted through the ORM.
"""

from odoo import SUPERUSER_ID, api
from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.modules.registry import Registry
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import SQL


@tagged("post_install", "-at_install")
class TestRefundConcurrency(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        with cls.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env.ref("base.main_company")
            client = env["res.partner"].create({"name": "Concurrent Refund Client"})
            cls.company_id = company.id
            cls.client_id = client.id
            cr.commit()  # pylint: disable=invalid-commit

    @classmethod
    def tearDownClass(cls):
        with cls.registry.cursor() as cr:
            cr.execute(SQL("SELECT id FROM legal_refund WHERE partner_id = %s", cls.client_id))
            refund_ids = [r[0] for r in cr.fetchall()]
            cr.execute(
                SQL("SELECT move_id FROM account_move_line WHERE partner_id = %s", cls.client_id)
            )
            move_ids = list({r[0] for r in cr.fetchall()})
            cr.execute(
                SQL(
                    "SELECT full_reconcile_id FROM account_move_line WHERE move_id = ANY(%s) "
                    "AND full_reconcile_id IS NOT NULL",
                    move_ids,
                )
            )
            full_ids = [r[0] for r in cr.fetchall()]
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
            cr.execute(SQL("DELETE FROM legal_refund_line WHERE refund_id = ANY(%s)", refund_ids))
            cr.execute(SQL("SELECT id FROM account_payment WHERE partner_id = %s", cls.client_id))
            payment_ids = [r[0] for r in cr.fetchall()]
            cr.execute(SQL("DELETE FROM account_payment WHERE id = ANY(%s)", payment_ids))
            cr.execute(
                SQL(
                    "DELETE FROM mail_message WHERE (model = 'account.move' AND res_id = ANY(%s)) "
                    "OR (model = 'account.payment' AND res_id = ANY(%s))",
                    move_ids,
                    payment_ids,
                )
            )
            cr.execute(
                SQL(
                    "UPDATE account_move_line SET full_reconcile_id = NULL "
                    "WHERE move_id = ANY(%s)",
                    move_ids,
                )
            )
            cr.execute(SQL("DELETE FROM account_full_reconcile WHERE id = ANY(%s)", full_ids))
            cr.execute(SQL("DELETE FROM account_move_line WHERE move_id = ANY(%s)", move_ids))
            cr.execute(SQL("DELETE FROM account_move WHERE id = ANY(%s)", move_ids))
            cr.execute(SQL("DELETE FROM legal_refund WHERE id = ANY(%s)", refund_ids))
            cr.execute(
                SQL(
                    "DELETE FROM mail_message WHERE (model = 'legal.refund' AND res_id = ANY(%s)) "
                    "OR (model = 'res.partner' AND res_id = %s)",
                    refund_ids,
                    cls.client_id,
                )
            )
            cr.execute(
                SQL(
                    "DELETE FROM mail_followers WHERE (res_model = 'legal.refund' "
                    "AND res_id = ANY(%s)) OR (res_model = 'res.partner' AND res_id = %s)",
                    refund_ids,
                    cls.client_id,
                )
            )
            cr.execute(SQL("DELETE FROM res_partner WHERE id = %s", cls.client_id))
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        # A fresh, committed credit note of 100 for each test.
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env["res.company"].browse(self.company_id)
            income = env["account.account"].search(
                [("company_ids", "in", company.id), ("account_type", "=", "income")], limit=1
            )
            credit_note = (
                env["account.move"]
                .with_company(company)
                .create(
                    {
                        "move_type": "out_refund",
                        "partner_id": self.client_id,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "name": "Overbilled hours",
                                    "quantity": 1,
                                    "price_unit": 100.0,
                                    "account_id": income.id,
                                    "tax_ids": [Command.clear()],
                                }
                            )
                        ],
                    }
                )
            )
            credit_note.action_post()
            self.credit_note_id = credit_note.id
            self.credit_line_id = credit_note.line_ids.filtered(
                lambda rec: rec.account_type == "asset_receivable"
            ).id
            cr.commit()  # pylint: disable=invalid-commit

    def _refund(self, env, amount):
        return (
            env["legal.refund"]
            .with_context(legal_refund_no_advice=True)
            .create(
                {
                    "partner_id": self.client_id,
                    "company_id": self.company_id,
                    "method": "bank",
                    "line_ids": [
                        Command.create(
                            {
                                "kind": "credit_note",
                                "amount": amount,
                                "source_line_id": self.credit_line_id,
                            }
                        )
                    ],
                }
            )
        )

    def test_two_users_refunding_the_same_credit_cannot_both_succeed(self):
        with self.registry.cursor() as cr1, self.registry.cursor() as cr2:
            env1 = api.Environment(cr1, SUPERUSER_ID, {})
            env2 = api.Environment(cr2, SUPERUSER_ID, {})
            # Both users opened the refund before either confirmed.
            first = self._refund(env1, 100.0)
            second = self._refund(env2, 100.0)
            first.action_confirm()  # Holds the credit's row lock until it commits.
            with self.assertRaises(UserError) as caught:
                second.action_confirm()
            self.assertIn("being refunded by someone else", str(caught.exception))
            cr2.rollback()
            cr1.commit()  # pylint: disable=invalid-commit
            self.assertEqual(first.state, "done")
        # The second user tries again: nothing is owed any more.
        with self.registry.cursor() as cr3:
            env3 = api.Environment(cr3, SUPERUSER_ID, {})
            retry = self._refund(env3, 100.0)
            with self.assertRaises(UserError) as caught:
                retry.action_confirm()
            self.assertIn("can still be refunded", str(caught.exception))
            cr3.rollback()
            credit_note = env3["account.move"].browse(self.credit_note_id)
            self.assertEqual(credit_note.amount_residual, 0.0)
            self.assertEqual(
                env3["account.payment"].search_count(
                    [("legal_refund_line_id.source_line_id", "=", self.credit_line_id)]
                ),
                1,
                "one refund payment only",
            )

    def test_a_refund_started_before_anothers_commit_rereads_what_is_owed(self):
        """Under REPEATABLE READ, the row written by the first refund makes the second one
        fail with a serialization error, which the web layer retries; the retry is refused."""
        from psycopg2.errors import SerializationFailure

        with self.registry.cursor() as cr1, self.registry.cursor() as cr2:
            env1 = api.Environment(cr1, SUPERUSER_ID, {})
            env2 = api.Environment(cr2, SUPERUSER_ID, {})
            second = self._refund(env2, 60.0)  # Its snapshot is taken now.
            first = self._refund(env1, 60.0)
            first.action_confirm()
            cr1.commit()  # pylint: disable=invalid-commit
            with self.assertRaises((SerializationFailure, UserError)):
                second.action_confirm()
            cr2.rollback()
