"""What a data-parallel run's replicas share, and PyTorch's engine for it.

A data-parallel run keeps one copy of the model per device (a *replica*),
gives each its own part of every batch, and averages their gradients, so an
update is the one a single device would make on the whole batch. JAX runs one
program over the global batch (Keras' ``DataParallel``); TensorFlow runs the
train step once per replica (``tf.distribute``); PyTorch runs one process per
device, started by ``torchrun``, joined by ``torch.distributed``.

What zoo adds on every backend:

- **Noise of its own per replica** (:func:`decorrelate_seeds`). Replicas start
  from the same seed, so each ``keras.random.SeedGenerator`` would draw the
  same noise on every device: a GAN's batch of fakes would hold each latent
  vector once per device. Each replica's draws are offset by its index.
- **On PyTorch, the all-reduce** (:func:`average_gradients`): every optimizer's
  ``apply`` first averages the gradients over the processes, in one flat
  buffer per update. zoo does this itself rather than through
  ``DistributedDataParallel``: its train steps take each network's gradient
  with ``torch.autograd.grad``, which DDP's backward hooks do not see.

Batch normalisation normalises over each replica's own part of the batch, as
DDP and ``MirroredStrategy`` do by default (on PyTorch every process takes rank
0's moving statistics at the end of each epoch); so a distributed run matches
a one-device run within a tolerance, not exactly (JAX's matches exactly).

Keras and torch are imported inside functions only.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from typing import Iterator

from ..errors import Interrupted, ZooError

#: torchrun's environment: a process started without it is not one of several.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")

#: How far apart replicas' seeds are (a prime, so offsets never line up with
#: the counter a SeedGenerator advances).
SEED_STRIDE = 1_000_003


def torch_started() -> bool:
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def launched_processes() -> int:
    """How many processes ``torchrun`` started beside this one, itself included
    (1 when it did not start this one)."""
    if "TORCHELASTIC_RUN_ID" not in os.environ and not torch_started():
        return 1
    for name in ("WORLD_SIZE", "LOCAL_WORLD_SIZE"):
        try:
            return max(1, int(os.environ[name]))
        except (KeyError, ValueError):
            continue
    return 1


def refuse_torchrun(backend: str) -> None:
    """Refuse, before any work, a run that ``torchrun`` started several times
    on a backend other than PyTorch: only PyTorch joins its processes, so each
    would train the same run on its own, in the same run folder."""
    processes = launched_processes()
    if backend == "torch" or processes < 2:
        return
    engine = "TensorFlow's MirroredStrategy" if backend == "tensorflow" else "Keras' DataParallel on JAX"
    raise ZooError(
        f"this process is one of {processes} that torchrun started, but torchrun serves only --backend torch: "
        f"on {backend} each would train the same run on its own; run zoo once, without torchrun, with "
        f"--distribute data-parallel to split each batch over the devices ({engine}), or use --backend torch"
    )


def world_size() -> int:
    """Processes in this PyTorch run (1 outside torchrun)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    """This process's index among them (0 outside torchrun)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main_process(backend: str) -> bool:
    """Whether this process writes the run: every process but torchrun's
    rank 0 trains silently, in a scratch folder of its own."""
    if backend != "torch" or not torch_started():
        return True
    return int(os.environ["RANK"]) == 0


def wait_for_rank_0(backend: str) -> None:
    """PyTorch under torchrun: return once every process got here, so a
    process that trained in its scratch folder does not go on (to resume the
    run, say) before rank 0 has written the run folder."""
    if backend != "torch" or not torch_started():
        return
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


@contextlib.contextmanager
def scratch_folder(copy_of=None) -> Iterator:
    """A run folder path of this process's own (a copy of ``copy_of``'s files,
    if given), removed afterwards."""
    import shutil
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix=f"zoo-rank{os.environ.get('RANK', '')}-") as scratch:
        run = Path(scratch) / "run"
        if copy_of is not None:
            try:
                shutil.copytree(copy_of, run, ignore=shutil.ignore_patterns(".zoo-lock", "logs"))
            except OSError as exc:
                raise ZooError(f"cannot read {copy_of} to resume it: {exc}") from None
        yield run


@contextlib.contextmanager
def quiet_interruption() -> Iterator[None]:
    """On a process other than rank 0: a stop says so in a line of its own
    (rank 0's names the checkpoint; this one's scratch copy is gone)."""
    try:
        yield
    except Interrupted as exc:
        raise Interrupted(f"process {os.environ.get('RANK', '?')} stopped with the others "
                          f"(rank 0 saved the checkpoint)", exit_code=exc.exit_code) from None


@contextlib.contextmanager
def torch_process_group() -> Iterator[int]:
    """Join torchrun's processes (gloo on CPUs, NCCL on GPUs, each process on
    its own GPU); yields how many there are."""
    if not torch_started():
        raise ZooError(
            "--distribute data-parallel on PyTorch runs one process per device, started by torchrun: "
            "torchrun --nproc-per-node N $(which zoo) train ... (or use --backend jax or tensorflow, "
            "which split each batch over the devices of one process)"
        )
    import torch
    import torch.distributed as dist

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    if not dist.is_initialized():
        # Once per process, left for its exit: joining again after a
        # destroy_process_group (a second run in one process) can hang.
        dist.init_process_group("nccl" if cuda else "gloo")
        atexit.register(dist.destroy_process_group)
    yield dist.get_world_size()


def replica_index():
    """This replica's index: a tensor inside a ``tf.distribute`` replica, the
    process's rank on PyTorch, else 0."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
            return 0
        return context.replica_id_in_sync_group
    if backend == "torch":
        return rank()
    return 0  # JAX: one program over the global batch


