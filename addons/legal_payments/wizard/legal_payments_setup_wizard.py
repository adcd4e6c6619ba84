# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, fields, models


class LegalPaymentsSetupWizard(models.TransientModel):
    """Set a company up for Legal Payments from the keys of its two Stripe accounts."""

    _name = "legal.payments.setup.wizard"
    _description = "Set up Legal Payments"

    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, default=lambda self: self.env.company
    )
    trust_publishable_key = fields.Char(help="pk_test_… or pk_live_… of the trust Stripe account")
    trust_secret_key = fields.Char(help="sk_test_… or sk_live_… of the trust Stripe account")
    trust_webhook_secret = fields.Char(
        string="Trust Webhook Signing Secret",
        help="whsec_… of the webhook endpoint registered in the trust Stripe account",
    )
    operating_publishable_key = fields.Char(
        help="pk_test_… or pk_live_… of the firm's operating Stripe account",
    )
    operating_secret_key = fields.Char(
        help="sk_test_… or sk_live_… of the firm's operating Stripe account",
    )
    operating_webhook_secret = fields.Char(
        string="Operating Webhook Signing Secret",
        help="whsec_… of the webhook endpoint registered in the operating Stripe account",
    )

    def action_apply(self):
        """Create or update the journals and the two Stripe providers of the company.

        :return: a client action reloading the settings page
        :raise AccessError: when the user is not an accounting manager of the company
        :raise UserError: on missing, malformed or mixed-up keys (nothing is changed)
        """
        self.ensure_one()
        company = self.company_id
        company._legal_setup_check_access()
        company._legal_setup_stripe(
            {
                "publishable": self.trust_publishable_key,
                "secret": self.trust_secret_key,
                "webhook": self.trust_webhook_secret,
            },
            {
                "publishable": self.operating_publishable_key,
                "secret": self.operating_secret_key,
                "webhook": self.operating_webhook_secret,
            },
        )
        # The keys now live on the providers only, not in this wizard's table.
        self.write(
            {
                "trust_secret_key": False,
                "trust_webhook_secret": False,
                "operating_secret_key": False,
                "operating_webhook_secret": False,
            }
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Legal Payments is set up"),
                "message": _("Check the list in the Legal Payments settings."),
                "type": "success",
                "next": {"type": "ir.actions.client", "tag": "soft_reload"},
            },
        }
