"""The retainer request lifecycle paid by card through the trust Stripe provider, against
the Stripe emulator (localstripe, started by the root conftest.py), and its webhooks."""

from odoo.tests import tagged

from odoo.addons.legal_payments.tests.common import LegalPaymentsCommon, recorded_card_payment
from odoo.addons.legal_payments.tests.test_stripe_emulator_flows import (
    CARD_DECLINED,
    CARD_OK,
    StripeEmulatorCase,
)

from .common import TRUST_SECRET


@tagged("post_install", "-at_install")
class TestRetainerStripeEmulator(StripeEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.matter.write(
            {
                "retainer_enabled": True,
                "retainer_initial_amount": 1000.0,
                "retainer_minimum_balance": 500.0,
                "retainer_topup_trigger": 300.0,
            }
        )

    def _pay_request_by_card(self, request, amount, reference, card=CARD_OK):
        request._retainer_check_payable(amount, request.currency_id)
        tx = self._deposit_tx(
            amount=amount, reference=reference, legal_retainer_request_id=request.id
        )
        self._return_route(tx, self._customer_pays(tx, card))
        return tx

    # ------------------------------------------------------------------ tests
    def test_retainer_request_lifecycle_by_card(self):
        request = self.matter.action_request_retainer()
        self.assertEqual((request.state, request.amount_due), ("sent", 1000.0))
        declined = self._pay_request_by_card(request, 900.0, "RET-TX-0", CARD_DECLINED)
        self.assertEqual(declined.state, "error")
        self.assertEqual((request.state, request.amount_paid), ("sent", 0.0))
        self._pay_request_by_card(request, 900.0, "RET-TX-1")
        self.assertEqual((request.state, request.amount_due), ("partial", 100.0))
        self.assertEqual(self.matter.trust_balance, 900.0)
        self.assertEqual(self.matter.action_request_retainer(), request)
        tx = self._pay_request_by_card(request, 100.0, "RET-TX-2")
        self.assertEqual(request.state, "paid")
        self.assertEqual(self.matter.trust_balance, 1000.0)
        # The status poll again: nothing more is credited.
        tx._post_process()
        self.assertEqual(self.matter.trust_balance, 1000.0)
        self.assertEqual(request.amount_paid, 1000.0)


@tagged("post_install", "-at_install")
class TestRetainerWebhooks(LegalPaymentsCommon):
    """Signed webhooks of the trust provider paying a retainer request (recorded Stripe
    objects for the fee lookup: the emulator has no balance transactions)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.matter.write({"retainer_enabled": True, "retainer_initial_amount": 1000.0})

    def test_two_webhooks_for_one_payment_credit_the_request_once(self):
        request = self.matter.action_request_retainer()
        request._retainer_check_payable(600.0, request.currency_id)
        tx = self._deposit_tx(
            amount=600.0, reference="RET-WH-1", legal_retainer_request_id=request.id
        )
        intent = self._payment_intent(tx, pi_id="pi_ret_1")
        with self.recorded_stripe(recorded_card_payment(pi_id="pi_ret_1", amount=60000)):
            for event_id in ("evt_ret_1", "evt_ret_1", "evt_ret_1_redelivered"):
                self._receive_and_process(
                    self._event("payment_intent.succeeded", intent, event_id=event_id),
                    secret=TRUST_SECRET,
                )
        self.matter.invalidate_recordset()
        self.assertEqual(tx.state, "done")
        self.assertEqual((request.state, request.amount_paid), ("partial", 600.0))
        self.assertEqual(self.matter.trust_balance, 600.0)
        notes = self.env["mail.message"].search(
            [
                ("model", "=", "legal.matter"),
                ("res_id", "=", self.matter.id),
                ("body", "ilike", request.name),
            ]
        )
        self.assertEqual(len(notes), 1, "one notification of the lawyer per payment")
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search([("email_to", "ilike", "lawyer@example.com"), ("subject", "ilike", "received")])
        )
        self.assertFalse(mails, "the retainer notification replaces the generic one")

    def test_bank_debit_counts_while_clearing_and_a_failure_reopens_the_request(self):
        request = self.matter.action_request_retainer()
        tx = self._deposit_tx(
            amount=1000.0, reference="RET-ACH-1", legal_retainer_request_id=request.id
        )
        processing = self._payment_intent(
            tx, status="processing", pi_id="pi_ret_ach", pm_type="us_bank_account"
        )
        self._receive_and_process(
            self._event("payment_intent.processing", processing, event_id="evt_ret_ach_p"),
            secret=TRUST_SECRET,
        )
        self.matter.invalidate_recordset()
        self.assertEqual(tx.state, "pending")
        self.assertEqual((request.state, request.amount_due), ("paid", 0.0))
        self.assertEqual((self.matter.trust_balance, self.matter.trust_available), (1000.0, 0.0))
        note = self.env["mail.message"].search(
            [("model", "=", "legal.matter"), ("res_id", "=", self.matter.id)],
            order="id desc",
            limit=1,
        )
        self.assertIn("once it clears", note.body)
        failed = dict(
            processing,
            status="requires_payment_method",
            last_payment_error={"message": "Insufficient funds"},
        )
        self._receive_and_process(
            self._event("payment_intent.payment_failed", failed, event_id="evt_ret_ach_f"),
            secret=TRUST_SECRET,
        )
        self.matter.invalidate_recordset()
        self.assertEqual(tx.state, "error")
        self.assertEqual((request.state, request.amount_due), ("sent", 1000.0))
        self.assertEqual(self.matter.trust_balance, 0.0)
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search([("email_to", "ilike", "lawyer@example.com"), ("subject", "ilike", "failed")])
        )
        self.assertEqual(len(mails), 1, "the lawyer is told of the failed bank payment")
        # The client can pay again.
        request._retainer_check_payable(1000.0, request.currency_id)
