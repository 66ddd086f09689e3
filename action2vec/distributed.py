"""Runs under `torchrun` (torch.distributed): gloo on CPU, NCCL on GPU; one process otherwise.

Only what the stages need: who am I (rank, world size), a broadcast from rank 0 and a gather to
every rank. Without torchrun's environment everything is a no-op in one process.
"""

import os

import torch
import torch.distributed as dist


def setup(device="cpu"):
    """(rank, world size); joins the process group when started by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    else:  # share the machine's cores between the processes on it
        local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    return dist.get_rank(), world


def active():
    return dist.is_available() and dist.is_initialized()


def rank_and_size():
    """(rank, world size) of this process; (0, 1) outside torchrun."""
    return (dist.get_rank(), dist.get_world_size()) if active() else (0, 1)


def wrap(model, device):
    """The model in DistributedDataParallel under torchrun, else the model itself."""
    if not active():
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [torch.cuda.current_device()] if torch.device(device).type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)


def broadcast(value):
    """Rank 0's ``value`` on every rank."""
    if not active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value):
    """Every rank's ``value``, in rank order, on every rank."""
    if not active():
        return [value]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, value)
    return out


def finish():
    if active():
        dist.barrier()
        dist.destroy_process_group()
