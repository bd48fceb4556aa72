"""Redirect what the grader follows: rename the capture folders and leave links to the asset mirror
and to ``/`` in their place, swap every ZeroMQ socket of the kernel for a link, try to rename the
exchange and socket folders themselves. The grader connects through hard links only it can see,
opens captures component by component without following links, and removes its folders by
descriptor: nothing outside changes, later captures are refused, its work before counts (1/6)."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np
from _box import box_root

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% after squares-check as swap, with _box.py
import os

root = box_root()
exchange, ipc = root + '/exchange', root + '/ipc'
target = os.environ.get('COURSE_MIRROR') or '/usr'
done = []


def attempt(action, *args):
    try:
        action(*args)
        done.append(args)
    except OSError as error:
        print(action.__name__, args[-1], error)


attempt(os.rename, exchange, root + '/exchange-moved')
attempt(os.rename, ipc, root + '/ipc-moved')
attempt(os.rename, exchange + '/out', exchange + '/moved')
attempt(os.symlink, target, exchange + '/out')
attempt(os.symlink, '/', exchange + '/root')
for name in os.listdir(ipc):
    attempt(os.rename, ipc + '/' + name, ipc + '/' + name + '.moved')
    attempt(os.symlink, target, ipc + '/' + name)
print(len(done), 'changes')
