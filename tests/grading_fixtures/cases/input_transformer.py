"""Rewrite the grader's capture cells with an IPython input transformer so that each captures the
expected value, the hidden check's included. A capture runs in the student's kernel: what it captures
is whatever the kernel makes it, so this earns exactly what typing the same values earns
(``typed_literals``: the fixture lesson's checks only compare values, 6/6) and nothing more."""

# %% context: what IPython defines in the kernel (for the linter; never part of a submission)
from IPython import get_ipython

# isort: split

# %% after setup as transformer
ANSWERS = {
    'lambda: squares)': 'lambda: __import__("numpy").array([0, 1, 4, 9, 16]))',
    'lambda: z)': 'lambda: __import__("numpy").array([-1.34164079, -0.4472136, 0.4472136, 1.34164079]))',
    'lambda: normalise(np.array([10.0, 0.0, 5.0])))':
        'lambda: __import__("numpy").array([1.22474487, -1.22474487, 0.0]))',
    'lambda: score)': 'lambda: 0.9)',
}


def rewrite(lines):
    out = []
    for line in lines:
        for expression, answer in ANSWERS.items():
            line = line.replace(expression, answer)
        out.append(line)
    return out


get_ipython().input_transformers_post.append(rewrite)
