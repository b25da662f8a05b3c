"""Governance: signed revisions, approvals per stage, policies and the deploy gate.

Pure building blocks over ``oci/`` and ``revision/``: sigstore bundles (through the OpenSSF
``model-signing`` package), in-toto statements, the policy model and its evaluation, the signed
policy artifact, the local trust pins and the audit timeline. ``registry/governance.py`` drives them
against a registry. Nothing here imports ``model_signing`` at import time (CLI start-up stays fast).
"""
