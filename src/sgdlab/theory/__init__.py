"""Theory beside practice, one implementation for every problem.

* ``curvature``: the training loss's Hessian through Hessian-vector products: its top eigenvalues
  by Lanczos (SciPy's ``eigsh``), warm-started, chunked over the data; Hutchinson's trace; the
  largest stable full-batch learning rate 2 / lambda_max.
* ``noise``: the gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. 2018), exact
  from per-example gradients and by the two-batch estimator.

A problem hands theory its parameters and closures that compute its loss (``Objective``); theory
never imports a problem package. Each module imports torch itself, so ``import sgdlab.theory`` is free.
"""
