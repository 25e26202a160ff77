# ruff: noqa
# fmt: off
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2017, Pytorch contributors. All rights reserved.
# Licence: BSD 3-Clause, https://github.com/pytorch/examples/blob/main/LICENSE
# Source: pytorch/examples dcgan/main.py @ 13caa078cd69d74ffb447a9eda09f0a81b809480
# Trimmed: argparse, data sets, the Generator and the checkpointing loop dropped; the Discriminator
# and its "train with real" step (criterion, label built from the batch size) as written, ndf = 8
# for tiny shapes; data: random 64x64 images through the original ToTensor + Normalize.
import torch
import torch.nn as nn
import torch.nn.parallel

ngpu = 1
ndf = 8  # --ndf (default 64), tiny for the test
nc = 3


# custom weights initialization called on netG and netD
def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Discriminator(nn.Module):
    def __init__(self, ngpu):
        super(Discriminator, self).__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            # input is (nc) x 64 x 64
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf) x 32 x 32
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 16 x 16
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*4) x 8 x 8
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*8) x 4 x 4
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid()
        )

    def forward(self, input):
        if input.is_cuda and self.ngpu > 1:
            output = nn.parallel.data_parallel(self.main, input, range(self.ngpu))
        else:
            output = self.main(input)

        return output.view(-1, 1).squeeze(1)


criterion = nn.BCELoss()
real_label = 1


# --- stoker corpus case ------------------------------------------------------------------------
import stoker
from tests.corpus.common import Case, images, to_tensor


def transform(sample):
    img, _ = sample
    return (to_tensor(img) - 0.5) / 0.5  # transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def loss_fn(output):
    # the loop's label = torch.full((batch_size,), real_label, ...): a closure over criterion, reading size()
    label = torch.full((output.size(0),), real_label, dtype=output.dtype, device=output.device)
    return criterion(output, label)


def plain_step(model, batch, state):
    real_cpu = batch
    batch_size = real_cpu.size(0)
    label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype)
    output = model(real_cpu)
    return criterion(output, label)


def case():
    pipe = stoker.from_items(images(12, 3, 64)).map(transform).batch(4, drop_last=True)
    netD = Discriminator(ngpu)
    netD.apply(weights_init)
    return Case(pipe, netD, loss_fn, plain_step, kwargs={"target": ()})
