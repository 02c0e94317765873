"""Rendering: one video per prompt (prompts, seeds, settings -> mp4 paths), cached by content hash.

    from dppgrpo_core.video import RenderSettings, render_videos
    results = render_videos(["a dog surfing"], seeds=0, model="tiny-random-wan", cache_dir="/tmp/cache")

The parts: `options.py` (`RenderSettings`, jobs and results, prompt and seed checks), `mp4.py`,
`backends.py` (a backend per model family behind one interface, and the command backend),
`render.py` (`render_videos`: cache, batching, retries), `command.py` (`python -m dppgrpo_core.video`).
"""

from dppgrpo_core.video.backends import enabled_models, load_backend, model_for_client
from dppgrpo_core.video.command import check_out_folder
from dppgrpo_core.video.mp4 import read_mp4, write_mp4
from dppgrpo_core.video.options import (
           RenderSettings,
           VideoResult,
           parse_seeds,
           seed_list,
)
from dppgrpo_core.video.render import render_videos, scrub_notes, video_key, videos_dir

__all__ = ["enabled_models", "load_backend", "model_for_client", "check_out_folder", "read_mp4",
           "write_mp4", "RenderSettings", "VideoResult", "parse_seeds", "seed_list", "render_videos", "scrub_notes",
           "video_key", "videos_dir"]
