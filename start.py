"""AiiDAlab's start banner of the app: links to its pages (the notebooks under notebooks/)."""

import ipywidgets as ipw

PAGES = (("new_polymer", "New polymer", "submit a repeat unit"), ("follow", "Follow", "a running job"),
         ("results", "Results", "property table, plots, provenance"), ("database", "Database", "campaigns, all "
                                                                                              "polymers, Pareto"))


def get_start_widget(appbase, jupbase, notebase):
    links = "".join(f"<li><a href='{appbase}/notebooks/{name}.ipynb' target='_blank'>{title}</a>: {what}</li>"
                    for name, title, what in PAGES)
    return ipw.HTML(f"<h3>aiida-polymer</h3><p>Polymer properties by all-atom MD (RadonPy protocol).</p>"
                    f"<ul>{links}</ul>")
