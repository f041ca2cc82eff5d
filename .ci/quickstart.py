"""Print the first shell block under '## Quick start' in a Markdown file."""

import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
section = text.split("## Quick start", 1)[1]
match = re.search(r"```(?:bash|sh|shell)?\n(.*?)```", section, re.S)
if not match:
    sys.exit("no shell block under '## Quick start'")
print(match.group(1), end="")
