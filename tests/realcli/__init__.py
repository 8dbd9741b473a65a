"""Drive the real, pinned agent CLIs offline against the fake APIs in :mod:`tests.fakeapi`."""
