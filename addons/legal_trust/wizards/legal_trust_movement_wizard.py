from odoo import _, api, fields, models

MOVEMENTS = [
    ("deposit", "Deposit to Trust"),
    ("disburse", "Disburse from Trust"),
    ("transfer", "Transfer to Another Matter"),
    ("pay_invoice", "Pay Invoice from Trust"),
]


class LegalTrustMovementWizard(models.TransientModel):
    """One form for every trust movement; the rules live in ``legal.matter``."""

    _name = "legal.trust.movement.wizard"
    _description = "Trust Movement"
    _check_company_auto = True

    movement = fields.Selection(MOVEMENTS, required=True, default="deposit")
    matter_id = fields.Many2one("legal.matter", required=True, check_company=True)
    company_id = fields.Many2one(related="matter_id.company_id")
    currency_id = fields.Many2one(related="matter_id.currency_id")
    partner_id = fields.Many2one(related="matter_id.partner_id", string="Client")
    trust_available = fields.Monetary(related="matter_id.trust_available")
    amount = fields.Monetary(required=True)
    date = fields.Date(required=True, default=fields.Date.context_today)
    memo = fields.Char()
    journal_id = fields.Many2one(
        "account.journal",
        string="Trust Bank",
        check_company=True,
        domain="[('is_trust_account', '=', True), ('company_id', '=', company_id)]",
    )
    cleared = fields.Boolean(
        default=True, help="Untick for funds still clearing: they cannot be spent yet."
    )
    payee_partner_id = fields.Many2one("res.partner", string="Payee")
    to_matter_id = fields.Many2one(
        "legal.matter",
        string="To Matter",
        check_company=True,
        domain="[('commercial_partner_id', '=', commercial_partner_id), "
        "('id', '!=', matter_id), ('state', '=', 'open')]",
    )
    commercial_partner_id = fields.Many2one(related="matter_id.commercial_partner_id")
    invoice_id = fields.Many2one(
        "account.move",
        string="Invoice",
        check_company=True,
        domain="[('move_type', '=', 'out_invoice'), ('state', '=', 'posted'), "
        "('payment_state', 'in', ('not_paid', 'partial')), "
        "('commercial_partner_id', '=', commercial_partner_id), "
        "('matter_id', 'in', (matter_id, False))]",
    )
    invoice_residual = fields.Monetary(related="invoice_id.amount_residual")

    @api.onchange("invoice_id")
    def _onchange_invoice_id(self):
        if self.invoice_id:
            self.amount = min(self.invoice_id.amount_residual, self.matter_id.trust_available)

    @api.onchange("journal_id", "matter_id")
    def _onchange_default_journal(self):
        if not self.journal_id and self.matter_id:
            self.journal_id = self.matter_id.company_id._legal_trust_journals()[:1]

    def action_confirm(self):
        """Post the movement through the matter's trust API and open what was posted."""
        self.ensure_one()
        matter = self.matter_id
        if self.movement == "deposit":
            move_ids = [
                matter.trust_deposit(
                    self.amount, self.journal_id.id, self.date, self.memo, cleared=self.cleared
                )
            ]
        elif self.movement == "disburse":
            move_ids = [
                matter.trust_disburse(
                    self.amount, self.payee_partner_id.id, self.journal_id.id, self.date, self.memo
                )
            ]
        elif self.movement == "transfer":
            move_ids = [
                matter.trust_transfer(self.to_matter_id.id, self.amount, self.memo, date=self.date)
            ]
        else:
            move_ids = matter.trust_pay_invoice(self.invoice_id.id, self.amount, date=self.date)
        action = {
            "type": "ir.actions.act_window",
            "name": _("Trust Entries"),
            "res_model": "account.move",
            "target": "current",
        }
        if len(move_ids) == 1:
            return {
                **action,
                "view_mode": "form",
                "views": [(False, "form")],
                "res_id": move_ids[0],
            }
        return {
            **action,
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": [("id", "in", move_ids)],
        }
