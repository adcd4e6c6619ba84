# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import uuid

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tools import format_amount

from .. import const


class LegalRefundWizard(models.TransientModel):
    """Choose the client, see every amount owed to it, select and refund."""

    _name = "legal.refund.wizard"
    _description = "Client Refund Wizard"
    _check_company_auto = True

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    partner_id = fields.Many2one(
        "res.partner",
        string="Client",
        required=True,
        check_company=True,
        domain="[('parent_id', '=', False)]",
    )
    matter_id = fields.Many2one(
        "legal.matter",
        string="Matter",
        check_company=True,
        domain="[('commercial_partner_id', '=', partner_id)]",
        help="A matter being closed: its trust balance is listed.",
    )
    method = fields.Selection(const.REFUND_METHODS, required=True, default="provider")
    journal_id = fields.Many2one(
        "account.journal",
        string="Operating Bank Journal",
        check_company=True,
        domain="[('type', 'in', ('bank', 'cash')), ('is_trust_account', '=', False)]",
    )
    trust_journal_id = fields.Many2one(
        "account.journal",
        string="Trust Bank Journal",
        check_company=True,
        domain="[('is_trust_account', '=', True)]",
    )
    cheque_number = fields.Char()
    date = fields.Date(required=True, default=fields.Date.context_today)
    memo = fields.Char()
    send_advice = fields.Boolean(string="Send Refund Advice", default=True)
    close_matter = fields.Boolean(
        help="Close the matter once its trust balance is refunded in full."
    )
    idempotency_key = fields.Char(default=lambda self: uuid.uuid4().hex, readonly=True)
    line_ids = fields.One2many(
        "legal.refund.wizard.line",
        "wizard_id",
        compute="_compute_line_ids",
        store=True,
        readonly=False,
        string="Amounts Owed",
        compute_sudo=False,
    )
    amount_total = fields.Monetary(compute="_compute_amount_total", string="Total to Refund")

    @api.depends("partner_id", "matter_id", "company_id")
    def _compute_line_ids(self):
        Refund = self.env["legal.refund"]
        for wizard in self:
            commands = [Command.clear()]
            if wizard.partner_id:
                owed = Refund._legal_owed(
                    wizard.partner_id, wizard.company_id, wizard.matter_id or None
                )
                commands += [
                    Command.create(
                        {
                            "kind": item["kind"],
                            "source_line_id": item["source_line_id"],
                            "matter_id": item["matter_id"] if item["kind"] == "trust" else False,
                            "available": item["available"],
                            "description": item["description"],
                            "date": item["date"],
                            "source_transaction_id": item["source_transaction_id"],
                            "amount": item["available"],
                            "selected": bool(wizard.matter_id) and item["kind"] == "trust",
                        }
                    )
                    for item in owed
                ]
            wizard.line_ids = commands

    @api.depends("line_ids.selected", "line_ids.amount")
    def _compute_amount_total(self):
        for wizard in self:
            wizard.amount_total = sum(wizard.line_ids.filtered("selected").mapped("amount"))

    @api.onchange("matter_id")
    def _onchange_matter_id(self):
        if self.matter_id:
            self.partner_id = self.matter_id.commercial_partner_id

    def _legal_check(self):
        """The wizard's limits: something selected, positive amounts, at most what is
        listed as owed. The model re-checks everything under its locks.

        :raise UserError: with what is wrong
        """
        self.ensure_one()
        selected = self.line_ids.filtered("selected")
        if not selected:
            raise UserError(_("Select at least one amount owed to refund."))
        if self.method == "cheque" and not (self.cheque_number or "").strip():
            raise UserError(_("Enter the number of the cheque sent to the client."))
        for line in selected:
            if self.currency_id.compare_amounts(line.amount, 0) <= 0:
                raise UserError(_("The amount to refund must be positive (%s).", line.description))
            if self.currency_id.compare_amounts(line.amount, line.available) > 0:
                raise UserError(
                    _(
                        "%(what)s: at most %(available)s can be refunded, not %(amount)s.",
                        what=line.description,
                        available=format_amount(self.env, line.available, self.currency_id),
                        amount=format_amount(self.env, line.amount, self.currency_id),
                    )
                )
        return selected

    def _legal_refund_values(self, selected):
        self.ensure_one()
        return {
            "partner_id": self.partner_id.id,
            "company_id": self.company_id.id,
            "matter_id": self.matter_id.id,
            "method": self.method,
            "journal_id": self.journal_id.id,
            "trust_journal_id": self.trust_journal_id.id,
            "cheque_number": self.cheque_number,
            "date": self.date,
            "memo": self.memo,
            "idempotency_key": self.idempotency_key,
            "line_ids": [
                Command.create(
                    {
                        "kind": line.kind,
                        "source_line_id": line.source_line_id.id,
                        "matter_id": line.matter_id.id,
                        "amount": line.amount,
                        "description": line.description,
                        "source_transaction_id": line.source_transaction_id.id
                        if self.method == "provider"
                        else False,
                    }
                )
                for line in selected
            ],
        }

    def action_refund(self):
        """Create the refund and pay it back; open it."""
        self.ensure_one()
        selected = self._legal_check()
        refund = (
            self.env["legal.refund"]
            .with_context(legal_refund_no_advice=not self.send_advice)
            .create(self._legal_refund_values(selected))
        )
        refund.action_confirm()
        if self.close_matter and self.matter_id:
            self.matter_id.action_close()
        return {
            "type": "ir.actions.act_window",
            "res_model": "legal.refund",
            "res_id": refund.id,
            "view_mode": "form",
            "target": "current",
        }


class LegalRefundWizardLine(models.TransientModel):
    _name = "legal.refund.wizard.line"
    _description = "Client Refund Wizard Line"

    wizard_id = fields.Many2one("legal.refund.wizard", required=True, ondelete="cascade")
    currency_id = fields.Many2one(related="wizard_id.currency_id")
    selected = fields.Boolean(string="Refund")
    kind = fields.Selection(const.LINE_KINDS, required=True, readonly=True)
    description = fields.Char(readonly=True)
    date = fields.Date(readonly=True)
    source_line_id = fields.Many2one("account.move.line", readonly=True)
    matter_id = fields.Many2one("legal.matter", readonly=True)
    source_transaction_id = fields.Many2one(
        "payment.transaction", string="Original Payment", readonly=True
    )
    available = fields.Monetary(string="Owed", readonly=True)
    amount = fields.Monetary(string="To Refund")
