# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import models

from .. import const


class PaymentProvider(models.Model):
    _inherit = "payment.provider"

    def _stripe_make_request(
        self, endpoint, payload=None, method="POST", offline=False, idempotency_key=None
    ):
        """Override of `payment_stripe` to send the refund's idempotency key.

        A refund request made by a client refund carries its key in the context: a request
        retried (network error, a web request retried after a serialization failure) gets
        Stripe's first answer back instead of refunding twice.
        """
        key = self.env.context.get(const.IDEMPOTENCY_CONTEXT_KEY)
        if key and not idempotency_key and method == "POST" and endpoint == "refunds":
            idempotency_key = key
        return super()._stripe_make_request(
            endpoint,
            payload=payload,
            method=method,
            offline=offline,
            idempotency_key=idempotency_key,
        )
