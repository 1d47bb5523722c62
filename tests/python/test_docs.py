"""Runs every ```python block of docs/python.md, in order, in one namespace (so the walkthrough
cannot rot), from the repository root as the document assumes."""
import contextlib
import io
import os
import re
import unittest

from helpers import SOURCE_DIR


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.M | re.S)


class Walkthrough(unittest.TestCase):
    def test_every_block_runs(self):
        blocks = python_blocks((SOURCE_DIR / "docs/python.md").read_text())
        self.assertGreaterEqual(len(blocks), 4)
        namespace: dict = {}
        cwd = os.getcwd()
        os.chdir(SOURCE_DIR)
        try:
            for i, block in enumerate(blocks):
                printed = io.StringIO()
                with self.subTest(block=i), contextlib.redirect_stdout(printed):
                    exec(compile(block, f"docs/python.md block {i + 1}", "exec"), namespace)
                print(printed.getvalue(), end="")  # shown by ctest -V: the walkthrough's output
        finally:
            os.chdir(cwd)


if __name__ == "__main__":
    unittest.main()
