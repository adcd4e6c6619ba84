from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Command
from odoo.tests import Form, tagged

from .common import LegalTrustCommon


@tagged("post_install", "-at_install")
class TestTrustLedger(LegalTrustCommon):
    def test_deposit_credits_the_client_ledger_and_debits_the_trust_bank(self):
        move = self.env["account.move"].browse(
            self.matter_a.trust_deposit(1000.0, memo="Retainer by wire")
        )
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.journal_id, self.trust_journal)
        ledger = move.line_ids.filtered(lambda line: line.account_id == self.trust_account)
        bank = move.line_ids - ledger
        self.assertEqual(
            (ledger.credit, ledger.matter_id, ledger.partner_id),
            (1000.0, self.matter_a, self.client_a),
        )
        self.assertEqual(
            (bank.debit, bank.account_id), (1000.0, self.trust_journal.default_account_id)
        )
        self.assertEqual(self.matter_a.trust_balance, 1000.0)
        self.assertEqual(self.matter_a.trust_available, 1000.0)
        self.assertEqual(self.matter_b.trust_balance, 0.0)

    def test_amounts_are_rounded_by_the_currency(self):
        self.matter_a.trust_deposit(100.004)
        self.assertEqual(self.matter_a.trust_balance, 100.0)
        self.matter_a.trust_deposit("0.015")
        self.assertAlmostEqual(self.matter_a.trust_balance, 100.02, places=6)

    def test_disbursement_pays_the_payee_from_the_matter(self):
        self.matter_a.trust_deposit(500.0)
        move = self.env["account.move"].browse(
            self.matter_a.trust_disburse(120.0, self.payee.id, memo="Expert report")
        )
        bank = move.line_ids.filtered(lambda line: line.account_id != self.trust_account)
        self.assertEqual((bank.credit, bank.partner_id), (120.0, self.payee))
        self.assertEqual(self.matter_a.trust_available, 380.0)

    def test_overdraft_is_refused_and_writes_nothing(self):
        self.matter_a.trust_deposit(100.0)
        moves_before = self.env["account.move"].search_count([])
        with self.assertRefused(ValidationError, "overdraft refused.*100.00.*100.01"):
            self.matter_a.trust_disburse(100.01, self.payee.id)
        self.assertEqual(self.env["account.move"].search_count([]), moves_before)
        self.assertEqual(self.matter_a.trust_balance, 100.0)
        # Another client's money is never reachable: matter B has nothing.
        with self.assertRaises(ValidationError):
            self.matter_b.trust_disburse(1.0, self.payee.id)

    def test_transfer_between_matters_of_the_same_client_only(self):
        self.matter_a.trust_deposit(300.0)
        self.matter_a.trust_transfer(self.matter_a2.id, 200.0)
        self.assertEqual(
            (self.matter_a.trust_balance, self.matter_a2.trust_balance), (100.0, 200.0)
        )
        with self.assertRefused(UserError, "same client"):
            self.matter_a.trust_transfer(self.matter_b.id, 50.0)
        with self.assertRaises(ValidationError):
            self.matter_a.trust_transfer(self.matter_a2.id, 100.01)
        self.assertEqual(self.matter_b.trust_balance, 0.0)

    def test_uncleared_deposit_counts_in_balance_not_in_available(self):
        move_id = self.matter_a.trust_deposit(250.0, cleared=False)
        self.assertEqual((self.matter_a.trust_balance, self.matter_a.trust_available), (250.0, 0.0))
        with self.assertRaises(ValidationError):
            self.matter_a.trust_disburse(1.0, self.payee.id)
        self.assertTrue(self.matter_a.trust_clear_deposit(move_id))
        self.assertFalse(self.matter_a.trust_clear_deposit(move_id), "already cleared")
        self.matter_a.invalidate_recordset()
        self.assertEqual(self.matter_a.trust_available, 250.0)

    def test_failed_uncleared_deposit_is_reversed_without_overdraft(self):
        self.matter_a.trust_deposit(40.0)
        pending = self.matter_a.trust_deposit(250.0, cleared=False)
        self.matter_a.trust_reverse(pending, memo="ACH failed")
        self.assertEqual((self.matter_a.trust_balance, self.matter_a.trust_available), (40.0, 40.0))

    def test_a_reversed_deposit_can_no_longer_clear(self):
        pending = self.matter_a.trust_deposit(250.0, cleared=False)
        self.matter_a.trust_reverse(pending, memo="ACH failed")
        with self.assertRefused(UserError, "reversed"):
            self.matter_a.trust_clear_deposit(pending)
        self.assertEqual((self.matter_a.trust_balance, self.matter_a.trust_available), (0.0, 0.0))

    def test_reversing_a_spent_deposit_is_refused(self):
        deposit = self.matter_a.trust_deposit(100.0)
        self.matter_a.trust_disburse(60.0, self.payee.id)
        with self.assertRefused(ValidationError, "overdraft"):
            self.matter_a.trust_reverse(deposit)
        self.assertEqual(self.matter_a.trust_balance, 40.0)

    def test_reversal_is_the_only_correction(self):
        deposit = self.env["account.move"].browse(self.matter_a.trust_deposit(100.0))
        with self.assertRefused(UserError, "reverse it"):
            deposit.button_draft()
        with self.assertRefused(UserError, "reverse it"):
            deposit.button_cancel()
        with self.assertRaises(UserError):
            deposit.unlink()
        with self.assertRefused(UserError, "reverse it"):
            deposit.write({"date": fields.Date.subtract(deposit.date, days=3)})
        with self.assertRaises(UserError):
            deposit.line_ids.filtered("matter_id").write({"matter_id": self.matter_a2.id})
        reversal = self.env["account.move"].browse(self.matter_a.trust_reverse(deposit.id))
        self.assertEqual(reversal.reversed_entry_id, deposit)
        self.assertEqual(self.matter_a.trust_balance, 0.0)
        with self.assertRefused(UserError, "already been reversed"):
            self.matter_a.trust_reverse(deposit.id)

    def test_manual_entry_on_trust_liability_goes_through_the_gate(self):
        self.matter_a.trust_deposit(10.0)
        entry = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": self.trust_journal.id,
                "line_ids": [
                    Command.create(
                        {
                            "account_id": self.trust_account.id,
                            "debit": 50.0,
                            "partner_id": self.client_a.id,
                            "matter_id": self.matter_a.id,
                        }
                    ),
                    Command.create(
                        {"account_id": self.trust_journal.default_account_id.id, "credit": 50.0}
                    ),
                ],
            }
        )
        with self.assertRefused(ValidationError, "overdraft"):
            entry.action_post()
        no_matter = entry.copy()
        no_matter.line_ids.filtered(
            lambda line: line.account_id == self.trust_account
        ).matter_id = False
        with self.assertRefused(UserError, "needs a matter"):
            no_matter.action_post()

    def test_trust_money_stays_out_of_operating_journals(self):
        entry = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": self.operating_journal.id,
                "line_ids": [
                    Command.create(
                        {"account_id": self.operating_journal.default_account_id.id, "debit": 5.0}
                    ),
                    Command.create(
                        {
                            "account_id": self.trust_account.id,
                            "credit": 5.0,
                            "partner_id": self.client_a.id,
                            "matter_id": self.matter_a.id,
                        }
                    ),
                ],
            }
        )
        with self.assertRefused(UserError, "trust bank journal"):
            entry.action_post()
        with self.assertRefused(ValidationError, "trust account"):
            self.env["account.payment"].create(
                {
                    "payment_type": "inbound",
                    "partner_type": "customer",
                    "partner_id": self.client_a.id,
                    "amount": 10.0,
                    "journal_id": self.trust_journal.id,
                }
            )

    def test_operating_journal_cannot_take_money_out_of_the_trust_bank(self):
        self.matter_a.trust_deposit(100.0)
        operating_account = self.operating_journal.default_account_id
        trust_bank_account = self.trust_journal.default_account_id

        def entry(debit_account, credit_account):
            return self.env["account.move"].create(
                {
                    "move_type": "entry",
                    "journal_id": self.operating_journal.id,
                    "line_ids": [
                        Command.create({"account_id": debit_account.id, "debit": 100.0}),
                        Command.create({"account_id": credit_account.id, "credit": 100.0}),
                    ],
                }
            )

        withdrawal = entry(operating_account, trust_bank_account)
        with self.assertRefused(UserError, "out of a trust bank account"):
            withdrawal.action_post()
        # Money may go the other way: the firm tops up the trust bank (fee replenishment).
        replenishment = entry(trust_bank_account, operating_account)
        replenishment.action_post()
        self.assertEqual(replenishment.state, "posted")

    def test_bad_input_is_refused_with_a_clear_message(self):
        with self.assertRefused(UserError, "positive"):
            self.matter_a.trust_deposit(0)
        with self.assertRefused(UserError, "positive"):
            self.matter_a.trust_deposit(-5)
        with self.assertRefused(UserError, "number"):
            self.matter_a.trust_deposit("ten")
        with self.assertRefused(UserError, "future"):
            self.matter_a.trust_deposit(5, date=fields.Date.add(fields.Date.today(), days=1))
        with self.assertRefused(UserError, "trust bank journal"):
            self.matter_a.trust_deposit(5, journal_id=self.operating_journal.id)
        with self.assertRefused(UserError, "payee"):
            self.matter_a.trust_disburse(5, 0)
        self.assertEqual(self.matter_a.trust_balance, 0.0)

    def test_closed_matter_takes_no_movement_and_closes_only_when_empty(self):
        self.matter_a.trust_deposit(10.0)
        with self.assertRefused(UserError, "still holds"):
            self.matter_a.action_close()
        self.matter_a.trust_disburse(10.0, self.payee.id)
        self.matter_a.action_close()
        with self.assertRefused(UserError, "closed"):
            self.matter_a.trust_deposit(10.0)

    def test_groups_trust_user_deposits_manager_disburses(self):
        matter_as_user = self.matter_a.with_user(self.trust_user)
        matter_as_user.trust_deposit(100.0)
        with self.assertRaises(AccessError):
            matter_as_user.trust_disburse(10.0, self.payee.id)
        with self.assertRaises(AccessError):
            matter_as_user.trust_transfer(self.matter_a2.id, 10.0)
        self.matter_a.with_user(self.trust_manager).trust_disburse(10.0, self.payee.id)
        self.assertEqual(self.matter_a.trust_balance, 90.0)

    def test_movement_wizard_posts_through_the_same_rules(self):
        def run(movement, **values):
            form = Form(
                self.env["legal.trust.movement.wizard"].with_context(
                    default_matter_id=self.matter_a.id, default_movement=movement
                )
            )
            for key, value in values.items():
                setattr(form, key, value)
            return form.save().action_confirm()

        run("deposit", amount=700.0, memo="Cheque 1042")
        run("disburse", amount=200.0, payee_partner_id=self.payee)
        run("transfer", amount=100.0, to_matter_id=self.matter_a2)
        self.assertEqual(
            (self.matter_a.trust_balance, self.matter_a2.trust_balance), (400.0, 100.0)
        )
        with self.assertRaises(ValidationError):
            run("disburse", amount=400.01, payee_partner_id=self.payee)
        self.assertEqual(self.matter_a.trust_balance, 400.0)

    def test_ledger_report_has_running_balance(self):
        self.matter_a.trust_deposit(1000.0, memo="Retainer")
        self.matter_a.trust_disburse(250.0, self.payee.id, memo="Filing fee")
        ledger = self.matter_a._trust_ledger()
        self.assertEqual(
            [
                (line["memo"], line["deposit"], line["disbursement"], line["balance"])
                for line in ledger["lines"]
            ],
            [("Retainer", 1000.0, 0.0, 1000.0), ("Filing fee", 0.0, 250.0, 750.0)],
        )
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "legal_trust.report_trust_ledger",
                self.matter_a.ids,
                data={"matter_ids": self.matter_a.ids, "date_from": False, "date_to": False},
            )[0]
            .decode()
        )
        self.assertIn("Filing fee", html)
        self.assertIn("750.00", html)

    def test_default_trust_bank_is_the_company_setting(self):
        clearing = self.env["account.journal"].create(
            {
                "name": "Provider Trust Clearing",
                "code": "PTC",
                "type": "bank",
                "is_trust_account": True,
                "sequence": 1,
                "company_id": self.company.id,
            }
        )
        self.company.trust_journal_id = self.trust_journal
        self.matter_a.trust_deposit(50.0)
        move = self.env["account.move"].browse(
            self.matter_a.trust_transfer(self.matter_a2.id, 20.0)
        )
        self.assertEqual(move.journal_id, self.trust_journal)
        deposit = self.env["account.move"].browse(
            self.matter_a.trust_deposit(5.0, journal_id=clearing.id)
        )
        self.assertEqual(deposit.journal_id, clearing)
