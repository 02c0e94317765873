"""DPP-GRPO core: settings and checks, `sets` (PromptSet), `maths/`, `models/`, `expand/`, `video/`, `study/`.

Never imports Gradio: the app in `pages/` is one client of this package among several
(the command lines in `dppgrpo_core`, `training/` and `eval/`).
"""

__version__ = "0.1.0"
