"""A training script with stoker as its data loader (no __main__ guard needed: workers never re-run it).

Run: ``python examples/train_jpegs.py /tmp/jpegs`` (makes 256 JPEGs there if the folder is empty).
"""

import sys

import torch
from torch import nn

import stoker
from stoker.demo import SmallCNN, decode_crop
from stoker.sample_data import make_jpeg_folder

folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/stoker-example-jpegs"
paths = make_jpeg_folder(folder, 256)
pipe = stoker.from_files(paths).shuffle(seed=0).map(decode_crop).batch(32, drop_last=True)
model = SmallCNN()
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
with stoker.Loader(pipe, workers="auto", seed=0) as loader:
    for epoch in range(2):
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        stats = loader.stats()
        print(
            f"epoch {epoch}: loss {loss.item():.3f}, {stats['samples_per_s']:.0f} samples/s, "
            f"data-wait {stats['wait_fraction']:.0%}, workers {stats['workers']}"
        )
