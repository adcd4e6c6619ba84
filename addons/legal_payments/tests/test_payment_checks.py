# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import LegalPaymentsCommon


@tagged("post_install", "-at_install")
class TestPaymentChecks(LegalPaymentsCommon):
    def _check(
        self, provider=None, amount=100.0, currency=None, partner=None, invoices=None, matter=None
    ):
        self.env["payment.transaction"]._legal_check_payment_request(
            provider or self.stripe,
            amount,
            currency or self.currency,
            partner or self.client_partner,
            self.invoice if invoices is None else invoices,
            matter,
        )

    def test_partial_and_full_payments_of_the_residual_pass(self):
        self._check(amount=100.0)
        self._check(amount=500.0)

    def test_more_than_the_residual_is_refused(self):
        with self.assertRaises(ValidationError):
            self._check(amount=500.01)

    def test_zero_or_negative_amounts_are_refused(self):
        for amount in (0.0, -5.0):
            with self.assertRaises(ValidationError):
                self._check(amount=amount)

    def test_another_currency_is_refused(self):
        other = self.currency_euro if self.currency != self.currency_euro else self.currency_usd
        with self.assertRaises(ValidationError):
            self._check(currency=other)

    def test_another_partner_is_refused(self):
        with self.assertRaises(ValidationError):
            self._check(partner=self.partner)

    def test_an_invoice_through_a_trust_provider_is_refused(self):
        with self.assertRaises(ValidationError):
            self._check(provider=self.stripe_trust)

    def test_a_deposit_through_an_operating_provider_is_refused(self):
        with self.assertRaises(ValidationError):
            self._check(invoices=self.env["account.move"], matter=self.matter)

    def test_a_deposit_through_a_trust_provider_for_the_client_passes(self):
        self._check(
            provider=self.stripe_trust,
            invoices=self.env["account.move"],
            matter=self.matter,
            amount=2500.0,
        )

    def test_a_deposit_for_another_clients_matter_is_refused(self):
        with self.assertRaises(ValidationError):
            self._check(
                provider=self.stripe_trust,
                invoices=self.env["account.move"],
                matter=self.matter,
                partner=self.partner,
            )

    def test_trust_providers_are_offered_for_deposits_only(self):
        Provider = self.env["payment.provider"].sudo()
        args = (self.env.company.id, self.client_partner.id, 100.0)
        kwargs = {"currency_id": self.currency.id}
        invoice_providers = Provider._get_compatible_providers(*args, **kwargs)
        self.assertIn(self.stripe, invoice_providers)
        self.assertNotIn(self.stripe_trust, invoice_providers)
        deposit_providers = Provider.with_context(
            legal_trust_deposit=True
        )._get_compatible_providers(*args, **kwargs)
        self.assertIn(self.stripe_trust, deposit_providers)
        self.assertNotIn(self.stripe, deposit_providers)


@tagged("post_install", "-at_install")
class TestPayNow(LegalPaymentsCommon):
    def test_invoice_email_has_a_pay_now_link_with_the_access_token(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        template = self.env.ref("account.email_template_edi_invoice")
        body = template._render_field("body_html", self.invoice.ids)[self.invoice.id]
        self.assertIn("Pay Now", body)
        self.assertIn(f"access_token={self.invoice.access_token}", body)
        self.assertIn("payment=True", body)
        self.assertIn("#portal_pay", body)

    def test_paid_invoice_email_has_no_pay_now_link(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        self.env["account.payment.register"].with_context(
            active_model="account.move",
            active_ids=self.invoice.ids,
        ).create({})._create_payments()
        template = self.env.ref("account.email_template_edi_invoice")
        body = template._render_field("body_html", self.invoice.ids)[self.invoice.id]
        self.assertNotIn("Pay Now", body)
