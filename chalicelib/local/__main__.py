"""`python -m chalicelib.local [--demo] [--no-api]`: the whole of ShopDesk on this machine, in the foreground."""
from __future__ import annotations

import sys

from chalicelib.local.stack import main

sys.exit(main())
