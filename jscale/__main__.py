import sys

from jscale.cli import main

sys.exit(main())
