"""mp4 files: frames in, H.264 (yuv420p, faststart) out, as browsers play them; and back, for checks."""

from __future__ import annotations

import os


def write_mp4(frames, path: str | os.PathLike, fps: int) -> None:
    """Write frames (F, H, W, 3), floats in [0, 1] or uint8, as H.264 (yuv420p) that browsers play."""
    import imageio.v2 as imageio
    import numpy as np

    frames = np.asarray(frames)
    if frames.dtype != np.uint8:  # NaN (e.g. random weights in half precision) becomes black, not garbage
        frames = (np.clip(np.nan_to_num(frames, nan=0.0), 0.0, 1.0) * 255).round().astype(np.uint8)
    # yuv420p needs even sides; macro_block_size=2 pads odd ones instead of resizing to multiples of 16.
    with imageio.get_writer(
        str(path), format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=2,
        quality=8, ffmpeg_log_level="error", ffmpeg_params=["-movflags", "+faststart"],
    ) as writer:
        for frame in frames:
            writer.append_data(frame)


def read_mp4(path: str | os.PathLike) -> tuple[list, dict]:
    """(decoded frames, metadata with 'codec', 'fps', 'size') of an mp4, through imageio-ffmpeg."""
    import imageio.v2 as imageio

    with imageio.get_reader(str(path), format="FFMPEG") as reader:
        meta = reader.get_meta_data()
        frames = [frame for frame in reader]
    return frames, meta
