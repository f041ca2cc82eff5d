"""Training: everything between a resolved run and its run folder.

- :mod:`.loop`: ``train_run``, the epoch loop, the run folder; :mod:`.resume`:
  ``resume_run`` (``zoo train --resume``).
- :mod:`.callbacks`: what runs between batches (NaN guard, signals, grids).
- :mod:`.checkpoints`: crash-safe checkpoints; :mod:`.state`: the random and
  metric state they carry, and each epoch's data order.
- :mod:`.feeding`: each epoch's batches, through the backend's own pipeline.
- :mod:`.devices`: devices, precision, compile settings, data parallelism.
- :mod:`.multinet`, :mod:`.phases` and :mod:`.steps`: models with several
  networks and optimizers, declared once; the per-backend train steps (one
  file per backend, the only backend-specific training code in zoo);
  :mod:`.optimizers`, :mod:`.precision`, :mod:`.legacy`: their helpers.

Importing this package never imports Keras or a backend; its functions do.
"""

from .loop import (  # noqa: F401  (the package's API)
    CONFIG_FILE,
    METRICS_FILE,
    MODEL_FILE,
    TrainingDiverged,
    TrainResult,
    build_model,
    check_dataset,
    check_run_dir,
    compile_model,
    default_run_dir,
    format_logs,
    load_checkpoint_weights,
    load_data,
    make_optimizer,
    prepare_run_dir,
    train_run,
    write_metrics_csv,
    write_toml,
)
from .resume import resume_run  # noqa: F401,E402
from .listeners import RunListener, StopTraining  # noqa: F401,E402
from .state import epoch_order, random_state_variables, read_random_states, restore_random_states  # noqa: F401,E402
