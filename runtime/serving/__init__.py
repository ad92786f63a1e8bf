"""Serving: the Triton server in front of the pipeline, its protocol and client, Triton repositories."""
