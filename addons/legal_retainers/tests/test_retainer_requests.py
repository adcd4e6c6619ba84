from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, tagged

from odoo.addons.legal_trust.models.legal_matter import LegalMatter as TrustMatter

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

    def test_status_cannot_be_set_by_hand(self):
        request = self.matter_a.action_request_retainer()
        for user in (self.trust_user, self.env.user):
            with self.assertRaisesRegex(AccessError, "cannot be set by hand"):
                request.with_user(user).write({"state": "paid"})
        self.assertEqual((request.state, request.amount_paid), ("sent", 0.0))
        # Cancelling, as the firm does, still works.
        request.with_user(self.trust_user).action_cancel()
        self.assertEqual(request.state, "cancelled")

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
        self.matter_a.user_id = self.trust_user
        request = self.matter_a.action_request_retainer()
        for amount in (400.0, 100.0):
            self._pay(request, amount)
            note = self.env["mail.message"].search(
                [("model", "=", "legal.matter"), ("res_id", "=", self.matter_a.id)],
                order="id desc",
                limit=1,
            )
            self.assertIn(f"{amount:.2f}", note.body)
            self.assertIn(request.name, note.body)
            self.assertEqual(note.notified_partner_ids, self.trust_user.partner_id)
            self.assertNotIn(self.client_a, note.notified_partner_ids, "an internal note")
        notifications = self.env["mail.notification"].search(
            [
                ("res_partner_id", "=", self.trust_user.partner_id.id),
                ("mail_message_id.body", "ilike", request.name),
            ]
        )
        self.assertEqual(len(notifications), 2)
        self.assertEqual(set(notifications.mapped("notification_type")), {"email"})

    def test_payment_completing_after_cancellation_is_held_in_trust_and_noted(self):
        request = self.matter_a.action_request_retainer()
        tx = self._pay(request, 300.0, cleared=False)  # a bank debit still processing
        with self.assertRaises(UserError):
            request.action_cancel()
        tx._set_done()  # the bank debit settles
        tx._post_process()
        self.assertEqual(self.matter_a.trust_available, 300.0)
        request.action_cancel()
        with self.assertRaises(UserError):
            request._retainer_check_payable(10.0, request.currency_id)
        # A payment the client started before the cancellation completes afterwards.
        late = self.env["payment.transaction"].create(
            {
                "provider_id": self.trust_provider.id,
                "payment_method_id": self.demo_method.id,
                "amount": 200.0,
                "currency_id": request.currency_id.id,
                "partner_id": request.partner_id.id,
                "reference": f"{request.name}-late",
                "operation": "online_direct",
                "legal_matter_id": self.matter_a.id,
                "legal_retainer_request_id": request.id,
            }
        )
        late._set_done()
        late._post_process()
        self.assertEqual((request.state, request.amount_paid), ("cancelled", 500.0))
        self.assertEqual(self.matter_a.trust_available, 500.0)
        self.assertTrue(
            request.message_ids.filtered(lambda m: "held in trust" in m.body and "200.00" in m.body)
        )

    def test_create_online_wizard_requests_another_amount_by_a_date(self):
        self._pay(self.matter_a.action_request_retainer(), 1000.0)
        due = fields.Date.add(fields.Date.today(), days=10)
        wizard = Form(
            self.env["legal.retainer.request.wizard"].with_context(
                default_matter_id=self.matter_a.id
            )
        )
        self.assertEqual(wizard.initial_remaining, 0.0)
        wizard.mode = "other"
        wizard.amount = 2500.0
        wizard.due_date = due
        action = wizard.save().action_create()
        request = self.env["legal.retainer.request"].browse(action["res_id"])
        self.assertEqual(
            (request.kind, request.amount, request.due_date, request.state),
            ("other", 2500.0, due, "sent"),
        )

    def test_closed_matter_or_disabled_retainers_take_no_request(self):
        self.matter_b.retainer_enabled = False
        with self.assertRaises(UserError):
            self.matter_b.action_request_retainer(amount=100.0)
        with self.assertRaises(UserError):
            self.env["legal.retainer.request"].create(
                {"matter_id": self.matter_b.id, "amount": 100.0}
            )
        self.matter_a.action_close()
        with self.assertRaises(UserError):
            self.matter_a.action_request_retainer()

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

    def test_auto_applied_trust_is_not_applied_again_when_the_invoice_is_posted_again(self):
        self.matter_a.write(
            {
                "retainer_auto_apply": True,
                "retainer_engagement_consent": "Engagement letter, clause 4",
            }
        )
        self._pay(self.matter_a.action_request_retainer(), 1000.0)
        invoice = self._invoice(self.matter_a, 700.0)
        self.assertEqual(self.matter_a.trust_balance, 300.0)
        invoice.button_draft()
        invoice.action_post()
        self.assertEqual(invoice.amount_residual, 0.0)
        self.assertEqual(self.matter_a.trust_balance, 300.0)
        applied = self.env["account.move"].search(
            [("legal_trust_paid_invoice_id", "=", invoice.id), ("state", "=", "posted")]
        )
        self.assertEqual(len(applied), 1, "trust was applied once")

    def test_auto_apply_runs_the_topup_check_after_paying(self):
        self.matter_a.write(
            {
                "retainer_auto_apply": True,
                "retainer_engagement_consent": "Engagement letter, clause 4",
            }
        )
        self._pay(self.matter_a.action_request_retainer(), 1000.0)
        self.matter_a.retainer_auto_topup = True
        self._invoice(self.matter_a, 800.0)
        topup = self.matter_a.retainer_request_ids.filtered(lambda r: r.kind == "topup")
        self.assertEqual((topup.amount, topup.state), (300.0, "sent"))

    def test_auto_apply_failure_still_posts_the_invoice(self):
        self.matter_a.write(
            {
                "retainer_auto_apply": True,
                "retainer_engagement_consent": "Engagement letter, clause 4",
            }
        )
        self._pay(self.matter_a.action_request_retainer(), 1000.0)

        def refuse(matter, *args, **kwargs):
            raise UserError("the trust journal is reconciled for this period")  # pylint: disable=translation-required

        with patch.object(TrustMatter, "trust_pay_invoice", refuse):
            invoice = self._invoice(self.matter_a, 700.0)
        self.assertEqual((invoice.state, invoice.payment_state), ("posted", "not_paid"))
        self.assertTrue(invoice.message_ids.filtered(lambda m: "not applied" in m.body))
        self.assertEqual(self.matter_a.trust_available, 1000.0)

    def test_unpaid_initial_request_follows_the_initial_amount(self):
        request = self.matter_a.action_request_retainer()
        self.matter_a.retainer_initial_amount = 1500.0
        self.assertEqual((request.amount, request.amount_due), (1500.0, 1500.0))
        self.matter_a.retainer_initial_amount = 0.0
        self.assertEqual(request.state, "cancelled")

    def test_retainer_settings_are_checked(self):
        with self.assertRaises(UserError):
            self.matter_a.write({"retainer_topup_trigger": 600.0})
        with self.assertRaises(UserError):
            self.matter_a.write({"retainer_minimum_balance": -1.0})

    def test_demo_matter_has_a_partially_paid_initial_retainer(self):
        request = self.env.ref(
            "legal_retainers.retainer_request_ellis_initial", raise_if_not_found=False
        )
        if not request:
            self.skipTest("installed without demo data")
        request = request.sudo()  # of the main company, not the test company
        self.assertEqual(
            (request.state, request.amount_paid, request.amount_due), ("partial", 900.0, 100.0)
        )
        matter = request.matter_id
        self.assertTrue(matter.retainer_enabled)
        self.assertEqual(matter.action_request_retainer(), request)
        with self.assertRaises(UserError):
            matter.write({"retainer_initial_amount": 2000.0})

    def test_requests_of_another_company_are_invisible(self):
        other_company = self.env["res.company"].create({"name": "Other Firm"})
        other_matter = self.env["legal.matter"].create(
            {
                "title": "Elsewhere",
                "partner_id": self.client_b.id,
                "company_id": other_company.id,
                "user_id": False,
                "retainer_enabled": True,
            }
        )
        other = self.env["legal.retainer.request"].create(
            {"matter_id": other_matter.id, "amount": 100.0}
        )
        mine = self.matter_a.action_request_retainer()
        Request = self.env["legal.retainer.request"].with_user(self.trust_user)
        self.assertIn(mine, Request.search([]))
        self.assertNotIn(other, Request.search([]))
        with self.assertRaises(AccessError):
            other.with_user(self.trust_user).read(["amount_due"])
