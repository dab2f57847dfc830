import sys

from crimeviz.cli.main import main

sys.exit(main())
