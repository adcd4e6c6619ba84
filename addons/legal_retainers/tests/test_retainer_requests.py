from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import LegalRetainersCommon


@tagged("post_install", "-at_install")
class TestRetainerRequests(LegalRetainersCommon):
    def test_create_online_sends_the_initial_retainer_with_a_pay_link(self):
        request = self.matter_a.action_request_retainer()
        self.assertEqual((request.kind, request.amount, request.state), ("initial", 1000.0, "sent"))
        mail = self.env["mail.message"].search(
            [
                ("model", "=", request._name),
                ("res_id", "=", request.id),
                ("body", "ilike", "Pay Now"),
            ],
            limit=1,
        )
        self.assertIn(request.get_portal_url(), str(mail.body))
        self.assertIn(self.client_a.id, mail.partner_ids.ids)

    def test_pays_900_then_create_online_asks_for_the_remaining_100(self):
        request = self.matter_a.action_request_retainer()
        self._pay(request, 900.0)
        self.assertEqual(
            (request.state, request.amount_paid, request.amount_due), ("partial", 900.0, 100.0)
        )
        self.assertEqual(self.matter_a.trust_balance, 900.0)
        with self.assertRaises(UserError):
            self.matter_a.write({"retainer_initial_amount": 1500.0})
        again = self.matter_a.action_request_retainer()
        self.assertEqual(again, request)
        self.assertEqual(again.amount_due, 100.0)
        self._pay(again, 100.0)
        self.assertEqual(request.state, "paid")
        self.assertEqual(self.matter_a.trust_balance, 1000.0)
        with self.assertRaises(UserError):
            self.matter_a.action_request_retainer()
        other = self.matter_a.action_request_retainer(amount=250.0)
        self.assertEqual((other.kind, other.amount), ("other", 250.0))

    def test_payment_is_never_above_due_cancelled_or_in_another_currency(self):
        request = self.matter_a.action_request_retainer()
        with self.assertRaises(UserError):
            request._retainer_check_payable(1000.01, request.currency_id)
        with self.assertRaises(UserError):
            request._retainer_check_payable(0.0, request.currency_id)
        other_currency = (
            self.env.ref("base.EUR")
            if request.currency_id.name != "EUR"
            else (self.env.ref("base.USD"))
        )
        with self.assertRaises(UserError):
            request._retainer_check_payable(10.0, other_currency)
        request.action_cancel()
        with self.assertRaises(UserError):
            request._retainer_check_payable(10.0, request.currency_id)
        self.assertEqual(self.matter_a.trust_balance, 0.0)

    def test_operating_provider_cannot_take_a_retainer(self):
        request = self.matter_a.action_request_retainer()
        operating = self.trust_provider.sudo().copy(
            {"name": "Operating (demo)", "journal_id": self.operating_journal.id, "state": "test"}
        )
        with self.assertRaises(Exception) as caught:
            self.env["payment.transaction"]._legal_check_payment_request(
                operating,
                100.0,
                request.currency_id,
                request.partner_id,
                self.env["account.move"],
                request.matter_id,
            )
        self.assertIn("trust", str(caught.exception))

    def test_uncleared_bank_payment_counts_as_paid_not_available_and_failure_reopens(self):
        request = self.matter_a.action_request_retainer()
        tx = self._pay(request, 1000.0, cleared=False)
        self.assertEqual(request.state, "paid")
        self.assertEqual(
            (self.matter_a.trust_balance, self.matter_a.trust_available), (1000.0, 0.0)
        )
        tx._legal_reverse_trust_deposit()
        self.assertEqual((request.state, request.amount_due), ("sent", 1000.0))
        self.assertEqual(self.matter_a.trust_balance, 0.0)

    def test_lawyer_is_told_of_each_payment(self):
        request = self.matter_a.action_request_retainer()
        self._pay(request, 400.0)
        note = self.env["mail.message"].search(
            [("model", "=", "legal.matter"), ("res_id", "=", self.matter_a.id)],
            order="id desc",
            limit=1,
        )
        self.assertIn("400.00", note.body)
        self.assertIn(self.matter_a.user_id.partner_id, note.partner_ids)

    def test_auto_apply_needs_the_clients_engagement_and_pays_invoices(self):
        with self.assertRaises(UserError):
            self.matter_a.write({"retainer_auto_apply": True})
        self.matter_a.write(
            {
                "retainer_auto_apply": True,
                "retainer_engagement_consent": "Engagement letter, clause 4",
            }
        )
        self._pay(self.matter_a.action_request_retainer(), 1000.0)
        invoice = self._invoice(self.matter_a, 700.0)
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(self.matter_a.trust_balance, 300.0)
        bigger = self._invoice(self.matter_a, 500.0)
        self.assertEqual((bigger.payment_state, bigger.amount_residual), ("partial", 200.0))
        self.assertEqual(self.matter_a.trust_available, 0.0)

    def test_retainer_settings_are_checked(self):
        with self.assertRaises(UserError):
            self.matter_a.write({"retainer_topup_trigger": 600.0})
        with self.assertRaises(UserError):
            self.matter_a.write({"retainer_minimum_balance": -1.0})
