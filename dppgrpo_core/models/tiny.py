"""Tiny random video pipelines, built from configs with no download: the plumbing check.

    >>> pipe = tiny_wan_pipeline()                 # WanPipeline, 2-layer transformer, tiny VAE
    >>> pipe("a dog", height=16, width=16, num_frames=9, num_inference_steps=2).frames.shape
    (1, 9, 16, 16, 3)

The component sizes follow diffusers' own fast tests (tests/pipelines/wan/test_wan.py,
tests/pipelines/cogvideo/test_cogvideox.py). Those load a tiny T5 from the Hub; here the
text encoder is a tiny T5EncoderModel built from a config and the tokenizer is a byte-level
tokenizer built in code (every UTF-8 byte is a token), so any prompt encodes offline.
Weights are seeded, so the same pipeline renders the same pixels in every process.
"""

from __future__ import annotations

import torch

TEXT_DIM = 32  # tiny T5 hidden size; the tiny transformers' text_dim must match it
MAX_SEQUENCE_LENGTH = 16  # tiny CogVideoX's transformer accepts at most this many text tokens


def byte_level_tokenizer():
    """A fast tokenizer over the 256 byte symbols plus <pad>, </s>, <unk>; needs no files."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for symbol in sorted(alphabet):
        vocab[symbol] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    # T5 appends </s> to every sequence; so does this one.
    core.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def tiny_t5_encoder(vocab_size: int):
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    config = T5Config(
        vocab_size=vocab_size, d_model=TEXT_DIM, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, dropout_rate=0.0,
    )
    return T5EncoderModel(config).eval()


def tiny_wan_pipeline():
    """A WanPipeline with random weights: 16x16 frames, frame counts of the form 4k+1."""
    from diffusers import (
        AutoencoderKLWan,
        FlowMatchEulerDiscreteScheduler,
        WanPipeline,
        WanTransformer3DModel,
    )

    tokenizer = byte_level_tokenizer()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32,
    )
    return WanPipeline(
        tokenizer=tokenizer, text_encoder=tiny_t5_encoder(len(tokenizer)), vae=vae, transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
    )


def tiny_cogvideox_pipeline():
    """A CogVideoXPipeline with random weights: 16x16 frames, 8 frames."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
        DDIMScheduler,
    )

    tokenizer = byte_level_tokenizer()
    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8, in_channels=4, out_channels=4, time_embed_dim=2,
        text_embed_dim=TEXT_DIM, num_layers=1, sample_width=2, sample_height=2, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=MAX_SEQUENCE_LENGTH,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4, up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1, norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    return CogVideoXPipeline(
        tokenizer=tokenizer, text_encoder=tiny_t5_encoder(len(tokenizer)), vae=vae, transformer=transformer,
        scheduler=DDIMScheduler(),
    )
