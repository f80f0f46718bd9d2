"""Realistic faulty servers: does the suite catch bugs nobody told it about?

Each server in :mod:`.servers` is the conformant base app (:mod:`._base`, a copy of
``tests/servers/seed_app.py`` with hook points and the list of conversations) with ONE
habit of a real backend, storage layer or piece of middleware. :mod:`.measure` runs the
suite's default run against each of them on a few seeds and prints what it caught;
``tests/test_realistic_servers_smoke.py`` shows that each server really has its habit.
Nothing here imports the suite's checks, its emulator or its fault catalogue.
"""
