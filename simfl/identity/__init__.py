"""Run identity: what makes two runs the same (:mod:`~simfl.identity.runid`, a digest of the
resolved config) and which versions of the user's files a run used (:mod:`~simfl.identity.fingerprint`,
over :mod:`~simfl.identity.filedigest`). Runs, sweeps and results all rely on it, so it sits below them.
"""
