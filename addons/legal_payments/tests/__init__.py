from . import test_payment_flows
from . import test_stripe_api_base
from . import test_webhook
