"""DiffAugment's policy names (Zhao et al. 2020): read by the plugin's config
check and by the augmentation itself, so both import them from here, below
either (no Keras)."""

DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")
