# ruff: noqa
# fmt: off
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2017, Pytorch contributors. All rights reserved.
# Licence: BSD 3-Clause, https://github.com/pytorch/examples/blob/main/LICENSE
# Source: pytorch/examples vae/main.py @ 0a8329cff339f4195f4c893780c18caaa51ee732
# Trimmed: argparse, the MNIST download, train()/test() loops and image saving dropped; the
# model and the loss as written; data: random 28x28 images through the original ToTensor.
import torch
import torch.utils.data
from torch import nn, optim
from torch.nn import functional as F


class VAE(nn.Module):
    def __init__(self):
        super(VAE, self).__init__()

        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5*logvar)
        eps = torch.randn_like(std)
        return mu + eps*std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        # clamp to avoid numerical issues with the continuous Bernoulli log normalizing constant
        return torch.clamp(torch.sigmoid(self.fc4(h3)), min=1e-4, max=1.0 - 1e-4)

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def atanh(x):
    # inverse hyperbolic tangent, used to compute the log normalizing constant of the continuous Bernoulli
    return 0.5 * (torch.log(1.0 + x) - torch.log(1.0 - x))

def cont_bern_log_norm(lam, l_lim=0.49, u_lim=0.51):
    # computes the log normalizing constant of a continuous Bernoulli distribution in a numerically stable way.
    # returns the log normalizing constant for lam in (0, l_lim) U (u_lim, 1) and a Taylor approximation in
    # [l_lim, u_lim].
    cut_lam = torch.where(torch.max(torch.le(lam, l_lim), torch.gt(lam, u_lim)), lam, l_lim * torch.ones_like(lam))
    log_norm = torch.log(torch.abs(2.0 * atanh(1 - 2.0 * cut_lam))) - torch.log(torch.abs(1 - 2.0 * cut_lam))
    taylor = torch.log(torch.tensor(2.0)) + 4.0 / 3.0 * torch.pow(lam - 0.5, 2) + 104.0 / 45.0 * torch.pow(lam - 0.5, 4)
    return torch.where(torch.max(torch.le(lam, l_lim), torch.gt(lam, u_lim)), log_norm, taylor)

# Reconstruction + KL divergence losses summed over all elements and batch
def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction='sum')
    NLNC = -torch.sum(cont_bern_log_norm(recon_x)) # negative log normalizing constant
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

    return BCE + NLNC + KLD


# --- stoker corpus case ------------------------------------------------------------------------
import stoker
from tests.corpus.common import Case, images, to_tensor


def transform(sample):
    img, label = sample
    return to_tensor(img), label  # transforms.ToTensor()


def loss_fn(output, data):
    # the original: recon_batch, mu, logvar = model(data); loss_function(recon_batch, data, mu, logvar)
    recon_batch, mu, logvar = output
    return loss_function(recon_batch, data, mu, logvar)


def plain_step(model, batch, state):
    data, _ = batch
    recon_batch, mu, logvar = model(data)
    return loss_function(recon_batch, data, mu, logvar)


def case():
    pipe = stoker.from_items(images(12, 1, 28)).map(transform).batch(4, drop_last=True)
    # The loss reads the model's input: element 0 is both the input and the target (it crosses once).
    return Case(pipe, VAE(), loss_fn, plain_step, kwargs={"inputs": 0, "target": 0}, lr=1e-4)
