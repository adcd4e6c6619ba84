from odoo import _, api, models
from odoo.exceptions import ValidationError


class AccountPayment(models.Model):
    _inherit = "account.payment"

    @api.constrains("journal_id")
    def _check_not_trust_journal(self):
        """Client money in trust moves only through the matter's trust ledger."""
        for payment in self:
            if payment.journal_id.is_trust_account:
                raise ValidationError(
                    _(
                        "%(journal)s is a trust account: ordinary customer or vendor payments "
                        "cannot be recorded in it. Use the matter's trust deposit, "
                        "disbursement or invoice payment instead.",
                        journal=payment.journal_id.display_name,
                    )
                )
