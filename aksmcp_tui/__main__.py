import sys

from aksmcp_tui.cli import main

sys.exit(main())
