/** @odoo-module */

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("legal_trust_deposit_and_refused_overdraft", {
    url: "/odoo/action-legal_trust.action_legal_matter",
    steps: () => [
        {
            content: "Open the matter",
            trigger: ".o_data_row td:contains('Tour matter: deposit')",
            run: "click",
        },
        {
            content: "Deposit to trust",
            trigger: "button[name=action_trust_deposit]",
            run: "click",
        },
        {
            content: "Amount received",
            trigger: ".modal div[name=amount] input",
            run: "edit 250",
        },
        {
            content: "Memo",
            trigger: ".modal div[name=memo] input",
            run: "edit Cheque 1042",
        },
        {
            content: "Post the deposit",
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        {
            content: "The posted trust entry is shown",
            trigger: ".o_form_view:contains('Cheque 1042')",
        },
        {
            content: "Back to the matter",
            trigger: ".o_breadcrumb a:contains('Tour matter: deposit')",
            run: "click",
        },
        {
            content: "Disburse",
            trigger: "button[name=action_trust_disburse]",
            run: "click",
        },
        {
            content: "Payee",
            trigger: ".modal div[name=payee_partner_id] input",
            run: "edit Tour Payee",
        },
        {
            content: "Pick the payee",
            trigger: ".ui-autocomplete a:contains('Tour Payee')",
            run: "click",
        },
        {
            content: "More than the matter holds",
            trigger: ".modal div[name=amount] input",
            run: "edit 300",
        },
        {
            content: "Try to post",
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        {
            content: "The overdraft is refused with the amount available",
            trigger: ".modal:contains('overdraft refused'):contains('250.00')",
        },
    ],
});
