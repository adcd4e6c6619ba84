# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class LegalTrustReconciliationReopen(models.TransientModel):
    _name = "legal.trust.reconciliation.reopen"
    _description = "Reopen a Trust Reconciliation"

    reconciliation_id = fields.Many2one("legal.trust.reconciliation", required=True)
    reason = fields.Text(required=True, help="Kept in the reconciliation's chatter.")

    def action_confirm(self):
        """Reopen the reconciliation (the model checks the role and the reason)."""
        self.ensure_one()
        self.reconciliation_id.action_reopen(self.reason)
        return {"type": "ir.actions.act_window_close"}
