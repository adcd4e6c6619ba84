/** @odoo-module */

import { registry } from "@web/core/registry";

// Starts at the Pay Now link printed on the invoice PDF (an invoice of 1,234.56).
registry.category("web_tour.tours").add("legal_payments_pay_now_from_pdf", {
    steps: () => [
        {
            content: "The link opens the payment dialog of the invoice, with its amount due",
            trigger: "#pay_with .modal-body:contains('1,234.56')",
        },
        {
            content: "The payment form offers the demo provider",
            trigger: "#pay_with #o_payment_form input[name=o_payment_radio][data-payment-method-code=demo]",
            run: "click",
        },
        {
            content: "Card details (test data)",
            trigger: "#pay_with input[name=customer_input]",
            run: "edit 4242424242424242",
        },
        {
            content: "Pay",
            trigger: "#pay_with button[name=o_payment_submit_button]",
            run: "click",
        },
        {
            content: "The payment went through",
            trigger: "body:contains('Your payment has been successfully processed')",
        },
    ],
});
