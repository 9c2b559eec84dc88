"""Uploads: the artist's files sent to the farm's storage, only what is missing, in parts.

`manifest` resolves what an upload node lists into files; `hashing` gives each file its
content hash (cached by path, size and mtime); `destinations` speaks to a directory or an
S3-compatible bucket; `transfer` moves what is missing in parallel parts, resuming from the
parts a `ledger` says are stored; `daemon` is `storm uploader`.
"""
