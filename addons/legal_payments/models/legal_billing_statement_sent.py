# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import fields, models


class LegalBillingStatementSent(models.Model):
    """One statement of account queued for a client: who, which period, how, which e-mail.

    A monthly statement is unique per client, company and period: the monthly job inserts
    its row first and queues the e-mail only when the row is new, so that running it twice
    (or twice at once) for the same month sends one statement.
    """

    _name = "legal.billing.statement.sent"
    _description = "Statement of Account Sent"
    _order = "create_date desc, id desc"
    _check_company_auto = True

    partner_id = fields.Many2one(
        "res.partner", string="Client", required=True, index=True, ondelete="cascade"
    )
    company_id = fields.Many2one("res.company", required=True, index=True)
    date_from = fields.Date(string="From", required=True)
    date_to = fields.Date(string="To", required=True)
    kind = fields.Selection(
        [
            ("monthly", "Monthly statement"),
            ("batch", "Sent by the firm"),
            ("portal", "Requested by the client"),
        ],
        required=True,
    )
    mail_id = fields.Many2one("mail.mail", string="E-mail", ondelete="set null", readonly=True)
    email_to = fields.Char(string="Sent to", readonly=True)

    def init(self):
        res = super().init()
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS legal_billing_statement_sent_monthly_uniq
                ON legal_billing_statement_sent (partner_id, company_id, date_from, date_to)
             WHERE kind = 'monthly'
            """
        )
        return res
