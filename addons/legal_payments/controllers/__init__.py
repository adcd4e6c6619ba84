from . import main
from . import portal
from . import payment_plan
