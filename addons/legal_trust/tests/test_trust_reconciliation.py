from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
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
        # People are refused; money booked by the system moves to the next open day (below).
        as_person = self.matter_a.with_user(self.trust_manager)
        with self.assertRefused(UserError, "reconciled up to"):
            as_person.trust_deposit(10.0, date=yesterday)
        with self.assertRefused(UserError, "reconciled up to"):
            as_person.trust_reverse(deposit, date=yesterday)
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


@tagged("post_install", "-at_install")
class TestReconciliationSignOff(LegalTrustCommon):
    """A done reconciliation is signed off, reopened only by a Trust Manager with a reason,
    and its figures and status are never written by a caller."""

    def setUp(self):
        super().setUp()
        self.today = fields.Date.today()
        self.yesterday = fields.Date.subtract(self.today, days=1)
        self.matter_a.trust_deposit(500.0, date=fields.Date.subtract(self.today, days=3))
        self.rec = self.env["legal.trust.reconciliation"].create(
            {
                "journal_id": self.trust_journal.id,
                "date": self.yesterday,
                "statement_balance": 480.0,
            }
        )

    def test_figures_and_status_cannot_be_written_over_rpc(self):
        as_manager = self.rec.with_user(self.trust_manager)
        for vals in (
            {"state": "done"},
            {"is_balanced": True},
            {"difference": 0.0},
            {"done_by_id": self.trust_manager.id},
        ):
            with self.assertRefused(UserError, "set by the reconciliation itself"):
                as_manager.write(vals)
        with self.assertRefused(UserError, "set by the reconciliation itself"):
            self.env["legal.trust.reconciliation"].with_user(self.trust_manager).create(
                {
                    "journal_id": self.trust_journal.id,
                    "date": self.yesterday,
                    "statement_balance": 1.0,
                    "state": "done",
                    "is_balanced": True,
                }
            )
        self.assertEqual((self.rec.state, self.rec.is_balanced), ("draft", False))
        # The unbalanced reconciliation cannot be signed off, and locks nothing.
        with self.assertRefused(UserError, "do not agree"):
            as_manager.action_done()
        self.matter_a.trust_deposit(1.0, date=self.yesterday)

    def test_dates_are_never_in_the_future_and_the_statement_is_not_later(self):
        Rec = self.env["legal.trust.reconciliation"]
        with self.assertRefused(ValidationError, "future"):
            Rec.create(
                {
                    "journal_id": self.trust_journal.id,
                    "date": fields.Date.add(self.today, days=1),
                    "statement_balance": 500.0,
                }
            )
        with self.assertRefused(ValidationError, "statement date"):
            Rec.create(
                {
                    "journal_id": self.trust_journal.id,
                    "date": self.yesterday,
                    "statement_date": self.today,
                    "statement_balance": 500.0,
                }
            )

    def test_sign_off_and_reopen_need_a_trust_manager_and_a_reason(self):
        self.rec.write({"statement_balance": 500.0})
        with self.assertRaises(AccessError):
            self.rec.with_user(self.trust_user).action_done()
        self.rec.with_user(self.trust_manager).action_done()
        self.assertEqual((self.rec.state, self.rec.done_by_id), ("done", self.trust_manager))
        self.assertTrue(self.rec.done_on)
        with self.assertRaises(AccessError):
            self.rec.with_user(self.trust_user).action_reopen("typo in the statement")
        with self.assertRefused(UserError, "Say why"):
            self.rec.with_user(self.trust_manager).action_reopen("  ")
        self.assertEqual(self.rec.state, "done")
        wizard = (
            self.env["legal.trust.reconciliation.reopen"]
            .with_user(self.trust_manager)
            .create({"reconciliation_id": self.rec.id, "reason": "Bank corrected the statement"})
        )
        wizard.action_confirm()
        self.assertEqual((self.rec.state, self.rec.done_by_id.id), ("draft", False))
        self.assertTrue(
            self.rec.message_ids.filtered(lambda m: "Bank corrected the statement" in m.body)
        )
        # Reopened: yesterday is open again for people.
        self.matter_a.trust_deposit(5.0, date=self.yesterday)

    def test_a_copy_of_a_done_reconciliation_is_a_draft_with_figures_from_the_books(self):
        self.rec.write({"statement_balance": 500.0})
        self.rec.action_done()
        copy = self.rec.copy({"date": self.today, "statement_balance": 450.0})
        self.assertEqual((copy.state, copy.done_by_id.id), ("draft", False))
        self.assertEqual(
            (copy.book_balance, copy.difference, copy.is_balanced), (500.0, -50.0, False)
        )

    def test_only_the_latest_done_reconciliation_is_reopened(self):
        self.rec.write({"statement_balance": 500.0})
        self.rec.action_done()
        later = self.env["legal.trust.reconciliation"].create(
            {"journal_id": self.trust_journal.id, "date": self.today, "statement_balance": 500.0}
        )
        later.action_done()
        with self.assertRefused(UserError, "later reconciliations"):
            self.rec.action_reopen("wrong month")

    def test_money_from_the_system_for_a_reconciled_date_is_booked_on_the_next_open_day(self):
        self.rec.write({"statement_balance": 500.0})
        self.rec.action_done()
        with self.assertRefused(UserError, "reconciled up to"):
            self.matter_a.with_user(self.trust_manager).trust_deposit(75.0, date=self.yesterday)
        # A Stripe event or a cron (code running as superuser): booked, never lost.
        move = self.env["account.move"].browse(
            self.matter_a.sudo().trust_deposit(75.0, date=self.yesterday, memo="Card deposit")
        )
        self.assertEqual((move.state, move.date), ("posted", self.today))
        self.assertIn(str(self.yesterday), move.ref)
        self.assertEqual(self.matter_a.trust_balance, 575.0)
