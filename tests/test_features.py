"""Frame sampling, preprocessing and encoder plumbing (eval.features), on synthetic mp4s and a tiny random CLIP."""

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.settings import Settings
from eval.features import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ClipEncoder,
    Features,
    InceptionEncoder,
    frame_features,
    frame_indices,
    load_image_encoder,
    read_frames,
    text_features,
    to_model_input,
    video_features,
)
from eval.metrics import clip_score


def write_video(path, colours, size=(48, 64)):
    """An mp4 whose frame i is a flat colour colours[i] (flat colours survive H.264 almost exactly)."""
    writer = imageio.get_writer(str(path), fps=8, codec="libx264", macro_block_size=16, quality=10)
    for colour in colours:
        writer.append_data(np.full((*size, 3), colour, dtype=np.uint8))
    writer.close()
    return path


@pytest.fixture(scope="module")
def ramp_video(tmp_path_factory):
    # frame i has grey level 20·i, so which frames were read can be told from their pixels
    return write_video(tmp_path_factory.mktemp("videos") / "ramp.mp4", [(20 * i,) * 3 for i in range(10)])


def test_frame_indices_spread_over_the_whole_video():
    assert frame_indices(10, 4) == [0, 3, 6, 9]
    assert frame_indices(81, 1) == [0]
    assert frame_indices(3, 8) == [0, 1, 2]
    with pytest.raises(ValueError):
        frame_indices(10, 0)


def test_read_frames_returns_the_evenly_spaced_frames(ramp_video):
    frames = read_frames(ramp_video, n_frames=4)
    assert frames.shape == (4, 48, 64, 3) and frames.dtype == np.uint8
    grey = frames.reshape(4, -1).mean(axis=1)
    assert grey == pytest.approx([0, 60, 120, 180], abs=4)  # frames 0, 3, 6, 9


def test_read_frames_errors_are_user_facing(tmp_path):
    with pytest.raises(UserFacingError, match="No video file"):
        read_frames(tmp_path / "missing.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(UserFacingError):
        read_frames(bad)


def test_to_model_input_resizes_crops_and_normalises():
    frames = np.zeros((2, 30, 90, 3), dtype=np.uint8)
    frames[:, :, 30:60] = 255  # a white band in the centre third survives the centre crop
    x = to_model_input(frames, 20, IMAGENET_MEAN, IMAGENET_STD)
    assert x.shape == (2, 3, 20, 20)
    centre = x[0, :, 10, 10]
    expected = (1 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    assert torch.allclose(centre, expected, atol=1e-4)


def tiny_clip_encoder():
    """A random 2-layer CLIP from a config, with the packaged MiniLM's tokenizer (BERT vocab): no Hub."""
    from transformers import AutoTokenizer, CLIPConfig, CLIPModel

    from dppgrpo_core.models.packaged import embedder_folder

    tokenizer = AutoTokenizer.from_pretrained(str(embedder_folder()))
    torch.manual_seed(0)
    config = CLIPConfig(
        text_config=dict(vocab_size=tokenizer.vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=32, eos_token_id=tokenizer.sep_token_id),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                           image_size=32, patch_size=8),
        projection_dim=16,
    )
    return ClipEncoder("tiny-random-clip", model=CLIPModel(config), tokenizer=tokenizer)


def test_tiny_clip_frame_features_and_clip_score(ramp_video, tmp_path):
    enc = tiny_clip_encoder()
    feats = frame_features(ramp_video, enc, n_frames=3)
    assert isinstance(feats, Features) and feats.encoder == "tiny-random-clip"
    assert feats.vectors.shape == (3, 16) and feats.vectors.dtype == np.float64
    # the same frames through the model by hand give the same features
    x = to_model_input(read_frames(ramp_video, 3), 32, *_clip_norm(), resample="bicubic")
    with torch.no_grad():
        direct = enc.model.get_image_features(pixel_values=x).pooler_output.double().numpy()
    assert np.allclose(feats.vectors, direct, atol=1e-5)
    # different frames give different features (the ramp changes brightness)
    assert not np.allclose(feats.vectors[0], feats.vectors[-1])
    text = enc.encode_text(["a grey ramp", "a red car in the rain"])
    assert text.shape == (2, 16) and not np.allclose(text[0], text[1])
    score = clip_score(feats.vectors, text[0])
    assert -1.0 <= score <= 1.0 and np.isfinite(score)
    # two videos → one row each, equal to the mean of their frame features
    other = write_video(tmp_path / "red.mp4", [(200, 0, 0)] * 4)
    rows = video_features([ramp_video, other], enc, n_frames=3)
    assert rows.vectors.shape == (2, 16)
    assert np.allclose(rows.vectors[0], feats.vectors.mean(axis=0))


def _clip_norm():
    from eval.features import CLIP_MEAN, CLIP_STD

    return CLIP_MEAN, CLIP_STD


def test_packaged_efficientnet_features(ramp_video, tmp_path):
    enc = load_image_encoder("packaged:efficientnet-lite0", device="cpu")
    assert enc.name == "packaged:efficientnet-lite0" and not enc.has_text
    other = write_video(tmp_path / "checker.mp4", [(255, 0, 0), (0, 255, 0)] * 2)
    rows = video_features([ramp_video, other], enc, n_frames=2)
    assert rows.vectors.shape == (2, 1280) and rows.encoder == enc.name
    assert np.isfinite(rows.vectors).all() and not np.allclose(rows.vectors[0], rows.vectors[1])
    with pytest.raises(UserFacingError, match="no text tower"):
        enc.encode_text(["a prompt"])


def test_unavailable_encoders_fail_with_one_clear_line(tmp_path):
    with pytest.raises(ModelUnavailable, match="inception-2015-12-05.pt"):
        InceptionEncoder(f"inception:{tmp_path / 'nope.pt'}")
    with pytest.raises(ModelUnavailable, match="Could not load the CLIP image encoder"):
        load_image_encoder(str(tmp_path / "no-clip-here"), device="cpu")
    with pytest.raises(ModelUnavailable, match="Unknown packaged"):
        load_image_encoder("packaged:resnet", device="cpu")


def test_inception_encoder_calls_a_torchscript_fid_network(ramp_video, tmp_path):
    class FakeFid(torch.nn.Module):  # same calling convention as NVIDIA's inception-2015-12-05.pt
        def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
            assert x.dtype == torch.uint8
            pooled = x.float().mean(dim=(2, 3))
            return pooled.repeat(1, 683)[:, :2048] if return_features else pooled

    path = tmp_path / "fake-inception.pt"
    torch.jit.script(FakeFid()).save(str(path))
    enc = InceptionEncoder(f"inception:{path}")
    feats = frame_features(ramp_video, enc, n_frames=2)
    assert feats.vectors.shape == (2, 2048)
    assert feats.vectors[:, 0] == pytest.approx([0, 180], abs=4)


def test_text_features_name_the_embedder():
    feats = text_features(["a dog on a beach", "a cat on a sofa"], Settings(device="cpu"))
    assert feats.encoder == "packaged:all-MiniLM-L6-v2" and feats.vectors.shape == (2, 384)
    assert np.linalg.norm(feats.vectors, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
