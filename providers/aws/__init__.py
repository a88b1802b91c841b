"""AWS plumbing shared by the SageMaker provider: credentials, SigV4 signing, event streams, and
the SageMaker runtime's payload formats and error shapes. botocore is imported lazily inside the
functions that need it (the ``aws`` extra)."""
