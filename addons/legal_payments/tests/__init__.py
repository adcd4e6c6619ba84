from . import test_stripe_api_base
