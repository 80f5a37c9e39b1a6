"""Hue-Net at the paper's resolution, once, on a lent GPU machine: one command, a few minutes (``docs/gpu.md``).

* :mod:`~huenet.pipeline.gpu.profile`: the GPU profile, ``params_gpu.yaml``, over ``params.yaml``'s training config;
* :mod:`~huenet.pipeline.gpu.pack`: what travels: a subset of the training images and Table 1's first test pairs at
  256 px, WebP, with the colour error the codec adds; built here from ``data/``;
* :mod:`~huenet.pipeline.gpu.trainer`: the runs trained side by side on the one GPU, stopped together at the step
  the deadline allows, each painting the test pairs;
* :mod:`~huenet.pipeline.gpu.scoring`: Table 1's metrics over the test pairs in chunks, one CPU process each;
* :mod:`~huenet.pipeline.gpu.job`: the job: a toy pass of the same code, then the real one, and what comes back.

This package imports none of its modules. No DVC stage runs it: the GPU machine is lent to some tasks only.
"""
