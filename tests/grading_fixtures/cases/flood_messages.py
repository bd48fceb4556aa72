"""Flood the grader with every kind of kernel message, with the parent header of the running cell:
display updates on one display id (nbclient applied each to every output with that id), comms with
binary buffers (nbclient kept every widget's state), errors with huge tracebacks, 5,000 one-character
outputs, headers of 2 MB, unknown types, ``clear_output``: about 1.5 GB in all, one kind per cell.
The grader parses only the types it reads, each within its bound, and keeps a bounded share of
outputs: its memory stays bounded (the test measures it) and the work counts (6/6)."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% after setup as flood
import time

from IPython import get_ipython
from IPython.display import display

kernel = get_ipython().kernel
session, iopub = kernel.session, kernel.iopub_socket


def send(kind, content, **more):
    session.send(iopub, kind, content, parent=kernel.get_parent(), **more)
chunk = 'x' * 1_000_000
blob = chunk.encode()


def paced(send, count, burst=10):
    """Send ``count`` messages, a burst at a time: the flood reaches the grader, not the kernel's memory."""
    for i in range(count):
        send(i)
        if i % burst == burst - 1:
            time.sleep(0.02)


def comm(i):
    content = {'comm_id': 'w', 'target_name': 'jupyter.widget', 'data': {'state': {'v': chunk[:100_000]}}}
    send('comm_open' if i == 0 else 'comm_msg', content, buffers=[blob])


def error(i):
    content = {'ename': 'E', 'evalue': chunk[:60_000], 'traceback': [chunk[:1000]] * 60}
    send('error', content)


def huge_header(i):
    header = session.msg_header('stream')
    header['pad'] = chunk + chunk
    send('stream', {'name': 'stdout', 'text': '.'}, header=header)


# %% after flood as flood_displays
handle = display('start', display_id=True)
paced(lambda i: handle.update({'text/plain': chunk}, raw=True), 400)
paced(lambda i: display({'text/plain': chunk[:300_000]}, raw=True, display_id=f'd{i}'), 100)

# %% after flood_displays as flood_comms
paced(comm, 400)

# %% after flood_comms as flood_errors
paced(error, 400)

# %% after flood_errors as flood_entries
paced(lambda i: send('stream', {'name': 'stdout', 'text': '.'}), 5000, 1000)
paced(huge_header, 30)

# %% after flood_entries as flood_unknown
paced(lambda i: send('course_unknown', {'blob': chunk}), 200)
send('clear_output', {'wait': False})

# %% replace squares-code
squares = np.arange(5) ** 2

# %% replace normalise-code
def normalise(x):
    return (x - x.mean()) / x.std()

z = normalise(np.array([1.0, 2.0, 3.0, 4.0]))

# %% replace score-code
score = 0.9
