# ruff: noqa
# fmt: off
# SPDX-License-Identifier: Apache-2.0
# Copyright 2022 Ross Wightman
# Licence: Apache 2.0, https://github.com/huggingface/pytorch-image-models/blob/main/LICENSE
# Source: huggingface/pytorch-image-models timm/layers/norm_act.py (BatchNormAct2d) and the
# stem + block layout of timm/models/efficientnet.py (conv_stem, bn1 = BatchNormAct2d), timm 1.0.31.
# Trimmed: timm itself cannot be imported here (it imports torchvision, whose only wheel for
# torch 2.13 is built against CUDA and does not load on the CPU torch), so BatchNormAct2d is copied
# as written, with timm's _assert -> torch._assert, create_act_layer -> nn.ReLU and the
# drop_layer option -> Identity; its forward (copied from BatchNorm2d to stay traceable) is traced
# through, so its `self.num_batches_tracked.add_(1)` must land in the graph, on the training side.
# Data: random uint8 images normalised by the model with ImageNet's mean/std (constant buffers).
import torch
import torch.nn as nn
import torch.nn.functional as F


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm + Activation

    This module performs BatchNorm + Activation in a manner that will remain backwards
    compatible with weights trained with separate bn, act. This is why we inherit from BN
    instead of composing it as a .bn member.
    """
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 apply_act=True, inplace=True):
        super().__init__(num_features, eps=eps, momentum=momentum, affine=affine,
                         track_running_stats=track_running_stats)
        self.drop = nn.Identity()
        self.act = nn.ReLU(inplace=inplace) if apply_act else nn.Identity()

    def forward(self, x):
        # cut & paste of torch.nn.BatchNorm2d.forward impl to avoid issues with torchscript and tracing
        torch._assert(x.ndim == 4, f'expected 4D input (got {x.ndim}D input)')

        # exponential_average_factor is set to self.momentum
        # (when it is available) only so that it gets updated
        # in ONNX graph when this node is exported to ONNX.
        if self.momentum is None:
            exponential_average_factor = 0.0
        else:
            exponential_average_factor = self.momentum

        if self.training and self.track_running_stats:
            # TODO: if statement only here to tell the jit to skip emitting this when it is None
            if self.num_batches_tracked is not None:  # type: ignore[has-type]
                self.num_batches_tracked.add_(1)  # type: ignore[has-type]
                if self.momentum is None:  # use cumulative moving average
                    exponential_average_factor = 1.0 / float(self.num_batches_tracked)
                else:  # use exponential moving average
                    exponential_average_factor = self.momentum

        if self.training:
            bn_training = True
        else:
            bn_training = (self.running_mean is None) and (self.running_var is None)

        x = F.batch_norm(
            x,
            # If buffers are not to be tracked, ensure that they won't be updated
            self.running_mean if not self.training or self.track_running_stats else None,
            self.running_var if not self.training or self.track_running_stats else None,
            self.weight,
            self.bias,
            bn_training,
            exponential_average_factor,
            self.eps,
        )
        x = self.drop(x)
        x = self.act(x)
        return x


class TinyEfficientNet(nn.Module):
    """efficientnet.py's layout at toy size: conv_stem -> bn1 -> a block -> conv_head -> bn2 -> pool -> classifier."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255)
        self.conv_stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.bn1 = BatchNormAct2d(8)
        self.conv_dw = nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False)
        self.bn_dw = BatchNormAct2d(8)
        self.conv_head = nn.Conv2d(8, 16, 1, bias=False)
        self.bn2 = BatchNormAct2d(16)
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x):
        x = (x.float() - self.mean) / self.std
        x = self.bn1(self.conv_stem(x))
        x = self.bn_dw(self.conv_dw(x))
        x = self.bn2(self.conv_head(x))
        x = x.mean((2, 3))
        return self.classifier(x)


# --- stoker corpus case ------------------------------------------------------------------------
import stoker
from tests.corpus.common import Case, images


def plain_step(model, batch, state):
    x, y = batch
    return F.cross_entropy(model(x), y)


def case():
    pipe = stoker.from_items(images(12, 3, 16)).batch(4, drop_last=True)
    return Case(pipe, TinyEfficientNet(), F.cross_entropy, plain_step, lr=0.1)
