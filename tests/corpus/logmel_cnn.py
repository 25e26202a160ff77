# ruff: noqa
# fmt: off
# SPDX-License-Identifier: MIT
# Copyright (c) 2020 Qiuqiang Kong
# Licence: MIT, https://github.com/qiuqiangkong/torchlibrosa/blob/master/LICENSE
# Source: qiuqiangkong/torchlibrosa torchlibrosa/stft.py (STFT, Spectrogram, LogmelFilterBank),
# torchlibrosa 0.1.0 on PyPI, used as PANNs' Cnn14 uses it (qiuqiangkong/audioset_tagging_cnn
# pytorch/models.py: spectrogram_extractor, logmel_extractor with top_db=None, then bn0).
# Trimmed: librosa is not installed, so get_window('hann') is torch.hann_window(periodic=True)
# (the same values) and librosa.filters.mel is a triangular mel filter bank written here in
# torch (HTK mel scale, not librosa's Slaney default: same structure, other numbers); the STFT's
# DFT matrix is built with numpy as in DFTBase. The STFT and mel matrices are nn.Parameters with
# requires_grad=False (freeze_parameters=True), so the front end is stateless and may move.
# Data: random 1,024-sample waveforms and class labels.
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class STFT(nn.Module):
    def __init__(self, n_fft=2048, hop_length=None, center=True, pad_mode='reflect', freeze_parameters=True):
        super(STFT, self).__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length if hop_length is not None else n_fft // 4
        self.center = center
        self.pad_mode = pad_mode
        fft_window = torch.hann_window(n_fft, periodic=True, dtype=torch.float64).numpy()
        n = np.arange(n_fft)
        self.W = np.power(np.exp(-2 * np.pi * 1j / n_fft), np.outer(n, n))  # DFTBase.dft_matrix
        out_channels = n_fft // 2 + 1
        self.conv_real = nn.Conv1d(1, out_channels, kernel_size=n_fft, stride=self.hop_length, bias=False)
        self.conv_imag = nn.Conv1d(1, out_channels, kernel_size=n_fft, stride=self.hop_length, bias=False)
        self.conv_real.weight.data = torch.Tensor(
            np.real(self.W[:, 0 : out_channels] * fft_window[:, None]).T)[:, None, :]
        self.conv_imag.weight.data = torch.Tensor(
            np.imag(self.W[:, 0 : out_channels] * fft_window[:, None]).T)[:, None, :]
        if freeze_parameters:
            for param in self.parameters():
                param.requires_grad = False

    def forward(self, input):
        x = input[:, None, :]   # (batch_size, channels_num, data_length)
        if self.center:
            x = F.pad(x, pad=(self.n_fft // 2, self.n_fft // 2), mode=self.pad_mode)
        real = self.conv_real(x)
        imag = self.conv_imag(x)
        real = real[:, None, :, :].transpose(2, 3)
        imag = imag[:, None, :, :].transpose(2, 3)
        return real, imag


class Spectrogram(nn.Module):
    def __init__(self, n_fft=2048, hop_length=None, power=2.0, freeze_parameters=True):
        super(Spectrogram, self).__init__()
        self.power = power
        self.stft = STFT(n_fft=n_fft, hop_length=hop_length, freeze_parameters=True)

    def forward(self, input):
        (real, imag) = self.stft.forward(input)
        spectrogram = real ** 2 + imag ** 2
        if self.power == 2.0:
            pass
        else:
            spectrogram = spectrogram ** (self.power / 2.0)
        return spectrogram


def mel_filters(sr, n_fft, n_mels, fmin, fmax):
    """Triangular filters on the HTK mel scale, (n_fft // 2 + 1, n_mels) (stands in for librosa.filters.mel)."""
    mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)
    edges = torch.linspace(mel(fmin), mel(fmax), n_mels + 2, dtype=torch.float64)
    hz = 700.0 * (10 ** (edges / 2595.0) - 1.0)
    freqs = torch.linspace(0, sr / 2, n_fft // 2 + 1, dtype=torch.float64)
    lower = (freqs[:, None] - hz[None, :-2]) / (hz[1:-1] - hz[:-2])
    upper = (hz[None, 2:] - freqs[:, None]) / (hz[2:] - hz[1:-1])
    return torch.clamp(torch.minimum(lower, upper), min=0).float()


class LogmelFilterBank(nn.Module):
    def __init__(self, sr=22050, n_fft=2048, n_mels=64, fmin=0.0, fmax=None,
        is_log=True, ref=1.0, amin=1e-10, top_db=80.0, freeze_parameters=True):
        super(LogmelFilterBank, self).__init__()
        self.is_log = is_log
        self.ref = ref
        self.amin = amin
        self.top_db = top_db
        if fmax == None:
            fmax = sr//2
        self.melW = nn.Parameter(mel_filters(sr, n_fft, n_mels, fmin, fmax))
        if freeze_parameters:
            for param in self.parameters():
                param.requires_grad = False

    def forward(self, input):
        mel_spectrogram = torch.matmul(input, self.melW)
        if self.is_log:
            output = self.power_to_db(mel_spectrogram)
        else:
            output = mel_spectrogram
        return output

    def power_to_db(self, input):
        ref_value = self.ref
        log_spec = 10.0 * torch.log10(torch.clamp(input, min=self.amin, max=np.inf))
        log_spec -= 10.0 * np.log10(np.maximum(self.amin, ref_value))
        if self.top_db is not None:
            if self.top_db < 0:
                raise ValueError('top_db must be non-negative')
            log_spec = torch.clamp(log_spec, min=log_spec.max().item() - self.top_db, max=np.inf)
        return log_spec


class TinyCnn14(nn.Module):
    """PANNs Cnn14's front (spectrogram_extractor, logmel_extractor, bn0) and a one-block body."""

    def __init__(self, sample_rate=8000, window_size=128, hop_size=64, mel_bins=16, classes_num=5):
        super().__init__()
        self.spectrogram_extractor = Spectrogram(n_fft=window_size, hop_length=hop_size, freeze_parameters=True)
        self.logmel_extractor = LogmelFilterBank(sr=sample_rate, n_fft=window_size, n_mels=mel_bins, fmin=0,
                                                 fmax=sample_rate // 2, ref=1.0, amin=1e-10, top_db=None,
                                                 freeze_parameters=True)
        self.bn0 = nn.BatchNorm2d(mel_bins)
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc = nn.Linear(8, classes_num)

    def forward(self, input):
        x = self.spectrogram_extractor(input)   # (batch_size, 1, time_steps, freq_bins)
        x = self.logmel_extractor(x)    # (batch_size, 1, time_steps, mel_bins)
        x = x.transpose(1, 3)
        x = self.bn0(x)
        x = x.transpose(1, 3)
        x = F.relu(self.conv(x))
        x = torch.mean(x, dim=(2, 3))
        return F.log_softmax(self.fc(x), dim=-1)


# --- stoker corpus case ------------------------------------------------------------------------
import stoker
from tests.corpus.common import Case


def clips():
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(1024, generator=g) * 0.1, i % 5) for i in range(12)]


def plain_step(model, batch, state):
    x, y = batch
    return F.nll_loss(model(x), y)


def case():
    pipe = stoker.from_items(clips()).batch(4, drop_last=True)
    return Case(pipe, TinyCnn14(), F.nll_loss, plain_step, lr=0.1)
