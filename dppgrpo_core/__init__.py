"""DPP-GRPO core: settings, embedder, DPP math and rewards, policy, expansion, video, annotations.

Never imports Gradio: the app in `pages/` is one client of this package among several
(the command lines in `dppgrpo_core`, `training/` and `eval/`).
"""

__version__ = "0.1.0"
