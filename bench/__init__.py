"""Side-by-side performance measurements of msr-oci and its peers (curl, the oras-py SDK).

Run ``.venv/bin/python -m bench`` from the repository root; see ``docs/performance.md``.
"""
