# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .. import const

# Namespace of the transaction-level advisory locks taken per client ("LGST").
_RATE_LOCK_NAMESPACE = 0x4C475354


class LegalPortalRequest(models.Model):
    """A statement a client downloaded or had e-mailed from the portal: the rows counted by
    the rate limit, kept a day."""

    _name = "legal.portal.request"
    _description = "Client Portal Statement Request"
    _order = "id desc"

    partner_id = fields.Many2one(
        string="Client", comodel_name="res.partner", required=True, index=True, readonly=True
    )
    kind = fields.Selection(
        selection=[("statement", "Statement of Account")], required=True, readonly=True
    )

    @api.model
    def _legal_check_and_count(self, client, kind="statement"):
        """Count one request of ``client`` (a commercial partner), or refuse it when the client
        made `const.STATEMENT_RATE_LIMIT` within the last
        `const.STATEMENT_RATE_WINDOW_MINUTES` minutes.

        The client's requests are serialized by a transaction-level advisory lock, so that the
        count holds across workers and concurrent requests.

        :param client: the commercial `res.partner`
        :param str kind: what is requested
        :raise UserError: when the limit is reached; nothing is counted
        """
        self.env.cr.execute(
            SQL("SELECT pg_advisory_xact_lock(%s, %s)", _RATE_LOCK_NAMESPACE, client.id)
        )
        # The database's clock, as `create_date` is: the same on every worker.
        since = self.env.cr.now() - timedelta(minutes=const.STATEMENT_RATE_WINDOW_MINUTES)
        Request = self.sudo()
        count = Request.search_count(
            [("partner_id", "=", client.id), ("kind", "=", kind), ("create_date", ">=", since)]
        )
        if count >= const.STATEMENT_RATE_LIMIT:
            raise UserError(
                _(
                    "You asked for %(limit)s statements in the last %(minutes)s minutes: please "
                    "wait a few minutes before asking for another one.",
                    limit=const.STATEMENT_RATE_LIMIT,
                    minutes=const.STATEMENT_RATE_WINDOW_MINUTES,
                )
            )
        Request.create({"partner_id": client.id, "kind": kind})
        # Counted before the PDF is made: visible to the next request once committed.
        Request.flush_model()

    @api.autovacuum
    def _gc_requests(self):
        """Forget the requests older than a day."""
        self.sudo().search(
            [("create_date", "<", fields.Datetime.now() - timedelta(days=1))]
        ).unlink()
