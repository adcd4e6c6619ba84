# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from datetime import timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .test_stripe_emulator_flows import CARD_OK, StripeEmulatorCase


@tagged("post_install", "-at_install")
class TestPaymentAuthorization(StripeEmulatorCase):
    """No stored payment method is charged without the client's authorization in force."""

    def setUp(self):
        super().setUp()
        customer = self.sdk.v1.customers.create({"name": "Client Ann"})
        card = self._card(CARD_OK)
        self.sdk.v1.payment_methods.attach(card.id, {"customer": customer.id})
        self.token = self.env["payment.token"].create(
            {
                "provider_id": self.stripe.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "partner_id": self.client_partner.id,
                "payment_details": "4242",
                "provider_ref": customer.id,
                "stripe_payment_method": card.id,
            }
        )

    def _authorization(self, **values):
        return self.env["legal.payment.authorization"].create(
            {
                "partner_id": self.client_partner.id,
                "token_id": self.token.id,
                "scope": "invoices",
                "max_amount": 1000.0,
                **values,
            }
        )

    def _charge(self, amount=None, reference="INV-AUTH-1"):
        tx = self._invoice_tx(
            token_id=self.token.id, operation="offline", amount=amount, reference=reference
        )
        tx._send_payment_request()
        return tx

    def test_charge_without_authorization_is_refused(self):
        with self.assertRaisesRegex(UserError, "no authorization to charge"):
            self._charge()
        self.assertEqual(self.invoice.payment_state, "not_paid")

    def test_awaiting_authorization_does_not_allow_charges(self):
        self._authorization()
        with self.assertRaisesRegex(UserError, "not confirmed"):
            self._charge()

    def test_accepted_authorization_records_consent_and_allows_the_charge(self):
        auth = self._authorization()
        # The client, signed in to the portal, accepts the consent text shown (a firm's user
        # never accepts for a client).
        client_user = new_test_user(self.env, login="auth_client_ann", groups="base.group_portal")
        client_user.partner_id.parent_id = self.client_partner
        consent = self.env["legal.payment.consent"]._legal_current(auth.company_id)
        auth.with_user(client_user)._legal_accept(
            ip_address="203.0.113.7", user_agent="Mozilla/5.0 (test)", consent=consent
        )
        self.assertEqual(auth.state, "active")
        self.assertEqual(auth.accepted_ip, "203.0.113.7")
        self.assertEqual(auth.accepted_by_id, client_user)
        self.assertEqual(auth.consent_source, "client")
        self.assertIn("Client Ann", auth.consent_text)
        self.assertIn(self.env.company.name, auth.consent_text)
        self.assertTrue(auth.consent_id)
        tx = self._charge()
        tx._post_process()
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.legal_authorization_id, auth)
        self.assertEqual(self.invoice.payment_state, "paid")

    def test_charge_above_the_maximum_is_refused(self):
        self._authorization(max_amount=100.0).with_user(SUPERUSER_ID)._legal_accept()
        with self.assertRaisesRegex(UserError, "at most"):
            self._charge()

    def test_revoked_authorization_blocks_the_charge(self):
        auth = self._authorization()
        auth.with_user(SUPERUSER_ID)._legal_accept()
        auth.action_revoke()
        with self.assertRaisesRegex(UserError, "revoked"):
            self._charge()

    def test_expired_authorization_blocks_the_charge(self):
        today = fields.Date.context_today(self.env.user)
        auth = self._authorization(date_end=today + timedelta(days=30))
        auth.with_user(SUPERUSER_ID)._legal_accept()
        with freeze_time(today + timedelta(days=31)):
            with self.assertRaisesRegex(UserError, "expired"):
                self._charge()
            auth._cron_expire()
        self.assertEqual(auth.state, "expired")

    def test_ended_authorization_cannot_be_accepted(self):
        today = fields.Date.context_today(self.env.user)
        auth = self._authorization(
            date_start=today - timedelta(days=30), date_end=today - timedelta(days=1)
        )
        with self.assertRaisesRegex(UserError, "expired"):
            auth.with_user(SUPERUSER_ID)._legal_accept()
        self.assertEqual(auth.state, "awaiting")

    def test_accepted_terms_are_frozen(self):
        auth = self._authorization()
        auth.with_user(SUPERUSER_ID)._legal_accept()
        with self.assertRaises(UserError):
            auth.max_amount = 5000.0
        with self.assertRaises(UserError):
            auth.consent_id.body = "Something else"

    def test_another_clients_token_cannot_be_authorized_nor_charged(self):
        other = self.env["res.partner"].create({"name": "Client Bob"})
        with self.assertRaisesRegex(ValidationError, "another client"):
            self._authorization(partner_id=other.id)
        other_invoice = self.init_invoice(
            "out_invoice", partner=other, amounts=[200.0], post=True, taxes=[]
        )
        tx = self._invoice_tx(
            invoice=other_invoice,
            token_id=self.token.id,
            operation="offline",
            reference="INV-AUTH-X",
            partner_id=other.id,
        )
        with self.assertRaisesRegex(UserError, "another client"):
            tx._send_payment_request()
