"""Rendering speed of full-size Wan2.1-T2V-1.3B on one CUDA GPU: K videos batched against one by one.

    python benchmarks/bench_render_gpu.py                          # 480x832, 81 frames, 40 steps, guidance 6, K=4
    python benchmarks/bench_render_gpu.py --steps 10 --frames 33   # a quicker look
    python benchmarks/bench_render_gpu.py --vae-slicing --json out.json

The Hub is out of reach on the benchmark machines, so the transformer, the VAE and the UMT5-XXL
text encoder are built from their published configs (embedded below, copied from
Wan-AI/Wan2.1-T2V-1.3B-Diffusers) with random weights: the same architecture costs the same
compute, whatever the weights. The text is tokenised by a byte-level tokenizer built in code;
Wan pads every prompt to 512 tokens, so the encoder does the same work as with the real one.

It renders K prompts through `dppgrpo_core.video.render_videos` (mp4 writing included) twice,
into fresh cache folders: one prompt per pipeline call, then all K in one call (halved
automatically on out-of-memory; the batches that ran are printed). It reports seconds per
video, videos per hour and peak GPU memory of each, and the batched/sequential speed ratio.
On a machine without CUDA it exits with status 2 and says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

# Published configs of Wan-AI/Wan2.1-T2V-1.3B-Diffusers (transformer/, vae/, text_encoder/, scheduler/).
WAN_1_3B_TRANSFORMER = {
    "patch_size": [1, 2, 2], "num_attention_heads": 12, "attention_head_dim": 128, "in_channels": 16,
    "out_channels": 16, "text_dim": 4096, "freq_dim": 256, "ffn_dim": 8960, "num_layers": 30,
    "cross_attn_norm": True, "qk_norm": "rms_norm_across_heads", "eps": 1e-6, "image_dim": None,
    "added_kv_proj_dim": None, "rope_max_seq_len": 1024,
}
WAN_VAE = {
    "base_dim": 96, "z_dim": 16, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_scales": [],
    "temperal_downsample": [False, True, True], "dropout": 0.0,
    "latents_mean": [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508, 0.4134, -0.0715,
                     0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921],
    "latents_std": [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743, 3.2687, 2.1526, 2.8652,
                    1.5579, 1.6382, 1.1253, 2.8251, 1.916],
}
UMT5_XXL_ENCODER = {
    "vocab_size": 256384, "d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24, "num_heads": 64,
    "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128, "dropout_rate": 0.1,
    "layer_norm_epsilon": 1e-6, "feed_forward_proj": "gated-gelu", "scalable_attention": True,
    "tie_word_embeddings": False, "pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0,
}
WAN_SCHEDULER = {
    "num_train_timesteps": 1000, "prediction_type": "flow_prediction", "use_flow_sigmas": True, "flow_shift": 3.0,
    "solver_order": 2, "solver_type": "bh2", "predict_x0": True, "lower_order_final": True,
    "final_sigmas_type": "zero", "timestep_spacing": "linspace",
}

PROMPTS = [
    "A golden retriever sprints along a misty beach at dawn, waves breaking behind it, tracking shot.",
    "Close-up of a dog's paws splashing through shallow tide pools, slow motion, soft backlight.",
    "Aerial view of a small dog chasing a red ball across wet sand, long shadows at sunset.",
    "A puppy tumbles over a sand dune in a gusty wind, handheld camera, overcast afternoon.",
    "A dog leaps to catch a frisbee above the surf, freeze-frame feel, vivid midday colours.",
    "An old dog naps under a beach umbrella while children build sandcastles, static wide shot.",
    "Two dogs tug at a piece of driftwood at the water's edge, low angle, golden hour.",
    "A wet dog shakes off seawater in a burst of droplets, macro detail, bright sunlight.",
]


def build_random_wan(dtype):
    """WanPipeline with the 1.3B architecture and random weights, built on the GPU (no download)."""
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    from dppgrpo_core.models.tiny import byte_level_tokenizer

    torch.manual_seed(0)
    with torch.device("cuda"):
        transformer = WanTransformer3DModel(**WAN_1_3B_TRANSFORMER).to(dtype)
        vae = AutoencoderKLWan(**WAN_VAE).to(torch.float32)  # the model card keeps the VAE in float32
        text_encoder = UMT5EncoderModel._from_config(UMT5Config(**UMT5_XXL_ENCODER), dtype=dtype)
    return WanPipeline(tokenizer=byte_level_tokenizer(), text_encoder=text_encoder.eval(), vae=vae,
                       transformer=transformer.eval(), scheduler=UniPCMultistepScheduler(**WAN_SCHEDULER))


def main(argv=None) -> int:
    """0, or 2 with one `error:` line on stderr for a bad flag or a machine without a CUDA GPU."""
    from dppgrpo_core.cli import run_main

    return run_main(_main, argv)


def _main(argv) -> int:
    from dppgrpo_core.cli import ArgumentParser, real, whole
    from dppgrpo_core.video import RenderSettings

    ranges = RenderSettings.RANGES
    p = ArgumentParser(prog="python benchmarks/bench_render_gpu.py", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--k", type=whole(1, len(PROMPTS)), default=4,
                   help="videos per set (batched together in the batched run)")
    p.add_argument("--steps", type=whole(*ranges["steps"]), default=40)
    p.add_argument("--frames", type=whole(*ranges["frames"]), default=81)
    p.add_argument("--height", type=whole(*ranges["height"]), default=480)
    p.add_argument("--width", type=whole(*ranges["width"]), default=832)
    p.add_argument("--guidance", type=real(*ranges["guidance"]), default=6.0)
    p.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16"])
    p.add_argument("--vae-slicing", action="store_true", help="decode one video of a batch at a time")
    p.add_argument("--vae-tiling", action="store_true")
    p.add_argument("--json", default=None, help="also write the figures to this file")
    args = p.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print("error: bench_render_gpu.py needs a CUDA GPU (torch sees none here); it measures full-size Wan2.1 "
              "rendering, which would take hours per video on CPU.", file=sys.stderr)
        return 2
    if not 1 <= args.k <= len(PROMPTS):
        print(f"error: --k must be between 1 and {len(PROMPTS)}", file=sys.stderr)
        return 2
    from tqdm.auto import tqdm

    from dppgrpo_core.video import RenderSettings, render_videos
    from dppgrpo_core.video.backends import DiffusersBackend

    dtype = getattr(torch, args.dtype)
    batches: list[int] = []

    class RandomWeightsWan(DiffusersBackend):
        def _load(self, dtype_name):
            return build_random_wan(dtype)

        def render(self, jobs, settings, on_step):
            batches.append(len(jobs))
            super().render(jobs, settings, on_step)

    backend = RandomWeightsWan("wan", "random-weights-Wan2.1-T2V-1.3B")
    base = RenderSettings(steps=args.steps, frames=args.frames, height=args.height, width=args.width,
                          guidance=args.guidance, dtype=args.dtype, vae_slicing=args.vae_slicing,
                          vae_tiling=args.vae_tiling)
    prompts = PROMPTS[:args.k]
    device = "cuda"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        # Warm-up: load the models, then one short render so kernels and allocator caches are ready.
        render_videos(prompts[:1], 0, render_settings=dataclasses.replace(base, steps=2), cache_dir=f"{tmp}/warm",
                      device=device, backend=backend)
        load_s = time.perf_counter() - start
        figures = {}
        for mode, batch_size in (("sequential", 1), ("batched", args.k)):
            batches.clear()
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            with tqdm(total=args.k, desc=mode, unit="video") as bar:
                t0 = time.perf_counter()
                results = render_videos(prompts, 0, render_settings=dataclasses.replace(base, batch_size=batch_size),
                                        cache_dir=f"{tmp}/{mode}", device=device, backend=backend,
                                        on_result=lambda r: bar.update(1))
                torch.cuda.synchronize()
                seconds = time.perf_counter() - t0
            failed = [r.error for r in results if r.error]
            if failed:
                print(f"error: {len(failed)} videos failed in the {mode} run: {failed[0]}", file=sys.stderr)
                return 1
            figures[mode] = {
                "seconds_per_video": seconds / args.k,
                "videos_per_hour": 3600 * args.k / seconds,
                "peak_gpu_memory_gib": torch.cuda.max_memory_allocated() / 2**30,
                "pipeline_calls": list(batches),
            }
    ratio = figures["batched"]["videos_per_hour"] / figures["sequential"]["videos_per_hour"]
    report = {
        "gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "python": platform.python_version(),
        "settings": {k: getattr(args, k) for k in ("k", "steps", "frames", "height", "width", "guidance", "dtype",
                                                   "vae_slicing", "vae_tiling")},
        "load_and_warmup_s": load_s, **figures, "batched_over_sequential_speed": ratio,
    }
    print(f"\n{report['gpu']}, torch {report['torch']}: Wan2.1-T2V-1.3B (random weights), "
          f"{args.height}x{args.width}, {args.frames} frames, {args.steps} steps, guidance {args.guidance}, "
          f"{args.dtype}; model build + warm-up {load_s:.0f} s")
    print("| mode | s / video | videos / hour | peak GPU memory | pipeline calls (videos each) |")
    print("|---|---|---|---|---|")
    for mode, f in figures.items():
        print(f"| {mode} | {f['seconds_per_video']:.1f} | {f['videos_per_hour']:.1f} | "
              f"{f['peak_gpu_memory_gib']:.1f} GiB | {f['pipeline_calls']} |")
    print(f"batched / sequential speed (K={args.k}, same run): {ratio:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
