"""One kernel message of 200 frames of 4 MB (800 MB; ZeroMQ bounds each frame, never their number,
and holds a whole message before anyone can look at it). The grader's reader of the kernel runs in
its own process with its own memory limit: the message is dropped there (or, should that process
run out, it stops with the sandbox); the grader's own memory and the rest of the run are untouched.
Its work counts (1/6)."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% replace squares-code
squares = np.arange(5) ** 2

# %% after squares-check as multipart
import time

from IPython import get_ipython

kernel = get_ipython().kernel
message = kernel.session.msg('comm_msg', {'comm_id': 'w', 'data': {}}, parent=kernel.get_parent())
frame = b'x' * 4_000_000
kernel.iopub_socket.send_multipart(kernel.session.serialize(message) + [frame] * 200, copy=False)
time.sleep(3)
