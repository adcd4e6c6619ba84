from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        """Override of `legal_trust`: apply available trust funds to the posted invoices of
        matters set to auto-apply (with the client's recorded engagement)."""
        posted = super()._post(soft=soft)
        for invoice in posted.filtered(
            lambda m: m.move_type == "out_invoice"
            and m.matter_id.retainer_auto_apply
            and m.matter_id.retainer_engagement_consent
            and m.matter_id.state == "open"
        ):
            matter = invoice.matter_id.sudo()
            amount = min(invoice.amount_residual, matter.trust_available)
            if matter.currency_id.compare_amounts(amount, 0) > 0:
                matter.trust_pay_invoice(invoice.id, amount=amount)
        return posted
