"""Feature matrices for the metrics: prompt texts, and frames sampled from rendered videos.

    >>> feats = text_features(["a dog on a beach", "a cat"])          # settings' sentence embedder
    >>> feats.encoder, feats.vectors.shape
    ('packaged:all-MiniLM-L6-v2', (2, 384))

    enc = load_image_encoder("packaged:efficientnet-lite0")        # offline default, 1,280-d
    video_features(["a.mp4", "b.mp4"], enc, n_frames=8).vectors.shape   # (2, 1280): one row per video

Image encoders (the `image_encoder` setting):
- `packaged:efficientnet-lite0`: ImageNet EfficientNet-Lite0 from a PyPI wheel, global-average
  pooled 1,280-d features, 224×224, ImageNet mean/std. Works offline; not CLIP, so no CLIP score.
- `inception:PATH`: Inception-v3 pool features (2,048-d) for TIE, from a TorchScript file you
  supply, e.g. NVIDIA's `inception-2015-12-05.pt` (the FID network used by StyleGAN2-ADA / clean-fid);
  called as `net(uint8 images (N,3,299,299), return_features=True)`. No package ships it.
- anything else: a CLIP model folder or Hub id for `transformers.CLIPModel`
  (e.g. `openai/clip-vit-base-patch32`): image and text embeddings, so TCE and CLIP score.

Every result is a `Features(vectors, encoder)` so a table never mixes numbers from two encoders.
Frames are resized and normalised with torch (torchvision is deliberately not a dependency).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dppgrpo_core.errors import ModelUnavailable, UserFacingError
from dppgrpo_core.settings import PACKAGED_IMAGE_ENCODER, Settings

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
INCEPTION_PREFIX = "inception:"


@dataclass
class Features:
    """Rows = samples (float64), and the name of the encoder that made them."""

    vectors: np.ndarray
    encoder: str

    def __post_init__(self):
        self.vectors = np.asarray(self.vectors, dtype=np.float64)


# ---------------------------------------------------------------- text


def text_features(texts: list[str], settings: Settings | None = None, embedder=None) -> Features:
    """Sentence embeddings of `texts` (L2-normalised rows) from the settings' embedder."""
    from dppgrpo_core.models.embedder import embed, load_embedder

    settings = settings or Settings()
    embedder = embedder or load_embedder(settings=settings)
    return Features(embed(list(texts), embedder).numpy(), settings.embedder)


# ---------------------------------------------------------------- frames


def frame_indices(total: int, n_frames: int) -> list[int]:
    """`n_frames` indices spread evenly from the first frame to the last (fewer if the video is shorter).

    >>> frame_indices(10, 4)
    [0, 3, 6, 9]
    >>> frame_indices(2, 5)
    [0, 1]
    """
    if n_frames < 1:
        raise ValueError("n_frames must be at least 1")
    if total <= n_frames:
        return list(range(total))
    return sorted({int(round(i)) for i in np.linspace(0, total - 1, n_frames)})


def read_frames(path: str | Path, n_frames: int = 8) -> np.ndarray:
    """Evenly spaced RGB frames of a video file, uint8 array (F, H, W, 3); only those frames are kept."""
    import imageio.v2 as imageio

    path = Path(path)
    if not path.is_file():
        raise UserFacingError(f"No video file at {path}.")
    try:
        reader = imageio.get_reader(str(path), format="ffmpeg")
    except Exception as exc:  # imageio raises several types for unreadable files
        raise UserFacingError(f"Could not open the video {path.name}: {exc}") from exc
    try:
        total = reader.count_frames()
        wanted = set(frame_indices(total, n_frames))
        frames = [np.asarray(frame)[..., :3] for i, frame in enumerate(reader) if i in wanted]
    finally:
        reader.close()
    if not frames:
        raise UserFacingError(f"The video {path.name} has no frames.")
    return np.stack(frames)


