# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, api, models
from odoo.exceptions import ValidationError


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    def _legal_stripe_role(self):
        """The role of a Stripe provider for the firm.

        :return: ``"trust"`` when it pays into a trust journal, ``"operating"`` for any other
            Stripe provider (the firm's own money), ``False`` for other providers
        :rtype: str | bool
        """
        self.ensure_one()
        if self.code != "stripe":
            return False
        return "trust" if self.legal_is_trust else "operating"

    @api.constrains("state", "stripe_webhook_secret", "code")
    def _check_legal_live_webhook_secret(self):
        """A trust or operating Stripe provider goes live only with its webhook signing secret:
        without it, Stripe's notifications (payments, refunds, disputes, payouts) are refused
        and nothing would be booked.

        :raise ValidationError: a trust or operating Stripe provider enabled without secret
        """
        for provider in self.sudo():
            if (
                provider.code == "stripe"
                and provider.state == "enabled"
                and not provider.stripe_webhook_secret
                and provider._legal_stripe_role()
            ):
                raise ValidationError(
                    _(
                        "Enter the webhook signing secret of %s before enabling it: without "
                        "it, Stripe's notifications of payments, refunds, disputes and payouts "
                        "are refused.",
                        provider.name,
                    )
                )
