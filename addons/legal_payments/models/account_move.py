# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from werkzeug.urls import url_join

from odoo import models


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
