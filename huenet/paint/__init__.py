"""Painting photos: the transfer API and the registry of methods behind ``huenet transfer``.

* :mod:`~huenet.paint.api`: ``huenet.transfer``, ``painter``, ``transfer_folder``;
* :mod:`~huenet.paint.methods`: the one registry of methods (Hue-Net and the baselines) and its model cache;
* :mod:`~huenet.paint.images`: reading images and colours, the size limits;
* :mod:`~huenet.paint.translations`, :mod:`~huenet.paint.upsample`, :mod:`~huenet.paint.lift_kernels`: a network run
  at its working size, averaged over shifts, its change lifted to full resolution (``docs/full_resolution.md``);
* :mod:`~huenet.paint.blend`, :mod:`~huenet.paint.lut`: strength and masks; 3D LUTs in ``.cube`` files;
* :mod:`~huenet.paint.work_size`, :mod:`~huenet.paint.shipped`: the working size's rule; the weights the package
  ships (``weights/``).

This package imports none of its modules, so that Table 1's scoring, which uses the registry, runs no photo code.
"""
