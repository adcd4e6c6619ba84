/** @odoo-module */

import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("legal_payments_pay_now_from_email", {
    steps: () => [
        {
            content: "The Pay Now link opens the payment dialog: choose the demo provider",
            trigger: "#pay_with input[name=o_payment_radio][data-payment-method-code=demo]",
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
