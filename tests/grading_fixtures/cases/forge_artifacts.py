"""Forge the artifacts of checks: pre-fill future capture folders, rewrite past ones. Captures overwrite
forged files and copies are taken right after each capture: 0."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import os
import re

from _writable import writable_dirs

# isort: split

# %% after setup as forge, with _writable.py
import json

import numpy as np


def forge(folder):
    os.makedirs(folder, exist_ok=True)
    values = {'squares': np.arange(5) ** 2, 'score': 0.9,
              'z': (np.array([1.0, 2, 3, 4]) - 2.5) / np.array([1.0, 2, 3, 4]).std()}
    manifest = {}
    for name, value in values.items():
        if name == 'score':
            open(os.path.join(folder, 'score.json'), 'w').write('0.9')
            manifest[name] = {'kind': 'json', 'file': 'score.json'}
        else:
            np.save(os.path.join(folder, name + '.npy'), value)
            manifest[name] = {'kind': 'npy', 'file': name + '.npy'}
    open(os.path.join(folder, 'manifest.json'), 'w').write(json.dumps(manifest))
def forge_everywhere():
    likely = [d for d in writable_dirs() if d.endswith(('/out', '/exchange', '/ipc'))]
    for folder in likely[:20]:
        for step in range(12):
            try:
                forge(os.path.join(folder, 'out', f'step{step}'))
                forge(os.path.join(folder, f'step{step}'))
            except OSError:
                pass
    for cell in globals().get('In', []):
        for folder in re.findall(r"'(/[^']*?/step\d+)'", cell):
            try:
                forge(folder)
            except OSError:
                pass
forge_everywhere()

# %% after score-check as forge-again
forge_everywhere()
