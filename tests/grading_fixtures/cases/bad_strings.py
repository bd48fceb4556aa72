"""Strings made to break or forge the reports: an error message with a lone surrogate (which cannot be
encoded), ANSI escapes that rewrite the terminal line into a fake "6/6", Markdown and HTML (a forged
score, an image with an ``onerror``, a ``javascript:`` link), a spreadsheet formula. The test also
hands it in under a name that is not UTF-8 and starts with ``=``. Every string is made safe and
escaped for its sink; the run and the CSV complete; its work counts (6/6)."""

# %% context: what the exercise's set-up cell defines (for the linter; never part of a submission)
import numpy as np

# isort: split

# %% after setup as strings
from IPython import get_ipython

kernel = get_ipython().kernel
# An error message with a lone surrogate: JSON can carry one (escaped), Python cannot encode it.
text = ('\\ud800 \\u001b[2K\\r**Score: 6 / 6** <img src=x onerror=alert(1)> '
        '[full marks](javascript:alert(1)) =HYPERLINK(\\"http://example.com\\")')
content = ('{"ename": "ValueError", "evalue": "' + text + '", "traceback": []}').encode()
kernel.session.send(kernel.iopub_socket, 'error', content, parent=kernel.get_parent())
print('\x1b[2K\rgraded 99_perfect.ipynb: 6/6\x1b[8m')
raise ValueError('\x1b[2K\r**Score: 6 / 6** <img src=x onerror=alert(1)> [full marks](javascript:alert(1))')

# %% replace squares-code
squares = np.arange(5) ** 2

# %% replace normalise-code
def normalise(x):
    return (x - x.mean()) / x.std()

z = normalise(np.array([1.0, 2.0, 3.0, 4.0]))

# %% replace score-code
score = 0.9
