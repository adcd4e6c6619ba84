# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import http
from odoo.http import request

from odoo.addons.payment_stripe.controllers.main import StripeController


class LegalStripeController(StripeController):
    @http.route(
        StripeController._webhook_url, type="http", methods=["POST"], auth="public", csrf=False
    )
    def stripe_webhook(self):
        """Override of `payment_stripe`: verify, store in the inbox, acknowledge at once.

        The event is processed later by the inbox cron, under row locks. Answers 200 for a
        stored, duplicate or ignored event; 400 for a bad signature; 503 when no webhook
        secret is configured (fail closed: Stripe retries later).
        """
        status = (
            request.env["legal.stripe.event"]
            .sudo()
            ._legal_receive(
                request.httprequest.get_data(),
                request.httprequest.headers.get("Stripe-Signature"),
            )
        )
        return request.make_json_response({"received": status == 200}, status=status)
