from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import LegalTrustCommon


@tagged("post_install", "-at_install")
class TestThreeWayReconciliation(LegalTrustCommon):
    def _reconcile(self, date, statement_balance, **values):
        return self.env["legal.trust.reconciliation"].create(
            {
                "journal_id": self.trust_journal.id,
                "date": date,
                "statement_balance": statement_balance,
                **values,
            }
        )

    def test_bank_book_and_ledgers_agree(self):
        today = fields.Date.today()
        self.matter_a.trust_deposit(1000.0, date=fields.Date.subtract(today, days=5))
        self.matter_b.trust_deposit(400.0, date=fields.Date.subtract(today, days=4))
        self.matter_a.trust_disburse(150.0, self.payee.id, date=fields.Date.subtract(today, days=3))
        rec = self._reconcile(fields.Date.subtract(today, days=3), 1250.0)
        self.assertEqual(
            (rec.book_balance, rec.ledger_total, rec.adjusted_bank_balance),
            (1250.0, 1250.0, 1250.0),
        )
        self.assertTrue(rec.is_balanced)

    def test_items_after_the_statement_are_in_transit(self):
        today = fields.Date.today()
        self.matter_a.trust_deposit(1000.0, date=fields.Date.subtract(today, days=10))
        self.matter_a.trust_deposit(300.0, date=fields.Date.subtract(today, days=2))
        self.matter_a.trust_disburse(100.0, self.payee.id, date=fields.Date.subtract(today, days=1))
        rec = self._reconcile(today, 1000.0, statement_date=fields.Date.subtract(today, days=5))
        self.assertEqual((rec.deposits_in_transit, rec.outstanding_disbursements), (300.0, 100.0))
        self.assertEqual(rec.adjusted_bank_balance, 1200.0)
        self.assertTrue(rec.is_balanced)
        self.assertEqual(sorted(i["amount"] for i in rec._get_unpresented_items()), [-100.0, 300.0])

    def test_differences_are_reported_and_block_done(self):
        self.matter_a.trust_deposit(500.0)
        rec = self._reconcile(fields.Date.today(), 480.0)
        self.assertFalse(rec.is_balanced)
        self.assertEqual(rec.difference, -20.0)
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("legal_trust.report_trust_reconciliation", rec.ids)[0]
            .decode()
        )
        self.assertIn("Differences found", html)
        with self.assertRefused(UserError, "do not agree"):
            rec.action_done()

    def test_done_reconciliation_locks_earlier_trust_postings(self):
        today = fields.Date.today()
        yesterday = fields.Date.subtract(today, days=1)
        deposit = self.matter_a.trust_deposit(500.0, date=fields.Date.subtract(today, days=2))
        rec = self._reconcile(yesterday, 500.0)
        rec.action_done()
        with self.assertRefused(UserError, "reconciled up to"):
            self.matter_a.trust_deposit(10.0, date=yesterday)
        with self.assertRefused(UserError, "reconciled up to"):
            self.matter_a.trust_reverse(deposit, date=yesterday)
        with self.assertRaises(UserError):
            rec.write({"statement_balance": 1.0})
        with self.assertRaises(UserError):
            rec.unlink()
        self.matter_a.trust_deposit(10.0, date=today)
        self.assertEqual(self.matter_a.trust_balance, 510.0)

    def test_balances_report_lists_every_matter_as_of_a_date(self):
        today = fields.Date.today()
        self.matter_a.trust_deposit(100.0, date=fields.Date.subtract(today, days=3))
        self.matter_b.trust_deposit(50.0, date=today)
        values = self.env["report.legal_trust.report_trust_balances"]._get_report_values(
            [],
            data={
                "company_id": self.company.id,
                "date_to": fields.Date.to_string(fields.Date.subtract(today, days=1)),
            },
        )
        self.assertEqual(
            [(line["matter"], line["balance"]) for line in values["lines"]],
            [(self.matter_a, 100.0)],
        )

    def test_statement_balance_comes_from_the_latest_bank_statement(self):
        today = fields.Date.today()
        self.matter_a.trust_deposit(1000.0, date=fields.Date.subtract(today, days=5))
        self.matter_a.trust_deposit(200.0, date=fields.Date.subtract(today, days=1))
        statement = self.env["account.bank.statement"].create(
            {
                "name": "Trust statement",
                "journal_id": self.trust_journal.id,
                "balance_start": 0.0,
                "balance_end_real": 1000.0,
                "line_ids": [
                    fields.Command.create(
                        {
                            "journal_id": self.trust_journal.id,
                            "date": fields.Date.subtract(today, days=4),
                            "payment_ref": "Wire from client A",
                            "amount": 1000.0,
                        }
                    )
                ],
            }
        )
        rec = self.env["legal.trust.reconciliation"].create(
            {"journal_id": self.trust_journal.id, "date": today}
        )
        self.assertEqual(rec.statement_id, statement)
        self.assertEqual((rec.statement_balance, rec.statement_date), (1000.0, statement.date))
        # The statement line is the bank's record: it does not count twice in the books.
        self.assertEqual((rec.book_balance, rec.ledger_total), (1200.0, 1200.0))
        self.assertEqual(rec.deposits_in_transit, 200.0)
        self.assertTrue(rec.is_balanced)
