"""Writing safely, below every other part: atomic files and one-line write
errors (:mod:`.files`), run-folder locks (:mod:`.locks`), new run folders
built beside their place and marked as zoo's (:mod:`.runfolder`), TensorBoard
event files (:mod:`.eventlog`), PNG grids (:mod:`.images`), and where zoo
keeps its cache and how it names checksums and remote sources
(:mod:`.sources`). Imports nothing of zoo's but :mod:`zoo_core.errors`.
"""
