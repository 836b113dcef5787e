"""Launch links for the assignment notebooks: a Sphinx extension of the course site.

Every chapter page links its assignment with ``{download}`... <../notebooks/NN_slug/NN_slug.ipynb>```.
When ``_config.yml`` names the course repository (``repository.url``, ``repository.branch``), this
extension puts after each such link the links that open the release notebook (never a solution)
in JupyterHub (through nbgitpuller, when ``launch_buttons.jupyterhub_url`` is set), Binder and
Colab, and it switches on the theme's repository and "edit this page" buttons (which need the
URL), and the theme's launch buttons. Without a repository URL (an offline build) the page
keeps the download link alone.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlparse

from docutils import nodes
from sphinx.addnodes import download_reference

RELEASE = re.compile(r"(?:^|/)(notebooks/(\d\d_[a-z0-9_]+)/\2\.ipynb)$")


def launch_urls(repository: str, branch: str, path: str, buttons: dict) -> dict:
    """{service: URL} opening ``path`` of the repository at ``branch``."""
    owner_repo = urlparse(repository).path.strip("/").removesuffix(".git")
    name = owner_repo.rsplit("/", 1)[-1]
    urls = {}
    if buttons.get("jupyterhub_url"):
        hub = buttons["jupyterhub_url"].rstrip("/")
        urls["JupyterHub"] = (f"{hub}/hub/user-redirect/git-pull?repo={quote(repository, safe='')}"
                              f"&branch={quote(branch)}&urlpath={quote(f'lab/tree/{name}/{path}', safe='')}")
    if buttons.get("binderhub_url") and "github.com" in repository:
        binder = buttons["binderhub_url"].rstrip("/")
        urls["Binder"] = f"{binder}/v2/gh/{owner_repo}/{quote(branch)}?labpath={quote(path, safe='')}"
    if buttons.get("colab_url") and "github.com" in repository:
        colab = buttons["colab_url"].rstrip("/")
        urls["Colab"] = f"{colab}/github/{owner_repo}/blob/{quote(branch)}/{path}"
    return urls


def add_launch_links(app, doctree, docname) -> None:
    options = app.config.html_theme_options
    repository = options.get("repository_url") or ""
    if not repository:
        return
    branch = options.get("repository_branch") or "main"
    buttons = options.get("launch_buttons") or {}
    for reference in list(doctree.findall(download_reference)):
        match = RELEASE.search(reference.get("reftarget", ""))
        if not match:
            continue
        urls = launch_urls(repository, branch, match.group(1), buttons)
        if not urls:
            continue
        links = [nodes.Text(" (open it in ")]
        for i, (service, url) in enumerate(urls.items()):
            if i:
                links.append(nodes.Text(", "))
            links.append(nodes.reference(service, service, refuri=url, classes=["launch-link"]))
        links.append(nodes.Text(")"))
        parent = reference.parent
        index = parent.index(reference)
        for offset, node in enumerate(links, 1):
            parent.insert(index + offset, node)


def enable_repository_buttons(app, config) -> None:
    """The theme's repository, edit and launch buttons exactly when the repository is named
    (the theme cannot make them without it)."""
    options = config.html_theme_options
    named = bool(options.get("repository_url"))
    options["use_repository_button"] = named
    options["use_edit_page_button"] = named
    if not named:
        options["launch_buttons"] = {}


def setup(app):
    app.connect("config-inited", enable_repository_buttons)
    app.connect("doctree-resolved", add_launch_links)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
