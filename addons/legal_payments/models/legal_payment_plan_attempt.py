# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import api, fields, models


class LegalPaymentPlanAttempt(models.Model):
    """One attempt to charge an instalment: unique per instalment and attempt number, it names
    the transaction whose reference makes the Stripe idempotency key, so that an attempt is
    never charged twice, whatever runs at once or is retried."""

    _name = "legal.payment.plan.attempt"
    _description = "Payment Plan Charge Attempt"
    _order = "instalment_id, attempt_number"
    _check_company_auto = True

    name = fields.Char(string="Reference", required=True, readonly=True, copy=False)
    instalment_id = fields.Many2one(
        string="Instalment",
        comodel_name="legal.payment.plan.instalment",
        required=True,
        index=True,
        readonly=True,
        ondelete="cascade",
    )
    plan_id = fields.Many2one(
        related="instalment_id.plan_id", store=True, index=True, string="Payment Plan"
    )
    company_id = fields.Many2one(related="instalment_id.company_id", store=True)
    currency_id = fields.Many2one(related="instalment_id.currency_id")
    attempt_number = fields.Integer(required=True, readonly=True)
    date = fields.Date(required=True, readonly=True, default=fields.Date.context_today)
    amount = fields.Monetary(readonly=True)
    transaction_id = fields.Many2one(
        string="Payment", comodel_name="payment.transaction", readonly=True, index="btree_not_null"
    )
    idempotency_key = fields.Char(
        readonly=True, copy=False, help="The key sent to the provider with this charge."
    )
    state = fields.Selection(
        selection=[
            ("sent", "Sent"),
            ("done", "Charged"),
            ("pending", "Processing"),
            ("declined", "Declined"),
            ("refused", "Refused: Not Authorized"),
            ("failed", "Not Sent"),
        ],
        required=True,
        default="sent",
        readonly=True,
    )
    reason = fields.Text(readonly=True)

    _sql_constraints = [
        (
            "instalment_attempt_uniq",
            "unique(instalment_id, attempt_number)",
            "This attempt of the instalment was already made.",
        ),
        ("name_uniq", "unique(name)", "This charge reference is already used."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get("name"):
                instalment = self.env["legal.payment.plan.instalment"].browse(vals["instalment_id"])
                vals["name"] = (
                    f"{instalment.plan_id.name}-{instalment.sequence}-{vals['attempt_number']}"
                )
        return super().create(vals_list)
