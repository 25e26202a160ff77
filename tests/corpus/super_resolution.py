# ruff: noqa
# fmt: off
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2017, Pytorch contributors. All rights reserved.
# Licence: BSD 3-Clause, https://github.com/pytorch/examples/blob/main/LICENSE
# Source: pytorch/examples super_resolution/model.py @ 0722b2f4f73a220109dd2c0681d37df25f4a4116
# Trimmed: init.orthogonal -> init.orthogonal_ (the deprecated alias is gone from torch); data:
# data.py's pipeline on random images: the Y channel, downscaled by the factor as the input, the
# full Y channel as the target; criterion nn.MSELoss() as in main.py.
import torch
import torch.nn as nn
import torch.nn.init as init


class Net(nn.Module):
    def __init__(self, upscale_factor):
        super(Net, self).__init__()

        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 64, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(64, 64, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(64, 32, (3, 3), (1, 1), (1, 1))
        self.conv4 = nn.Conv2d(32, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

        self._initialize_weights()

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        x = self.relu(self.conv3(x))
        x = self.pixel_shuffle(self.conv4(x))
        return x

    def _initialize_weights(self):
        init.orthogonal_(self.conv1.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv2.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv3.weight, init.calculate_gain('relu'))
        init.orthogonal_(self.conv4.weight)


# --- stoker corpus case ------------------------------------------------------------------------
import torch.nn.functional as F

import stoker
from tests.corpus.common import Case, images, to_tensor

UPSCALE = 2
criterion = nn.MSELoss()


def y_channel(sample):
    img, _ = sample
    rgb = to_tensor(img)
    y = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]).unsqueeze(0)  # img.convert('YCbCr').split()[0]
    low = F.interpolate(y.unsqueeze(0), scale_factor=1 / UPSCALE, mode="bicubic", align_corners=False)[0]
    return low, y


def plain_step(model, batch, state):
    input, target = batch
    return criterion(model(input), target)


def case():
    pipe = stoker.from_items(images(12, 3, 16)).map(y_channel).batch(4, drop_last=True)
    return Case(pipe, Net(UPSCALE), criterion, plain_step)
