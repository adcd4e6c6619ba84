# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL


class PaymentToken(models.Model):
    """A client's stored payment method (card or US bank account), one of them the default."""

    _inherit = "payment.token"

    legal_commercial_partner_id = fields.Many2one(
        string="Client",
        comodel_name="res.partner",
        related="partner_id.commercial_partner_id",
        store=True,
        index=True,
    )
    legal_is_default = fields.Boolean(
        string="Default Payment Method",
        readonly=True,
        copy=False,
        help="Pre-selected in the client's payment forms. A client has at most one default.",
    )
    legal_authorization_ids = fields.One2many(
        string="Authorizations to Charge",
        comodel_name="legal.payment.authorization",
        inverse_name="token_id",
        readonly=True,
    )

    def init(self):
        """At most one active default payment method per client (commercial partner)."""
        res = super().init()
        self.env.cr.execute(
            SQL(
                "CREATE UNIQUE INDEX IF NOT EXISTS payment_token_legal_one_default_idx "
                "ON payment_token (legal_commercial_partner_id) "
                "WHERE legal_is_default AND active"
            )
        )
        return res

    # === CRUD === #

    def _handle_archiving(self):
        """Override of `payment`: a removed payment method is no longer the default, and the
        authorizations to charge it are revoked, with a message in their chatter."""
        res = super()._handle_archiving()
        self.legal_is_default = False
        authorizations = self.legal_authorization_ids.filtered(
            lambda a: a.state in ("awaiting", "active")
        )
        if authorizations:
            authorizations.action_revoke()
            for auth in authorizations:
                auth.message_post(
                    body=Markup("<p>%s</p>")
                    % _(
                        "Revoked: the payment method %s was removed.",
                        auth.token_id.display_name,
                    ),
                    subtype_xmlid="mail.mt_note",
                )
        return res

    # === BUSINESS METHODS === #

    @api.model
    def _legal_usable_by_domain(self, partner):
        """Return the domain of the stored payment methods ``partner`` may use: their own and
        their client's (commercial entity's), never those another contact of the client saved.

        The one rule for every page that lets a client pick a stored method (the payment
        method pages, authorizations, payment plan acceptance); it is Odoo's own rule for the
        methods a customer manages (`payment.token._get_available_tokens` in validation mode).

        :param partner: the `res.partner` of the person choosing
        :return: a search domain on `payment.token`
        :rtype: list
        """
        return [("partner_id", "in", [partner.id, partner.commercial_partner_id.id])]

    def _legal_lock_client_methods(self):
        """Lock the rows of every payment method of the client: two users choosing a default
        at once are served one after the other."""
        self.ensure_one()
        self.flush_model(["legal_is_default", "active", "legal_commercial_partner_id"])
        self.env.cr.execute(
            SQL(
                "SELECT id FROM payment_token WHERE legal_commercial_partner_id = %s "
                "ORDER BY id FOR NO KEY UPDATE",
                self.legal_commercial_partner_id.id,
            )
        )
        self.invalidate_model(["legal_is_default"])

    def action_legal_make_default(self):
        """Make this payment method the client's default (the previous default stops being it).

        :raise UserError: when the payment method was removed
        """
        self.ensure_one()
        if not self.active:
            raise UserError(_("A removed payment method cannot be the default."))
        self._legal_lock_client_methods()
        previous = (
            self.with_context(active_test=False)
            .sudo()
            .search(
                [
                    ("legal_commercial_partner_id", "=", self.legal_commercial_partner_id.id),
                    ("legal_is_default", "=", True),
                    ("id", "!=", self.id),
                ]
            )
        )
        previous.sudo().legal_is_default = False
        previous.flush_recordset(["legal_is_default"])
        self.sudo().legal_is_default = True
        self.flush_recordset(["legal_is_default"])
        return True

    def _get_available_tokens(self, *args, **kwargs):
        """Override of `payment` to list the client's default payment method first, so that
        the payment forms pre-select it."""
        tokens = super()._get_available_tokens(*args, **kwargs)
        return tokens.sorted(lambda token: not token.legal_is_default)
