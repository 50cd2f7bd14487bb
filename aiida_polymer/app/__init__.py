"""The AiiDAlab app: pages to submit a polymer, follow it, see its results and browse the database.

The pages are notebooks (``notebooks/*.ipynb`` of the repository, linked from ``start.py``), served by AiiDAlab's
appmode or by Voilà (``aiida-polymer gui``); each builds one widget of this package::

    from aiida_polymer.app import pages
    pages.new_polymer()      # or follow(), results(), database(): load the profile, read ?pk=, return the widget

What the widgets compute lives in :mod:`aiida_polymer.app.models` (pure functions, tested without a browser).
"""
