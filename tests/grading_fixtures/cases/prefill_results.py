"""Pre-fill the check results, plant FIFOs and links where the grader might read or write, crash the
kernel: results files are created exclusively in an unseen folder, FIFOs and links refused: 0, no hang."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import os

from _writable import writable_dirs

# isort: split

# %% after setup as prefill, with _writable.py
import json

lines = ''.join(json.dumps({'key': k, 'points': 99, 'message': ''}) + '\n'
                for k in ('99.squares', '99.normalise', '99.normalise_hidden', '99.accuracy'))
for folder in writable_dirs():
    for name in ('results.jsonl', 'out/results.jsonl'):
        try:
            os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)
            open(os.path.join(folder, name), 'a').write(lines)
        except OSError:
            pass
    for name in ('job.json', 'kernel.json.fifo', 'worker.log'):
        try:
            os.mkfifo(os.path.join(folder, name))
        except OSError:
            pass
    for step in range(12):  # FIFOs where a capture would put an artifact file
        try:
            os.makedirs(os.path.join(folder, 'out', f'step{step}'), exist_ok=True)
            os.mkfifo(os.path.join(folder, 'out', f'step{step}', 'squares.npy'))
            os.symlink('/etc/passwd', os.path.join(folder, 'out', f'step{step}', 'z.npy'))
        except OSError:
            pass

# %% replace score-code
import os

os._exit(1)
