"""The model registry: manifests, flavors (how a model is saved and loaded), signatures and
the registry service. Import the submodules; this package imports nothing heavy."""
