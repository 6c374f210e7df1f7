"""Convolutional encoder/decoder stacks of the VQ-VAE-2 (the paper's Rosinality blocks), with
per-axis strides so anisotropic downsampling (e.g. 4× in frequency, 2× in time) is possible."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

Stride = tuple[int, int]


def axis_kernel(stride: int) -> tuple[int, int]:
    """(kernel, padding) along one axis so a conv divides the size exactly by ``stride`` and the
    matching transposed conv multiplies it back: 3/1 for stride 1, 2s/(s/2) for even s (the
    paper's 4×4 / padding 1 at s=2), s/0 for odd s."""
    if stride == 1:
        return 3, 1
    if stride % 2 == 0:
        return 2 * stride, stride // 2
    return stride, 0


def strided_conv(cin: int, cout: int, stride: Stride, transposed: bool = False) -> nn.Module:
    (kf, pf), (kt, pt) = axis_kernel(stride[0]), axis_kernel(stride[1])
    cls = nn.ConvTranspose2d if transposed else nn.Conv2d
    return cls(cin, cout, (kf, kt), stride=tuple(stride), padding=(pf, pt))


class ResBlock(nn.Module):
    """ReLU → 3×3 conv (C→R) → ReLU → 1×1 conv (R→C), plus the identity (not in-place, unlike the
    original, whose in-place ReLU modified the skip)."""

    def __init__(self, channels: int, residual_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, residual_channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(residual_channels, channels, 1),
        )

    def forward(self, x):
        return x + self.body(x)


def encoder_widths(hidden: int, num_convs: int) -> list[int]:
    """Output channels of the strided convs: C/n, 2C/n, …, C (C/2 alone for a single conv, whose
    following 3×3 conv brings it to C), as in the original."""
    if num_convs == 1:
        return [hidden // 2]
    return [hidden * (k + 1) // num_convs for k in range(num_convs)]


class Encoder(nn.Module):
    """Strided 4×4 convs (ReLU after each) → 3×3 conv to ``hidden`` → residual blocks → ReLU."""

    def __init__(
        self, in_channels: int, hidden: int, residual: int, num_blocks: int, strides: Sequence[Stride]
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for width, stride in zip(encoder_widths(hidden, len(strides)), strides, strict=True):
            layers += [strided_conv(channels, width, stride), nn.ReLU()]
            channels = width
        layers.append(nn.Conv2d(channels, hidden, 3, padding=1))
        layers += [ResBlock(hidden, residual) for _ in range(num_blocks)]
        layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Decoder(nn.Module):
    """3×3 conv to ``hidden`` → residual blocks → ReLU → strided transposed convs (C → (n-1)C/n →
    … → out, ReLU between them)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden: int,
        residual: int,
        num_blocks: int,
        strides: Sequence[Stride],
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, hidden, 3, padding=1)]
        layers += [ResBlock(hidden, residual) for _ in range(num_blocks)]
        layers.append(nn.ReLU())
        n = len(strides)
        widths = [hidden * (n - k) // n for k in range(1, n)] + [out_channels]
        channels = hidden
        for i, (width, stride) in enumerate(zip(widths, strides, strict=True)):
            layers.append(strided_conv(channels, width, stride, transposed=True))
            if i < n - 1:
                layers.append(nn.ReLU())
            channels = width
        if n == 0:
            layers.append(nn.Conv2d(hidden, out_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class Upsampler(nn.Module):
    """Linear transposed-conv stack (ReLU between) that brings a coarse quantized map to a finer
    level's resolution (the original's single ``upsample_t``)."""

    def __init__(self, channels: int, strides: Sequence[Stride]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, stride in enumerate(strides):
            if i:
                layers.append(nn.ReLU())
            layers.append(strided_conv(channels, channels, stride, transposed=True))
        self.net = nn.Sequential(*layers) if layers else nn.Identity()

    def forward(self, x):
        return self.net(x)
