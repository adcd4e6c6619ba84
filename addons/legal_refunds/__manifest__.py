# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
{
    "name": "Legal Refunds",
    "summary": "Client refund wizard over credit notes, unallocated payments and trust "
    "balances, refunding through the payment provider",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "website": "https://github.com/odoo-legal-payments/odoo-legal-payments",
    "author": "Odoo Legal Payments",
    "license": "LGPL-3",
    "depends": ["legal_payments", "mail"],
    "data": [
        "security/legal_refunds_security.xml",
        "security/ir.model.access.csv",
        "data/ir_sequence.xml",
        "report/legal_refund_report.xml",
        "data/mail_template.xml",
        "views/legal_refund_views.xml",
        "wizards/legal_refund_wizard_views.xml",
        "views/res_partner_views.xml",
        "views/legal_matter_views.xml",
        "views/account_move_views.xml",
        "views/menus.xml",
    ],
    "demo": ["demo/legal_refunds_demo.xml"],
    "installable": True,
}
