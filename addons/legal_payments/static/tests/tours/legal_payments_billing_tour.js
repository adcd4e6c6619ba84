/** @odoo-module */

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("legal_payments_billing_statement_instalment", {
    steps: () => [
        {
            content: "The billing page shows what the client owes",
            trigger: ".o_legal_billing .o_legal_balance_owed:contains('900.00')",
        },
        {
            content: "Trust money is shown apart, never netted against what is owed",
            trigger: ".o_legal_billing_trust_row:contains('250.00')",
        },
        {
            content: "Download the statement of account with the page's own form (as the browser does)",
            trigger: ".o_legal_billing_statement form",
            async run() {
                const form = document.querySelector(".o_legal_billing_statement form");
                const response = await fetch(form.action, {
                    method: "POST",
                    body: new FormData(form),
                    credentials: "same-origin",
                });
                const type = response.headers.get("Content-Type") || "";
                const disposition = response.headers.get("Content-Disposition") || "";
                const body = new TextDecoder().decode(await response.arrayBuffer());
                // A PDF; under Odoo's test mode reports render as HTML (no wkhtmltopdf run),
                // the same statement.
                const isStatement = type.includes("application/pdf")
                    ? body.startsWith("%PDF-")
                    : body.includes("Statement of Account") && body.includes("Closing balance");
                if (!response.ok || !disposition.includes("attachment") || !isStatement) {
                    throw new Error(`statement download failed: ${response.status} ${type}`);
                }
                document.body.classList.add("o_legal_statement_downloaded");
            },
        },
        {
            content: "The statement was downloaded",
            trigger: "body.o_legal_statement_downloaded",
        },
        {
            content: "The next instalment of the payment plan: pay it now",
            trigger: ".o_legal_billing_next_instalment a.o_legal_billing_pay_instalment",
            run: "click",
        },
        {
            content: "The saved payment method is offered first: choose another method",
            trigger: "button[name=o_payment_expand_button]",
            run: "click",
        },
        {
            content: "Choose the demo provider",
            trigger: "input[name=o_payment_radio][data-payment-method-code=demo]",
            run: "click",
        },
        {
            content: "Card details (test data)",
            trigger: "input[name=customer_input]",
            run: "edit 4242424242424242",
        },
        {
            content: "Pay",
            trigger: "button[name=o_payment_submit_button]",
            run: "click",
        },
        {
            content: "Back on the plan: the first instalment is paid",
            trigger: ".o_plan_schedule tr.o_plan_instalment:first-child:contains('Paid')",
        },
    ],
});
