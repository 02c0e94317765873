import sys

from dppgrpo_core.study.command import main

sys.exit(main())
