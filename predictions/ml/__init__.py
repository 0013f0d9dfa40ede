"""Disparity models for the platform, in plain Python (no Django): the worker calls ``suite``.

Modules, in the order data flows through them:

* ``reference_table``: the feature-table snapshot built from the shared public CSVs (tests, benchmark, spec).
* ``targets``: what can be predicted, which columns each target forbids, reliability of small districts.
* ``features``: feature groups with their defaults, engineered features, ``build_xy``.
* ``spatial``: leave-self-out neighbour features of known outcomes, learned inside ``fit``.
* ``mlp``, ``estimators``: the five algorithms (``make_estimator``).
* ``evaluation``, ``conformal``: grouped and K-fold cross-validation, baselines, 90 % conformal intervals.
* ``explanation``: Shapley top factors per district.
* ``artifacts``: save / load (joblib + tensors-only torch state, SHA-256 checked).
* ``suite``: ``train_suite``, ``predict_table``, ``explain_table``, ``predict_members``.
"""
