"""Attacks on the trust gate, made the way an RPC caller makes them.

Each test sends what a user can send over JSON-RPC (``with_user``, context keys such as the
gate's own key or Odoo's ``check_move_validity``/``force_delete``), asserts the refusal and
that the client ledgers and the journal entries did not change.
"""

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Command
from odoo.tests import tagged

from .common import LegalTrustCommon

# What an RPC caller can put in its context: JSON values, never a Python object.
FORGED_CONTEXT = {
    "legal_trust_gate": True,
    "check_move_validity": False,
    "force_delete": True,
    "skip_readonly_check": True,
}


@tagged("post_install", "-at_install")
class TestTrustIntegrity(LegalTrustCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.billing_user = cls._legal_user("billing_clerk", "account.group_account_invoice")
        cls.accountant_group = cls.env.ref("account.group_account_user", raise_if_not_found=False)

    def _state(self):
        """What an attack must leave unchanged: the ledgers, the entries and their lines."""
        self.env.invalidate_all()
        trust_lines = self.env["account.move.line"].search(
            [("journal_id", "=", self.trust_journal.id)]
        )
        return (
            self.matter_a.trust_balance,
            self.matter_a.trust_available,
            self.matter_b.trust_balance,
            self.env["account.move"].search_count([]),
            sorted(
                (
                    line.id,
                    line.account_id.id,
                    line.partner_id.id,
                    line.matter_id.id,
                    line.debit,
                    line.credit,
                    line.trust_uncleared,
                    line.date,
                    line.parent_state,
                )
                for line in trust_lines
            ),
        )

    def _manual_entry(self, user, lines, date=None, journal=None, context=None):
        """A journal entry created and posted by ``user`` as the web client would."""
        Move = self.env["account.move"].with_user(user).with_context(**(context or {}))
        move = Move.create(
            {
                "move_type": "entry",
                "journal_id": (journal or self.trust_journal).id,
                "date": date or fields.Date.today(),
                "line_ids": [Command.create(vals) for vals in lines],
            }
        )
        move.action_post()
        return move

    def _ledger_vals(self, matter, debit=0.0, credit=0.0, **extra):
        return {
            "name": "manual",
            "account_id": self.trust_account.id,
            "partner_id": matter.commercial_partner_id.id,
            "matter_id": matter.id,
            "debit": debit,
            "credit": credit,
            **extra,
        }

    def _bank_vals(self, debit=0.0, credit=0.0, partner=None):
        return {
            "name": "manual",
            "account_id": self.trust_journal.default_account_id.id,
            "partner_id": (partner or self.payee).id,
            "debit": debit,
            "credit": credit,
        }

    # ------------------------------------------------------------------ item 2: no switch
    def test_the_gate_key_sent_by_a_caller_does_not_let_an_overdraft_through(self):
        self.matter_a.trust_deposit(100.0)
        before = self._state()
        with self.assertRefused(ValidationError, "overdraft refused"):
            self._manual_entry(
                self.trust_manager,
                [self._ledger_vals(self.matter_a, debit=5000.0), self._bank_vals(credit=5000.0)],
                context=FORGED_CONTEXT,
            )
        self.assertEqual(self._state(), before)

    def test_the_gate_key_does_not_let_another_clients_money_be_taken(self):
        self.matter_b.trust_deposit(900.0)
        before = self._state()
        with self.assertRefused(UserError, "must carry its client"):
            self._manual_entry(
                self.trust_manager,
                [
                    self._ledger_vals(self.matter_b, debit=900.0, partner_id=self.client_a.id),
                    self._bank_vals(credit=900.0),
                ],
                context=FORGED_CONTEXT,
            )
        self.assertEqual(self._state(), before)

    def test_the_gate_key_does_not_open_a_reconciled_period(self):
        today = fields.Date.today()
        self.matter_a.trust_deposit(300.0, date=fields.Date.subtract(today, days=10))
        self.env["legal.trust.reconciliation"].create(
            {
                "journal_id": self.trust_journal.id,
                "date": fields.Date.subtract(today, days=5),
                "statement_balance": 300.0,
            }
        ).action_done()
        before = self._state()
        with self.assertRefused(UserError, "reconciled up to"):
            self._manual_entry(
                self.trust_manager,
                [self._ledger_vals(self.matter_a, credit=50.0), self._bank_vals(debit=50.0)],
                date=fields.Date.subtract(today, days=7),
                context=FORGED_CONTEXT,
            )
        self.assertEqual(self._state(), before)

    def test_the_gate_key_does_not_unlock_posted_trust_items(self):
        move = self.env["account.move"].browse(self.matter_a.trust_deposit(400.0, cleared=False))
        ledger = move.line_ids.filtered("matter_id")
        before = self._state()
        for vals in (
            {"matter_id": self.matter_a2.id},
            {"trust_uncleared": False},
        ):
            with self.assertRefused(UserError, "posted trust entry"):
                ledger.with_user(self.trust_manager).with_context(**FORGED_CONTEXT).write(vals)
        self.assertEqual(self._state(), before)
        self.assertEqual(self.matter_a.trust_available, 0.0)

    def test_odoo_bypass_keys_do_not_reach_posted_trust_items(self):
        move = self.env["account.move"].browse(self.matter_a.trust_deposit(400.0))
        before = self._state()
        forged = move.line_ids.with_user(self.trust_manager).with_context(**FORGED_CONTEXT)
        with self.assertRefused(UserError, "posted trust entry"):
            forged.filtered("matter_id").write({"credit": 4000.0})
        with self.assertRefused(UserError, "posted trust entry"):
            forged.unlink()
        with self.assertRefused(UserError, "posted trust entry"):
            move.with_user(self.trust_manager).with_context(**FORGED_CONTEXT).unlink()
        with self.assertRefused(UserError, "posted trust entry"):
            self.env["account.move.line"].with_user(self.trust_manager).with_context(
                **FORGED_CONTEXT
            ).create({**self._bank_vals(debit=1000.0), "move_id": move.id})
        self.assertEqual(self._state(), before)

    # ------------------------------------------------------------------ item 3: immutable
    def test_posted_trust_entry_cannot_be_set_to_draft_by_write_then_deleted(self):
        move = self.env["account.move"].browse(self.matter_a.trust_deposit(250.0))
        before = self._state()
        as_manager = move.with_user(self.trust_manager)
        with self.assertRefused(UserError, "posted trust entry"):
            as_manager.write({"state": "draft"})
        with self.assertRefused(UserError, "posted trust entry"):
            as_manager.sudo().write({"state": "cancel"})
        # Odoo's own refusal comes first without force_delete, ours with it.
        with self.assertRefused(UserError, "posted (trust entry|journal item)"):
            as_manager.unlink()
        with self.assertRefused(UserError, "posted trust entry"):
            as_manager.with_context(force_delete=True).unlink()
        self.assertEqual(move.state, "posted")
        self.assertEqual(self._state(), before)

    def test_every_item_of_a_posted_trust_entry_is_immutable(self):
        move = self.env["account.move"].browse(self.matter_a.trust_deposit(250.0))
        bank = move.line_ids.filtered(lambda line: not line.matter_id)
        other = self.env["account.account"].search(
            [("company_ids", "in", self.company.id), ("account_type", "=", "asset_current")],
            limit=1,
        )
        before = self._state()
        yesterday = fields.Date.subtract(fields.Date.today(), days=1)
        for vals in (
            {"account_id": other.id},
            {"partner_id": self.client_b.id},
            {"date": yesterday},
        ):
            with self.assertRefused(UserError, "posted trust entry"):
                bank.with_user(self.trust_manager).write(vals)
        # Both sides at once keep the entry balanced, and are refused all the same.
        with self.assertRefused(UserError, "posted trust entry"):
            move.line_ids.sudo().write({"debit": 0.0, "credit": 0.0})
        with self.assertRefused(UserError, "posted trust entry"):
            move.with_user(self.trust_manager).write({"date": yesterday})
        self.assertEqual(self._state(), before)

    # ------------------------------------------------------------------ item 4: roles
    def test_a_billing_clerk_cannot_take_money_out_of_trust_by_a_manual_entry(self):
        self.matter_a.trust_deposit(600.0)
        before = self._state()
        with self.assertRaises(AccessError):
            self._manual_entry(
                self.billing_user,
                [self._ledger_vals(self.matter_a, debit=200.0), self._bank_vals(credit=200.0)],
            )
        with self.assertRaises(AccessError):
            self._manual_entry(
                self.trust_user,
                [self._ledger_vals(self.matter_a, debit=200.0), self._bank_vals(credit=200.0)],
            )
        self.assertEqual(self._state(), before)
        # A Trust Manager may: the gate checks the role, not the path.
        self._manual_entry(
            self.trust_manager,
            [self._ledger_vals(self.matter_a, debit=200.0), self._bank_vals(credit=200.0)],
        )
        self.assertEqual(self.matter_a.trust_balance, 400.0)

    def test_a_trust_user_records_a_deposit_but_a_billing_clerk_cannot(self):
        with self.assertRaises(AccessError):
            self._manual_entry(
                self.billing_user,
                [self._ledger_vals(self.matter_a, credit=50.0), self._bank_vals(debit=50.0)],
            )
        self._manual_entry(
            self.trust_user,
            [self._ledger_vals(self.matter_a, credit=50.0), self._bank_vals(debit=50.0)],
        )
        self.assertEqual(self.matter_a.trust_balance, 50.0)

    def test_odoo_reverse_of_a_trust_entry_needs_a_trust_manager(self):
        move = self.env["account.move"].browse(self.matter_a.trust_deposit(300.0))
        self.billing_user.groups_id = [Command.link(self.env.ref("account.group_account_user").id)]
        before = self._state()
        for user in (self.billing_user, self.trust_user):
            wizard = (
                self.env["account.move.reversal"]
                .with_user(user)
                .with_context(active_model="account.move", active_ids=move.ids)
                .create({"journal_id": self.trust_journal.id, "date": fields.Date.today()})
            )
            with self.assertRaises(AccessError):
                wizard.refund_moves()
        self.assertEqual(self._state(), before)

    def test_clearing_a_deposit_needs_a_trust_manager(self):
        move_id = self.matter_a.trust_deposit(700.0, cleared=False)
        before = self._state()
        with self.assertRaises(AccessError):
            self.matter_a.with_user(self.trust_user).trust_clear_deposit(move_id)
        self.assertEqual(self._state(), before)
        self.assertTrue(self.matter_a.with_user(self.trust_manager).trust_clear_deposit(move_id))
        self.assertEqual(self.matter_a.trust_available, 700.0)

    # ------------------------------------------------------------------ item 8: back-dated
    def test_a_disbursement_dated_before_the_deposit_is_refused(self):
        today = fields.Date.today()
        self.matter_a.trust_deposit(5000.0, date=today)
        before = self._state()
        with self.assertRefused(ValidationError, "overdraft refused.*0.00 available on"):
            self.matter_a.trust_disburse(
                5000.0, self.payee.id, date=fields.Date.subtract(today, days=10)
            )
        self.assertEqual(self._state(), before)
        self.matter_a.trust_disburse(5000.0, self.payee.id, date=today)
        self.assertEqual(self.matter_a.trust_balance, 0.0)

    def test_a_back_dated_outflow_must_keep_every_later_day_covered(self):
        today = fields.Date.today()
        day = lambda n: fields.Date.subtract(today, days=n)  # noqa: E731
        self.matter_a.trust_deposit(5000.0, date=day(10))
        self.matter_a.trust_disburse(3000.0, self.payee.id, date=day(2))
        self.matter_a.trust_deposit(3000.0, date=day(1))
        self.assertEqual(self.matter_a.trust_available, 5000.0)
        before = self._state()
        # Today's 5,000 would allow it; on day -2 the ledger would be at -2,000.
        with self.assertRefused(ValidationError, "overdraft refused.*2,?000.00 available on"):
            self.matter_a.trust_disburse(4000.0, self.payee.id, date=day(5))
        with self.assertRefused(ValidationError, "overdraft refused"):
            self.matter_a.trust_transfer(self.matter_a2.id, 4000.0, date=day(5))
        self.assertEqual(self._state(), before)
        self.matter_a.trust_disburse(2000.0, self.payee.id, date=day(5))
        self.assertEqual(self.matter_a.trust_available, 3000.0)

    # ------------------------------------------------------------------ item 9: once
    def test_paying_from_trust_after_a_reset_to_draft_reuses_the_first_payment(self):
        self.matter_a.trust_deposit(1000.0)
        invoice = self._invoice(self.matter_a, 400.0)
        self.matter_a.trust_pay_invoice(invoice.id)
        self.assertEqual(self.matter_a.trust_balance, 600.0)
        invoice.button_draft()
        self.assertEqual(invoice.amount_residual, 400.0)
        invoice.action_post()
        # Posted again, the invoice is paid by what trust already paid of it.
        self.assertEqual(invoice.amount_residual, 0.0)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        with self.assertRefused(UserError, "nothing left to pay"):
            self.matter_a.trust_pay_invoice(invoice.id)
        self.assertEqual(self.matter_a.trust_balance, 600.0)

    def test_the_link_to_the_invoice_paid_cannot_be_forged(self):
        self.matter_a.trust_deposit(1000.0)
        invoice = self._invoice(self.matter_a, 400.0)
        trust_move_id, operating_move_id = self.matter_a.trust_pay_invoice(invoice.id, 100.0)
        other = self._invoice(self.matter_a, 50.0)
        operating = self.env["account.move"].browse(operating_move_id)
        with self.assertRaises(UserError):
            operating.with_user(self.trust_manager).write({"legal_trust_paid_invoice_id": other.id})
        self.assertEqual(operating.legal_trust_paid_invoice_id, invoice)
