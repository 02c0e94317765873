import sys

from dppgrpo_core.video.command import main

sys.exit(main())
