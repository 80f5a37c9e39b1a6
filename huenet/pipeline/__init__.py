"""The DVC pipeline's own code: what its stages run beside the notebooks, and the reports they write.

* :mod:`~huenet.pipeline.launch`: stage ``train``, every run of ``train.variants`` a few at a time;
* :mod:`~huenet.pipeline.report`, :mod:`~huenet.pipeline.calibration`, :mod:`~huenet.pipeline.model_card`,
  :mod:`~huenet.pipeline.stage_times`: Table 1's files and the README's results, the calibration sweep, the model
  card, the stage times;
* :mod:`~huenet.pipeline.figures`, :mod:`~huenet.pipeline.machine`: the notebooks' figures; the machine a report
  names;
* :mod:`~huenet.pipeline.stage_deps`: the stages' code deps in ``dvc.yaml``, from their import closures.

Nothing below this layer imports it. Its tasks are sub-commands of ``huenet`` (:mod:`huenet.cli`).
"""
