"""The fraud demo: synthetic card transactions with fraud patterns, point-in-time features,
and a pipeline that trains, evaluates, registers, promotes and batch-scores a model.

``dockyard demo`` runs all of it; :func:`dockyard.demo.generate.generate` and
:func:`dockyard.demo.features.build_features` are usable on their own.
"""
