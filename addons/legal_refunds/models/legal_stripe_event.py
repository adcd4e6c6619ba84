# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, models


class LegalStripeEvent(models.Model):
    _inherit = "legal.stripe.event"

    def _legal_process_refund_failed(self, event, refund):
        """``refund.failed`` / ``refund.updated``: the refund object's new status, applied to
        its refund transaction (a failure reverses the client refund's entries).

        Like every other event, the event is first linked to the provider whose webhook secret
        verified it: an event of another Stripe account changes nothing. The refund object is
        then checked against the refund transaction (id, payment refunded, amount, currency).
        """
        tx = (
            self.env["payment.transaction"]
            .sudo()
            .search(
                [
                    ("provider_reference", "=", refund["id"]),
                    ("provider_code", "=", "stripe"),
                    ("operation", "=", "refund"),
                ],
                limit=1,
            )
        )
        if not tx:
            return "deferred", _("Waiting for the refund transaction to be created.")
        if not self._legal_link_transaction(tx):
            # Signed with the webhook secret of another Stripe account than the refund's: it
            # must not fail that account's refund (and reverse a trust disbursement).
            return "ignored", _("Signed for another Stripe account than the transaction's.")
        tx._legal_lock()
        data = {"reference": tx.reference, "refund": refund}
        refused = self._legal_refuse_mismatch(tx, data)
        if refused:
            return refused
        tx._handle_notification_data("stripe", data)
        return "done", False

    _legal_process_refund_updated = _legal_process_refund_failed
