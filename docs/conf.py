"""Sphinx configuration of the documentation site (``python -m scripts.docs`` builds it into ``site/``).

Sphinx with MyST: the pages are the Markdown in ``docs/`` as it reads on GitHub; the build runs with
warnings as errors, so a link to a page or a heading anchor that does not exist, or a page in no table of
contents, fails it (tests/docs/test_docs_site.py). Furo: a maintained, readable theme with search.
"""

project = "simserve"
author = "the simserve maintainers"
extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]
myst_heading_anchors = 3  # `page.md#a-heading` links resolve to headings down to ###
myst_enable_extensions = ["colon_fence"]
html_theme = "furo"
html_title = "simserve"
html_static_path: list[str] = []
