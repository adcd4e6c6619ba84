# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from werkzeug.urls import url_join

from odoo import models

from .. import const, utils


class AccountMove(models.Model):
    _inherit = "account.move"

    def _legal_pay_now_url(self):
        """Return the absolute Pay Now link of the invoice, or False if it cannot be paid.

        The link opens the portal invoice with its access token and the payment dialog.

        :rtype: str | bool
        """
        self.ensure_one()
        if not self._has_to_be_paid():
            return False
        return url_join(
            self.get_base_url(),
            self.get_portal_url(anchor="portal_pay", query_string="&payment=True"),
        )

    def _legal_pay_now_document_values(self):
        """Return what the printed invoice shows to be paid online, or False.

        The invoice PDF carries the same Pay Now link as the invoice e-mail (the portal
        invoice with its access token and the payment dialog), its QR code and the amount due,
        only for a posted customer invoice that is neither paid, in payment, reversed nor
        cancelled, when portal payment is on and a published operating provider (enabled or in
        test mode) can take its amount in its currency.

        :return: dict with ``url``, ``qr_src`` (Odoo's barcode service), ``amount`` and
            ``currency``; False when nothing is to be printed
        :rtype: dict | bool
        """
        self.ensure_one()
        move = self.sudo()
        if (
            move.move_type != "out_invoice"
            or move.state != "posted"
            or move.payment_state in const.PAY_NOW_SETTLED_PAYMENT_STATES
            or move.currency_id.is_zero(move.amount_residual)
        ):
            return False
        url = move._legal_pay_now_url()
        if not url or not move._legal_online_payment_available():
            return False
        return {
            "url": url,
            "qr_src": utils.pay_now_qr_src(url),
            "amount": move.amount_residual,
            "currency": move.currency_id,
        }

    def _legal_online_payment_available(self):
        """Whether a client can pay this invoice online: a published operating provider,
        enabled or in test mode, accepts its company, client, amount due and currency.

        :rtype: bool
        """
        self.ensure_one()
        return self.env["payment.provider"]._legal_online_payment_possible(
            self.company_id, self.partner_id, self.amount_residual, self.currency_id
        )
