"""`python -m waestyle` (and `torchrun -m waestyle`) runs the CLI."""

import sys

from waestyle.cli.main import main

sys.exit(main())
