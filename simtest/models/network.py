"""The reference camera + lidar BEV fusion network (PyTorch).

Design (compact BEV fusion, in the spirit of BEVFusion / lift-splat-shoot and
CenterPoint):

* **Camera branch**: a small CNN over the resized image predicts, per feature
  pixel, a softmax over depth bins and a context vector; their outer product
  is splatted (summed) into the output BEV grid at cells given by
  ``cam_index`` (see :mod:`simtest.models.lift`). In training the depth
  distribution is supervised with the depth of the lidar points that project
  into each feature pixel (BEVDepth-style), which is what makes the camera
  branch place objects at the right range on its own.
* **Lidar branch**: the uint8 raster of :func:`simtest.models.bev.lidar_raster`
  (point counts per height slice, max height, mean intensity), normalised and
  reduced by a strided convolution to the output grid.
* **Fusion**: the two BEV maps are concatenated and run through a three-scale
  BEV CNN; a CenterPoint-style head predicts per-class centre heatmaps and,
  per cell, the centre offset, height, log size and heading (sin, cos).
  With ``upsample = 2`` the heads are sub-pixel convolutions (each BEV cell
  predicts its 2 x 2 output cells, rearranged by ``pixel_shuffle``), so the
  output grid is twice as fine as the BEV features at little cost: two
  pedestrians a metre apart peak in different output cells.

Either branch can be switched off (``cam_mask`` / ``lidar_mask`` = 0 zeroes
its BEV map); training drops modalities at random so that the model degrades
rather than collapses when a sensor is lost.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

REG_CHANNELS = 8
"""Box regression per output cell: dx, dy (cells), z (m), log l, log w, log h, sin yaw, cos yaw."""


def conv_bn(cin: int, cout: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def up_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 2, 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ImageEncoder(nn.Module):
    """Image (B, 3, H, W) float in [0, 1] -> depth logits (B, D, H/8, W/8) and context (B, C, H/8, W/8)."""

    feature_stride = 8

    def __init__(self, depth_bins: int, context: int) -> None:
        super().__init__()
        self.depth_bins = depth_bins
        self.s2 = conv_bn(3, 16, 2)
        self.s4 = nn.Sequential(conv_bn(16, 32, 2), conv_bn(32, 32))
        self.s8 = nn.Sequential(conv_bn(32, 64, 2), conv_bn(64, 64))
        self.s16 = nn.Sequential(conv_bn(64, 96, 2), conv_bn(96, 96))
        self.up = up_bn(96, 64)
        self.head = nn.Sequential(conv_bn(64, 64), nn.Conv2d(64, depth_bins + context, 1))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x8 = self.s8(self.s4(self.s2(image - 0.5)))
        x = self.head(x8 + self.up(self.s16(x8)))
        return x[:, : self.depth_bins], x[:, self.depth_bins :]


class FusionNet(nn.Module):
    """Camera + lidar BEV detector; see the module docstring.

    Inputs: ``image`` uint8-valued float (B, Ncam, 3, H, W); ``lidar`` raster
    (B, C_lidar, H_bev, W_bev) as float of the uint8 values; ``cam_index``
    int64 (B, Ncam * D * H/8 * W/8) BEV feature cells (``H_bev * W_bev`` = dump);
    ``cam_mask`` and ``lidar_mask`` (B,) in {0, 1}. Outputs: heatmap logits
    (B, classes, H_out, W_out) and regression (B, 8, H_out, W_out), with
    ``(H_out, W_out) = upsample * (H_bev, W_bev)``.
    """

    def __init__(
        self,
        num_classes: int = 3,
        lidar_channels: int = 8,
        height_slices: int = 6,
        depth_bins: int = 28,
        cam_channels: int = 32,
        lidar_bev_channels: int = 32,
        bev_shape: tuple[int, int] = (96, 80),
        bev_stride: int = 2,
        upsample: int = 2,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.height_slices = height_slices
        self.depth_bins = depth_bins
        self.cam_channels = cam_channels
        self.bev_shape = tuple(bev_shape)
        if upsample < 1:
            raise ValueError(f"FusionNet.upsample: must be a positive integer, got {upsample}")
        self.upsample = int(upsample)
        self.image = ImageEncoder(depth_bins, cam_channels)
        self.lidar = conv_bn(lidar_channels, lidar_bev_channels, bev_stride)
        c1, c2, c3 = 32, 64, 96
        self.fuse = conv_bn(cam_channels + lidar_bev_channels, c1, k=1)
        self.stage1 = conv_bn(c1, c1)
        self.stage2 = nn.Sequential(conv_bn(c1, c2, 2), conv_bn(c2, c2))
        self.stage3 = nn.Sequential(conv_bn(c2, c3, 2), conv_bn(c3, c3))
        self.up3 = up_bn(c3, c2)
        self.up2 = up_bn(c2, c1)
        sub = self.upsample**2  # output cells per BEV cell
        self.heatmap = nn.Conv2d(c1, num_classes * sub, 3, padding=1)
        self.regression = nn.Conv2d(c1, REG_CHANNELS * sub, 3, padding=1)
        nn.init.constant_(self.heatmap.bias, -math.log((1 - 0.01) / 0.01))  # prior 1 % (focal-loss init)

    def normalise_lidar(self, lidar: torch.Tensor) -> torch.Tensor:
        n = self.height_slices
        counts = torch.log1p(lidar[:, :n]) / math.log(256.0)
        return torch.cat([counts, lidar[:, n:] / 255.0], dim=1)

    def camera_bev(self, image: torch.Tensor, cam_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Camera BEV features (B, C, H_out, W_out) and the depth logits (B * Ncam, D, H/8, W/8) they were lifted with."""
        b, ncam = image.shape[0], image.shape[1]
        depth, ctx = self.image(image.flatten(0, 1) / 255.0)
        feats = depth.softmax(dim=1).unsqueeze(1) * ctx.unsqueeze(2)  # (B*Ncam, C, D, Hf, Wf)
        feats = feats.reshape(b, ncam, self.cam_channels, -1).transpose(1, 2).reshape(b, self.cam_channels, -1)
        h, w = self.bev_shape
        index = cam_index.unsqueeze(1).expand(b, self.cam_channels, cam_index.shape[1])
        bev = torch.zeros(b, self.cam_channels, h * w + 1, dtype=feats.dtype, device=feats.device)
        bev = bev.scatter_add(2, index, feats)
        return bev[:, :, : h * w].reshape(b, self.cam_channels, h, w), depth

    def forward(
        self,
        image: torch.Tensor,
        lidar: torch.Tensor,
        cam_index: torch.Tensor,
        cam_mask: torch.Tensor,
        lidar_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        heat, reg, _ = self.forward_with_depth(image, lidar, cam_index, cam_mask, lidar_mask)
        return heat, reg

    def forward_with_depth(
        self,
        image: torch.Tensor,
        lidar: torch.Tensor,
        cam_index: torch.Tensor,
        cam_mask: torch.Tensor,
        lidar_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`forward` plus the camera depth logits (B * Ncam, D, H/8, W/8), for depth supervision in training."""
        cam, depth = self.camera_bev(image, cam_index)
        cam = cam * cam_mask.view(-1, 1, 1, 1)
        lid = self.lidar(self.normalise_lidar(lidar) * lidar_mask.view(-1, 1, 1, 1))
        x1 = self.stage1(self.fuse(torch.cat([cam, lid], dim=1)))
        x2 = self.stage2(x1)
        x2 = x2 + self.up3(self.stage3(x2))
        x = x1 + self.up2(x2)
        u = self.upsample
        return F.pixel_shuffle(self.heatmap(x), u), F.pixel_shuffle(self.regression(x), u), depth


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
