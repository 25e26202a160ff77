# ruff: noqa
# fmt: off
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2017, Pytorch contributors. All rights reserved.
# Licence: BSD 3-Clause, https://github.com/pytorch/examples/blob/main/LICENSE
# Source: pytorch/examples mnist/main.py @ 09654b86fcd7b489840546d9ad0cf9b629dc50d0
# Trimmed: the model and the training step as written; argparse, the MNIST download, test() and
# the comments dropped; data: random 28x28 digits through the original ToTensor + Normalize.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


# --- stoker corpus case ------------------------------------------------------------------------
import stoker
from tests.corpus.common import Case, images, to_tensor


def transform(sample):
    img, label = sample
    return (to_tensor(img) - 0.1307) / 0.3081, label  # transforms.Normalize((0.1307,), (0.3081,))


def plain_step(model, batch, state):
    data, target = batch
    output = model(data)
    return F.nll_loss(output, target)


def case():
    pipe = stoker.from_items(images(12, 1, 28)).map(transform).batch(4, drop_last=True)
    return Case(pipe, Net(), F.nll_loss, plain_step)
