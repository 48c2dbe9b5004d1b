"""One run on many processes: data-parallel SGD on torch.distributed (issue 21).

The pieces, each small:

- ``spec``: the flags (``nproc``, ``allreduce``, ``local_steps``, ``dtype``) and their checks;
- ``env``: is this process a worker (``RANK``/``WORLD_SIZE`` set by ``torchrun`` or by our own
  launcher)? joins the process group (gloo on CPU, nccl on CUDA) with a timeout;
- ``data_parallel``: the training loop's problem on one rank (the global batch's shard, the
  gradient averaged by DDP or by a hand-written ``all_reduce``, or local SGD's periodic average);
- ``launch`` and ``worker``: ``--nproc N`` outside ``torchrun`` starts N local processes that set
  the same environment variables ``torchrun`` sets, watches them and reports a dead rank;
- ``reference``: the chunked single-process reference (same shards, same summation order);
- ``scaling``: the study ``sgdlab scaling``.

Nothing here names a problem: a problem's ``run`` calls the hooks in ``hooks`` with its model,
loss function, data tensors and optimizer.
"""