def replica_share(loss):
    """A loss for gradients, from the mean loss of this replica's part of the
    batch: on TensorFlow under a ``tf.distribute`` strategy, divided by the
    number of replicas, because the optimizer sums the replicas' gradients
    (as Keras' own losses do). Unchanged elsewhere: JAX computes the global
    batch's loss, and zoo's PyTorch optimizers average over the processes.

    A model that overrides ``compute_loss`` returns ``replica_share(loss)``;
    a :class:`~zoo_core.multinet.MultiNetworkModel` need not (the core's
    train step does it)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas == 1:
        return loss
    if isinstance(loss, dict):
        return {name: value / replicas for name, value in loss.items()}
    return loss / replicas


def decorrelate_seeds(model) -> None:
    """Offset every draw of the model's seed generators by the replica's
    index (the generators' state stays the same on every replica, so a
    checkpoint is too)."""
    from keras import ops

    generators = {}
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for generator in getattr(layer, "_seed_generators", []):
            generators[id(generator)] = generator
    for generator in generators.values():
        draw = generator.next

        def next_for_replica(ordered=True, _draw=draw):
            seed = _draw(ordered=ordered)
            offset = ops.cast(replica_index(), seed.dtype) * ops.cast(SEED_STRIDE, seed.dtype)
            return seed + ops.cast(ops.stack([offset, ops.zeros_like(offset)]), seed.dtype)

        generator.next = next_for_replica


def average_gradients(model) -> None:
    """PyTorch: make every optimizer of the model average its gradients over
    the processes before it applies them."""
    optimizer = model.optimizer
    for each in getattr(optimizer, "optimizers", None) or [optimizer]:
        apply = each.apply

        def apply_averaged(grads, trainable_variables=None, _apply=apply):
            return _apply(all_reduce_mean(grads), trainable_variables)

        each.apply = apply_averaged


def all_reduce_mean(grads):
    """The processes' mean of each gradient (None stays None: it is None on every process)."""
    import torch
    import torch.distributed as dist

    grads = list(grads)
    present = [i for i, g in enumerate(grads) if g is not None]
    if not present:
        return grads
    flat = torch.cat([grads[i].reshape(-1) for i in present])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    start = 0
    for i in present:
        n = grads[i].numel()
        grads[i] = flat[start:start + n].view_as(grads[i])
        start += n
    return grads


def prepare(model, train, backend: str) -> None:
    """Make a built, compiled model one replica of a data-parallel run."""
    if train.distribute != "data-parallel":
        return
    if backend in ("tensorflow", "torch"):
        decorrelate_seeds(model)
    if backend == "torch":
        broadcast_weights(model)
        average_gradients(model)


def batch_share(train, backend: str) -> tuple[int, int]:
    """``(this process's index, processes)`` among those that split each
    batch in the data pipeline: PyTorch's under torchrun; else ``(0, 1)``
    (JAX and TensorFlow split batches inside one process)."""
    if train.distribute != "data-parallel" or backend != "torch":
        return 0, 1
    return rank(), world_size()


def shard(values, batch: int, index: int, count: int):
    """Process ``index``'s part of every batch of ``values`` (an epoch's order
    or flips), batch by batch: ``batch // count`` of each full batch; of the
    last, short one an equal share, so the last few (at most count - 1)
    values of the epoch's order are left out of that epoch."""
    import numpy as np

    if count == 1:
        return values
    values = np.asarray(values)
    full = len(values) // batch * batch
    head = values[:full].reshape(-1, count, batch // count)[:, index].reshape(-1)
    tail = values[full:]
    share = len(tail) // count
    return np.concatenate([head, tail[index * share:(index + 1) * share]])


def broadcast_weights(model) -> None:
    """PyTorch: every process starts from rank 0's weights and optimizer state."""
    optimizer = getattr(model, "optimizer", None)
    _from_rank_0(list(model.variables) + (list(optimizer.variables) if optimizer is not None else []))


def share_statistics(model) -> None:
    """PyTorch: every process takes rank 0's non-trainable state (batch norm's
    moving statistics, which each process gathers from its own part of the
    data), as DDP's ``broadcast_buffers`` does: at the end of each epoch, so
    validation, the checkpoint and a resumed run all see the same statistics."""
    _from_rank_0(model.non_trainable_variables)


def _from_rank_0(variables) -> None:
    import torch.distributed as dist

    for variable in variables:
        dist.broadcast(variable.value.data, 0)


def _all_reduced(values: list, dtype, op=None) -> list:
    """``values`` all-reduced over the processes (sum, or ``op``), in one call,
    on the device the process group communicates from."""
    import torch
    import torch.distributed as dist

    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    tensor = torch.tensor(values, dtype=dtype, device=device)
    dist.all_reduce(tensor, op=op or dist.ReduceOp.SUM)
    return tensor.tolist()


def any_process(flags: list) -> list:
    """PyTorch: each flag as any process has it (one all-reduce)."""
    import torch
    import torch.distributed as dist

    return [bool(v) for v in _all_reduced([float(bool(f)) for f in flags], torch.float32, dist.ReduceOp.MAX)]


def mean_logs(logs: dict) -> dict:
    """PyTorch: the processes' mean of each logged number (each process's logs
    are over its own part of the data; equal parts make their mean the whole's)."""
    import torch
    import torch.distributed as dist

    names = sorted(logs)
    sums = _all_reduced([float(logs[k]) for k in names], torch.float64)
    return {name: total / dist.get_world_size() for name, total in zip(names, sums)}
