"""Runs and exported models on disk and elsewhere: opening a run folder, a
``.keras`` file or an export and loading its model (:mod:`.runs`), the export
format, archives, presets' weights and fetching from URLs, ``hf://`` and
installed plugins (:mod:`.hub`, :mod:`.download`), and the size check that
refuses a config far beyond its weights (:mod:`.sizes`).

Below training and evaluation, which both open runs; imports the data, the
plugin system and the parts below them. Writing an export is
:mod:`zoo_core.sharing`, above evaluation (it draws the model card's grid).
"""
