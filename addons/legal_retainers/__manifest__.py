# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Legal Retainers",
    "summary": "Retainer requests paid online into trust, partial payments, evergreen top-ups",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/odoo-legal-payments/odoo-legal-payments",
    "author": "Odoo Legal Payments",
    "license": "LGPL-3",
    "depends": ["legal_payments"],
    "data": [
        "security/ir.model.access.csv",
        "security/legal_retainers_security.xml",
        "data/ir_sequence.xml",
        "data/mail_template.xml",
        "data/ir_cron.xml",
        "views/legal_retainer_request_views.xml",
        "views/legal_matter_views.xml",
        "views/portal_templates.xml",
        "wizards/legal_retainer_request_wizard_views.xml",
        "report/legal_retainer_request_report.xml",
    ],
    "demo": ["demo/legal_retainers_demo.xml"],
    "assets": {
        "web.assets_tests": ["legal_retainers/static/tests/tours/**/*"],
    },
    "installable": True,
}
