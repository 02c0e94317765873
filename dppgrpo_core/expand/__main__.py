import sys

from dppgrpo_core.expand.command import main

sys.exit(main())
