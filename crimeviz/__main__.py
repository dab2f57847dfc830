import sys

from crimeviz.cli import main

sys.exit(main())
