"""Training: Hue-Net's GAN (:mod:`~huenet.training.train`), the resumable seeded loop it shares with the colour GAN
(:mod:`~huenet.training.loop`), data-parallel ranks under ``torchrun`` (:mod:`~huenet.training.distributed`), a
stage's settings from ``params.yaml`` (:mod:`~huenet.training.params`) and the code digest that is part of a run's
identity (:mod:`~huenet.training.code`).

This package imports none of its modules, so that a run's code digest covers only what the run imports.
"""
