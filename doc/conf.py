"""Sphinx configuration: numpydoc API reference and a sphinx-gallery of examples/.

Build with ``python -m sphinx -W --keep-going -b html doc doc/_build/html``.
"""

import os
import warnings
from pathlib import Path

# The gallery runs the examples with the backend a user would get, with JAX's
# compilations cached on disk as in the test suite, and without a display.
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    str(Path.home() / ".cache" / "sklearn_lstm_reshape" / "jax"),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

import sklearn_lstm_reshape

project = "sklearn-lstm-reshape"
copyright = "sklearn-lstm-reshape contributors"
release = sklearn_lstm_reshape.__version__
version = release.split(".dev")[0]

extensions = [
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "**.md5"]
root_doc = "index"
default_role = "literal"

# API reference: one page per public name, written by autosummary.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Fail the build on a parameter that is undocumented, unknown or misordered,
# a public name without a docstring, or a summary that is not a sentence.
numpydoc_validation_checks = {"PR01", "PR02", "PR03", "PR10", "GL08", "RT01", "SS03"}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "ignore_pattern": r"__init__\.py",
    "doc_module": ("sklearn_lstm_reshape",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sklearn_lstm_reshape": None},
    "download_all_examples": False,
    "remove_config_comments": True,
    # Each example runs in a fresh namespace; fail the build when one fails.
    "abort_on_example_error": True,
    "run_stale_examples": False,
}

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-lstm-reshape {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_show_sourcelink = False


# Methods inherited from scikit-learn's base classes refer to labels of
# scikit-learn's documentation; link those to its pages (the build is offline,
# so there is no intersphinx inventory to resolve them).
SKLEARN_DOCS = "https://scikit-learn.org/stable/"
SKLEARN_LABELS = {
    "metadata_routing": "metadata_routing.html",
    "df_output_transform": "auto_examples/miscellaneous/plot_set_output.html",
    "sphx_glr_auto_examples_miscellaneous_plot_set_output.py": (
        "auto_examples/miscellaneous/plot_set_output.html"
    ),
}


def link_sklearn_labels(app, env, node, contnode):
    page = SKLEARN_LABELS.get(node.get("reftarget"))
    if node.get("refdomain") != "std" or page is None:
        return None
    from docutils import nodes

    reference = nodes.reference("", "", internal=False, refuri=SKLEARN_DOCS + page)
    reference += contnode
    return reference


def setup(app):
    app.connect("missing-reference", link_sklearn_labels)


# Keras's own warnings are not ours to fix; do not let them fail a -W build.
warnings.filterwarnings("ignore", category=DeprecationWarning, module="keras")
warnings.filterwarnings("ignore", category=DeprecationWarning, module="jax")
