# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Legal Trust Accounting",
    "summary": "Matters, client trust ledgers on Odoo's accounting engine, "
    "no overdraft, three-way reconciliation",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/odoo-legal-payments/odoo-legal-payments",
    "author": "Odoo Legal Payments",
    "license": "LGPL-3",
    "depends": ["account"],
    "data": [
        "security/legal_trust_security.xml",
        "security/ir.model.access.csv",
        "data/ir_sequence.xml",
        "views/legal_matter_views.xml",
        "views/legal_trust_reconciliation_views.xml",
        "views/account_views.xml",
        "views/wizard_views.xml",
        "views/portal_templates.xml",
        "report/trust_reports.xml",
        "views/menus.xml",
    ],
    "demo": ["demo/legal_trust_demo.xml"],
    "assets": {
        "web.assets_tests": ["legal_trust/static/tests/tours/**/*"],
    },
    "post_init_hook": "post_init_hook",
    "installable": True,
    "application": True,
}
