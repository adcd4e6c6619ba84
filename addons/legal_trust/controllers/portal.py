from odoo import _, http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager


class LegalMatterPortal(CustomerPortal):
    """A client's matters and their trust ledgers, read-only."""

    _matters_per_page = 20

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "matter_count" in counters:
            Matter = request.env["legal.matter"]
            values["matter_count"] = Matter.search_count([]) if Matter.has_access("read") else 0
        return values

    @http.route(
        ["/my/matters", "/my/matters/page/<int:page>"], type="http", auth="user", website=True
    )
    def portal_my_matters(self, page=1, **kw):
        Matter = request.env["legal.matter"]
        total = Matter.search_count([])
        pager = portal_pager(url="/my/matters", total=total, page=page, step=self._matters_per_page)
        matters = Matter.search(
            [], order="name desc", limit=self._matters_per_page, offset=pager["offset"]
        )
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "matters": matters,
                "pager": pager,
                "page_name": "matter",
                "default_url": "/my/matters",
            }
        )
        return request.render("legal_trust.portal_my_matters", values)

    @http.route(["/my/matters/<int:matter_id>"], type="http", auth="public", website=True)
    def portal_my_matter(self, matter_id, access_token=None, **kw):
        try:
            matter = self._document_check_access("legal.matter", matter_id, access_token)
        except (AccessError, MissingError):
            return request.redirect("/my")
        values = self._get_page_view_values(
            matter,
            access_token,
            {"matter": matter, "ledger": matter._trust_ledger(), "page_name": "matter"},
            "my_matters_history",
            False,
        )
        values["title"] = _("Trust ledger")
        return request.render("legal_trust.portal_my_matter", values)
