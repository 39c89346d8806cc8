import sys

from nixtest_tui.cli import main

sys.exit(main())
