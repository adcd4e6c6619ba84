from odoo import _, fields, models
from odoo.exceptions import UserError

# Fields of a posted trust journal item that only the trust API may change.
PROTECTED_TRUST_LINE_FIELDS = {"matter_id", "trust_uncleared", "account_id", "partner_id"}


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    matter_id = fields.Many2one(
        "legal.matter",
        string="Matter",
        index="btree_not_null",
        ondelete="restrict",
        check_company=True,
        help="Matter whose client trust ledger this trust liability item belongs to.",
    )
    trust_uncleared = fields.Boolean(
        string="Uncleared",
        copy=True,
        help="A trust deposit whose funds have not cleared yet (e.g. a bank debit still "
        "processing): it counts in the matter's trust balance but cannot be spent.",
    )

    def init(self):
        res = super().init()
        # Partial covering indexes over the trust ledger: the gate's per-matter sum and
        # the as-of-date aggregates read them with index-only scans.
        self.env.cr.execute(
            """
            CREATE INDEX IF NOT EXISTS account_move_line_legal_trust_matter_idx
                ON account_move_line (matter_id, account_id)
                INCLUDE (balance, trust_uncleared, date)
                WHERE matter_id IS NOT NULL AND parent_state = 'posted';
            CREATE INDEX IF NOT EXISTS account_move_line_legal_trust_date_idx
                ON account_move_line (account_id, date)
                INCLUDE (matter_id, balance, trust_uncleared)
                WHERE matter_id IS NOT NULL AND parent_state = 'posted';
            """
        )
        return res

    def write(self, vals):
        if PROTECTED_TRUST_LINE_FIELDS.intersection(vals) and not self.env.context.get(
            "legal_trust_gate"
        ):
            posted = self.filtered(lambda line: line.parent_state == "posted" and line.matter_id)
            if posted:
                raise UserError(
                    _(
                        "Posted trust ledger items cannot be edited: reverse the entry "
                        "instead (%s).",
                        ", ".join(posted.move_id.mapped("display_name")),
                    )
                )
        return super().write(vals)
