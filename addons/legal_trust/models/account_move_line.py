from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..utils import trust_gate_passed

# Fields of the journal items of a posted trust entry that nobody may change afterwards
# (``trust_uncleared``: only the trust API, when a deposit clears). Reconciliation fields
# stay free: matching items with the bank is what happens to posted entries.
PROTECTED_TRUST_LINE_FIELDS = {
    "matter_id",
    "trust_uncleared",
    "account_id",
    "partner_id",
    "debit",
    "credit",
    "balance",
    "amount_currency",
    "currency_id",
    "date",
    "move_id",
    "company_id",
    "journal_id",
    "display_type",
    "tax_ids",
    "tax_line_id",
    "tax_repartition_line_id",
    "quantity",
    "price_unit",
}


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

    @api.model_create_multi
    def create(self, vals_list):
        """Nothing is added to a posted trust entry, ``check_move_validity`` or not."""
        move_ids = {vals["move_id"] for vals in vals_list if vals.get("move_id")}
        if move_ids:
            # Read from the cache for the entry being created: no query on the hot path.
            posted = (
                self.env["account.move"]
                .browse(move_ids)
                .filtered(lambda move: move.state == "posted")
            )
            if posted and not trust_gate_passed(posted):
                posted._legal_check_trust_immutable(_("edited"))
        return super().create(vals_list)

    def write(self, vals):
        if PROTECTED_TRUST_LINE_FIELDS.intersection(vals) and not (
            trust_gate_passed(self) or trust_gate_passed(self.move_id)
        ):
            self._legal_check_trust_line_immutable()
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_trust_entry(self):
        """Items of a posted trust entry are never deleted, ``force_delete`` or not."""
        self._legal_check_trust_line_immutable()

    def _legal_check_trust_line_immutable(self):
        """Refuse to change an item of a posted trust entry (any of its items).

        :raise UserError: naming the entries concerned
        """
        posted = self.filtered(
            lambda line: line.parent_state == "posted"
            and (line.matter_id or line.move_id._legal_is_trust_posting())
        )
        if posted:
            raise UserError(
                _(
                    "The items of a posted trust entry cannot be changed or deleted: reverse "
                    "the entry instead (%s).",
                    ", ".join(posted.move_id.mapped("display_name")),
                )
            )
