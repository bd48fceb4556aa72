"""``python -m course_utils``: the course's command line (see ``course_utils.cli``)."""

import sys

from course_utils.cli import main

if __name__ == "__main__":
    sys.exit(main())