def to_model_input(frames: np.ndarray, size: int, mean, std, resample: str = "bilinear") -> torch.Tensor:
    """uint8 (F, H, W, 3) → float (F, 3, size, size): shorter side resized to `size`, centre crop, normalised."""
    x = torch.as_tensor(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0
    h, w = x.shape[-2:]
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    x = F.interpolate(x, size=(new_h, new_w), mode=resample, align_corners=False, antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    x = x[:, :, top : top + size, left : left + size].clamp(0, 1)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


# ---------------------------------------------------------------- image encoders


class ImageEncoder:
    """Frames (uint8, (F, H, W, 3)) → features (F, D). Subclasses set `name`, `dim`, `has_text`."""

    name: str = ""
    dim: int = 0
    has_text: bool = False  # True when `encode_text` gives embeddings in the same space (CLIP)
    batch_size: int = 16

    def _encode_batch(self, frames: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    @torch.inference_mode()
    def encode_frames(self, frames: np.ndarray) -> np.ndarray:
        chunks = [self._encode_batch(frames[i : i + self.batch_size]) for i in range(0, len(frames), self.batch_size)]
        return torch.cat(chunks).double().cpu().numpy()

    def encode_text(self, texts: list[str]) -> np.ndarray:
        raise UserFacingError(f"The image encoder {self.name!r} has no text tower; CLIP score needs a CLIP model.")


class EfficientNetEncoder(ImageEncoder):
    """The packaged ImageNet EfficientNet-Lite0: global-average-pooled last feature map, 1,280-d."""

    dim = 1280

    def __init__(self, device: str = "cpu"):
        from dppgrpo_core.models.packaged import image_encoder_weights

        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise ModelUnavailable("Install `efficientnet-lite-pytorch==0.1.0` for the default image encoder.") from exc
        self.name, self.device = PACKAGED_IMAGE_ENCODER, device
        self.model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(image_encoder_weights()))
        self.model.eval().to(device)

    def _encode_batch(self, frames):
        x = to_model_input(frames, 224, IMAGENET_MEAN, IMAGENET_STD).to(self.device)
        return self.model.extract_features(x).mean((2, 3))


class ClipEncoder(ImageEncoder):
    """A `transformers.CLIPModel` (folder or Hub id): projected image and text embeddings."""

    has_text = True

    def __init__(self, name_or_path: str, device: str = "cpu", model=None, tokenizer=None):
        from transformers import AutoTokenizer, CLIPModel

        self.name, self.device = name_or_path, device
        try:
            self.model = model if model is not None else CLIPModel.from_pretrained(name_or_path)
            self.tokenizer = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(name_or_path)
        except Exception as exc:  # OSError / offline errors: one line that says what to do
            raise ModelUnavailable(
                f"Could not load the CLIP image encoder {name_or_path!r} ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0][:200] if str(exc) else ''}). Give a local CLIP folder, a Hub id with "
                f"network access, or the offline default {PACKAGED_IMAGE_ENCODER!r} via --image-encoder / "
                "DPPGRPO_IMAGE_ENCODER."
            ) from exc
        self.model.eval().to(device)
        self.size = int(self.model.config.vision_config.image_size)
        self.dim = int(self.model.config.projection_dim)

    @staticmethod
    def _pooled(out) -> torch.Tensor:
        return out if isinstance(out, torch.Tensor) else out.pooler_output  # transformers ≥ 5 returns an output object

    def _encode_batch(self, frames):
        x = to_model_input(frames, self.size, CLIP_MEAN, CLIP_STD, resample="bicubic").to(self.device)
        return self._pooled(self.model.get_image_features(pixel_values=x))

    @torch.inference_mode()
    def encode_text(self, texts: list[str]) -> np.ndarray:
        max_len = int(self.model.config.text_config.max_position_embeddings)
        tokens = self.tokenizer(list(texts), padding=True, truncation=True, max_length=max_len, return_tensors="pt")
        tokens = {k: v.to(self.device) for k, v in tokens.items() if k in ("input_ids", "attention_mask")}
        return self._pooled(self.model.get_text_features(**tokens)).double().cpu().numpy()


class InceptionEncoder(ImageEncoder):
    """Inception-v3 pool features (2,048-d) from a user-supplied TorchScript FID network."""

    dim = 2048

    def __init__(self, spec: str, device: str = "cpu"):
        path = Path(spec[len(INCEPTION_PREFIX) :]).expanduser()
        if not path.is_file():
            raise ModelUnavailable(
                f"TIE needs Inception-v3 weights: no file at {path}. Download NVIDIA's TorchScript "
                "`inception-2015-12-05.pt` (the FID network of StyleGAN2-ADA) and pass --image-encoder inception:PATH."
            )
        try:
            self.model = torch.jit.load(str(path), map_location=device).eval()
        except Exception as exc:
            raise ModelUnavailable(f"{path} is not a TorchScript Inception network ({type(exc).__name__}).") from exc
        self.name, self.device = spec, device

    def _encode_batch(self, frames):
        x = torch.as_tensor(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        # The FID network resizes internally, but takes uint8-range input at 299×299.
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False, antialias=True)
        x = x.round().clamp(0, 255).to(torch.uint8).to(self.device)
        return self.model(x, return_features=True)


@functools.lru_cache(maxsize=4)
def _cached_encoder(spec: str, device: str) -> ImageEncoder:
    if spec == PACKAGED_IMAGE_ENCODER:
        return EfficientNetEncoder(device)
    if spec.startswith(INCEPTION_PREFIX):
        return InceptionEncoder(spec, device)
    if spec.startswith("packaged:"):
        raise ModelUnavailable(f"Unknown packaged image encoder {spec!r}; the packaged one is {PACKAGED_IMAGE_ENCODER!r}.")
    return ClipEncoder(spec, device)


def load_image_encoder(spec: str | None = None, device: str | None = None, settings: Settings | None = None) -> ImageEncoder:
    """The image encoder named by `spec` (default: the settings' `image_encoder`), loaded once per process."""
    settings = settings or Settings()
    return _cached_encoder(spec or settings.image_encoder, device or settings.resolved_device())


# ---------------------------------------------------------------- videos


def frame_features(path: str | Path, encoder: ImageEncoder, n_frames: int = 8) -> Features:
    """Features of `n_frames` evenly spaced frames of one video: shape (F, D)."""
    return Features(encoder.encode_frames(read_frames(path, n_frames)), encoder.name)


def video_features(paths: list[str | Path], encoder: ImageEncoder, n_frames: int = 8) -> Features:
    """One row per video: the mean of its frame features, shape (V, D)."""
    rows = [frame_features(p, encoder, n_frames).vectors.mean(axis=0) for p in paths]
    if not rows:
        return Features(np.zeros((0, encoder.dim)), encoder.name)
    return Features(np.stack(rows), encoder.name)

